"""Every role may read a violation's review log (who verified, disputed, rejected or reopened it, when, why).

Nobody is given add/change/delete on it: review steps are written only by agreements/workflow.py.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = ["monitor", "reviewer", "analyst", "admin"]
CODENAMES = ["view_violationreview"]


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations run; this migration needs them now (as 0002 does).
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    found = list(Permission.objects.filter(content_type__app_label="agreements", codename__in=CODENAMES))
    missing = set(CODENAMES) - {p.codename for p in found}
    if missing:
        raise RuntimeError(f"Permissions not found: {sorted(missing)}")
    for name in ROLES:
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*found)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    found = Permission.objects.filter(content_type__app_label="agreements", codename__in=CODENAMES)
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.remove(*found)


class Migration(migrations.Migration):
    dependencies = [
        ("agreements", "0003_review_log_archive_merge"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
