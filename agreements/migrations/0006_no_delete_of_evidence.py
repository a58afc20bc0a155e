"""Nobody deletes evidence or the reference it is judged against: they are retired with a reason instead
(agreements.models.base.Retirable). The admin role loses delete on them; actors, places, agreements and aliases keep
it (they are protected while anything refers to them)."""

from django.db import migrations

RETIRED_NOT_DELETED = ["source", "violationsource", "patrol", "routestatus", "controlchange", "zone", "clause"]


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    codenames = [f"delete_{model}" for model in RETIRED_NOT_DELETED]
    perms = Permission.objects.filter(content_type__app_label="agreements", codename__in=codenames)
    for group in Group.objects.all():
        group.permissions.remove(*perms)


def restore(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    codenames = [f"delete_{model}" for model in RETIRED_NOT_DELETED]
    perms = Permission.objects.filter(content_type__app_label="agreements", codename__in=codenames)
    admin = Group.objects.filter(name="admin").first()
    if admin is not None:
        admin.permissions.add(*perms)


class Migration(migrations.Migration):
    dependencies = [("agreements", "0005_retire_and_versions")]

    operations = [migrations.RunPython(revoke, restore)]
