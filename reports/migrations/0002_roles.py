"""Who may read and write conclusions. Analysts assess and issue reports; issued reports are never deleted."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "monitor": ["view_assessment", "view_report"],
    "reviewer": ["view_assessment", "view_report"],
    "analyst": ["view_assessment", "add_assessment", "change_assessment", "view_report", "add_report"],
    "admin": [
        "view_assessment",
        "add_assessment",
        "change_assessment",
        "delete_assessment",
        "view_report",
        "add_report",
    ],
}


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        found = list(Permission.objects.filter(content_type__app_label="reports", codename__in=codenames))
        missing = set(codenames) - {p.codename for p in found}
        if missing:
            raise RuntimeError(f"Role {name}: permissions not found: {sorted(missing)}")
        group.permissions.add(*found)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(content_type__app_label="reports")
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.remove(*perms)


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_initial"),
        ("agreements", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
