from django.apps import AppConfig, apps
from django.db.models.signals import post_delete, post_save


class EssaysConfig(AppConfig):
    name = "essays"
    verbose_name = "Essays"

    def ready(self):
        from essays.models import Essay, Section, content_changed

        # Every model that is an essay or a section, proxies of other apps included (a
        # signal's sender is the proxy class, not the model it stands for).
        for model in apps.get_models():
            if issubclass(model, (Essay, Section)):
                post_save.connect(content_changed, sender=model, dispatch_uid=f"content-{model}")
                post_delete.connect(content_changed, sender=model, dispatch_uid=f"gone-{model}")
