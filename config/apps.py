from django.contrib.admin import apps as admin_apps


class AdminConfig(admin_apps.AdminConfig):
    """The Django admin with the site's own AdminSite (see config.admin_site), and the
    project's deployment checks registered with it."""

    default_site = "config.admin_site.ForumAdminSite"

    def ready(self):
        super().ready()
        from config import checks  # noqa: F401  (registers the deployment checks)
