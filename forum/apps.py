from django.apps import AppConfig


class ForumConfig(AppConfig):
    name = "forum"
    verbose_name = "Discussion"

    def ready(self):
        from forum import receivers  # noqa: F401  (what the discussion does when accounts change)
