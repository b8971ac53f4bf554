from django.apps import AppConfig, apps
from django.db.models.signals import post_delete, post_save


class ForumConfig(AppConfig):
    name = "forum"
    verbose_name = "Discussion"

    def ready(self):
        from forum import receivers
        from forum.models import Comment, Vote

        # Cached pages of a section go stale whenever one of its comments or votes is
        # saved or deleted, however that happens (a method, the admin, a cascade), proxy
        # models included: a signal's sender is the proxy class itself.
        for model in apps.get_models():
            if issubclass(model, Comment):
                handler = receivers.comment_changed
            elif issubclass(model, Vote):
                handler = receivers.vote_changed
            else:
                continue
            post_save.connect(handler, sender=model, dispatch_uid=f"saved-{model}")
            post_delete.connect(handler, sender=model, dispatch_uid=f"deleted-{model}")
