"""A "Moderators" group with exactly what moderation needs, and nothing else: no user
accounts, passwords or permissions, no essay text."""

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.models import Q

# (app label, codename): the discussion's moderation, and suspending members.
MODERATOR_PERMISSIONS = [
    ("accounts", "view_ban"),
    ("accounts", "add_ban"),
    ("accounts", "change_ban"),
    ("forum", "view_comment"),
    ("forum", "change_comment"),
    ("forum", "moderate_comment"),
    ("forum", "view_commentrevision"),
    ("forum", "view_reviewitem"),
    ("forum", "change_reviewitem"),
    ("forum", "view_report"),
    ("forum", "change_report"),
    ("forum", "view_moderationlog"),
    ("forum", "view_moderationpolicy"),
    ("forum", "change_moderationpolicy"),
    ("forum", "view_sectiondiscussion"),
    ("forum", "change_sectiondiscussion"),
    ("forum", "view_essaydiscussion"),
    ("forum", "change_essaydiscussion"),
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
    wanted = Q()
    for app_label, codename in MODERATOR_PERMISSIONS:
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    permissions = Permission.objects.filter(wanted)
    found = set(permissions.values_list("content_type__app_label", "codename"))
    missing = set(MODERATOR_PERMISSIONS) - found
    if missing:
        raise RuntimeError(f"Permissions not found: {sorted(missing)}")
    group.permissions.set(permissions)


def remove_moderators(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Moderators").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("forum", "0001_initial"),
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_moderators, remove_moderators)]
