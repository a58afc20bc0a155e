"""Assessments are withdrawn with a reason (retired), never deleted: the admin role loses delete_assessment."""

from django.db import migrations


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(content_type__app_label="reports", codename="delete_assessment")
    for group in Group.objects.all():
        group.permissions.remove(*perms)


def restore(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    admin = Group.objects.filter(name="admin").first()
    if admin is not None:
        admin.permissions.add(
            *Permission.objects.filter(content_type__app_label="reports", codename="delete_assessment")
        )


class Migration(migrations.Migration):
    dependencies = [("reports", "0003_retire_and_versions")]

    operations = [migrations.RunPython(revoke, restore)]
