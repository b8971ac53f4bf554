from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ForumConfig(AppConfig):
    default = True
    name = "forum"
    verbose_name = "Forum"

    def ready(self):
        from forum import checks  # noqa: F401  (registers the deployment checks)


class ForumAdminConfig(admin_apps.AdminConfig):
    """The Django admin, with the site's own AdminSite (see forum.admin_site)."""

    default = False
    default_site = "forum.admin_site.ForumAdminSite"
