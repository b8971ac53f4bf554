"""An "Editors" group: the staff who edit the essays and answer comments about them
("addressed in revision N", or declined). Essays, sections and their history, and
answering comments; nothing else: no moderation, no accounts."""

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.models import Q

# (app label, codename)
EDITOR_PERMISSIONS = [
    ("essays", "view_essay"),
    ("essays", "change_essay"),
    ("essays", "view_section"),
    ("essays", "change_section"),
    ("essays", "view_sectionrevision"),
    ("essays", "view_essaychange"),
    ("forum", "answer_comment"),
]


def create_editors(apps, schema_editor):
    # Permissions are normally created after all migrations; make them exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Editors")
    wanted = Q()
    for app_label, codename in EDITOR_PERMISSIONS:
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    permissions = Permission.objects.filter(wanted)
    found = set(permissions.values_list("content_type__app_label", "codename"))
    missing = set(EDITOR_PERMISSIONS) - found
    if missing:
        raise RuntimeError(f"Permissions not found: {sorted(missing)}")
    group.permissions.set(permissions)


def remove_editors(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Editors").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("forum", "0005_comment_revision_and_answer"),
        ("essays", "0002_section_revisions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_editors, remove_editors)]
