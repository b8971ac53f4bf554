"""A "Moderators" group with exactly what moderation needs, and nothing else: no user
accounts, passwords or permissions, no essay text."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MODERATOR_PERMISSIONS = [
    "view_comment",
    "change_comment",
    "moderate_comment",
    "view_commentrevision",
    "view_reviewitem",
    "change_reviewitem",
    "view_report",
    "change_report",
    "view_ban",
    "add_ban",
    "change_ban",
    "view_moderationlog",
    "view_moderationpolicy",
    "change_moderationpolicy",
    "view_sectiondiscussion",
    "change_sectiondiscussion",
    "view_essaydiscussion",
    "change_essaydiscussion",
]


def create_moderators(apps, schema_editor):
    # Permissions are normally created after all migrations; make them exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Moderators")
    permissions = Permission.objects.filter(
        content_type__app_label="forum", codename__in=MODERATOR_PERMISSIONS
    )
    missing = set(MODERATOR_PERMISSIONS) - set(permissions.values_list("codename", flat=True))
    if missing:
        raise RuntimeError(f"Permissions not found: {sorted(missing)}")
    group.permissions.set(permissions)


def remove_moderators(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Moderators").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("forum", "0002_moderation"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_moderators, remove_moderators)]
