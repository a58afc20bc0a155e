"""The four roles as groups with model permissions. The API and the review workflow build object-level rules on
top of these (a monitor edits only their own unverified violations; a reviewer never verifies their own)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

RECORD = ["actor", "actoralias", "agreement", "agreementparty", "clause", "zone", "place", "placealias"]
EVENTS = ["violation", "source", "violationsource", "patrol", "routestatus", "controlchange"]
ALL = RECORD + EVENTS


def perms(actions, models):
    return [f"{action}_{model}" for model in models for action in actions]


ROLES = {
    # Enter and edit what happened; add the places and sources an entry needs. Never delete.
    "monitor": perms(["view"], ALL) + perms(["add", "change"], EVENTS + ["place", "placealias"]),
    # A monitor who may also judge others' entries.
    "reviewer": perms(["view"], ALL)
    + perms(["add", "change"], EVENTS + ["place", "placealias"])
    + ["review_violation", "retract_violation"],
    # Read and export.
    "analyst": perms(["view"], ALL),
    # Keeps the reference data (agreements, clauses, zones, actors) and can do what the others do.
    # Deleting a violation is given to nobody: violations are retracted.
    "admin": perms(["view", "add", "change"], ALL)
    + perms(["delete"], [m for m in ALL if m != "violation"])
    + ["review_violation", "retract_violation"],
}


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations run; this migration needs them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        found = list(Permission.objects.filter(content_type__app_label="agreements", codename__in=codenames))
        missing = set(codenames) - {p.codename for p in found}
        if missing:
            raise RuntimeError(f"Role {name}: permissions not found: {sorted(missing)}")
        group.permissions.add(*found)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("agreements", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
