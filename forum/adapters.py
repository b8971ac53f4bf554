"""How django-allauth fits this site: names and HTML parts in its emails."""

from types import SimpleNamespace

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.template.loader import render_to_string


class AccountAdapter(DefaultAccountAdapter):
    def render_mail(self, template_prefix, email, context, headers=None):
        request = context.get("request")
        context["current_site"] = SimpleNamespace(
            name=settings.SITE_NAME, domain=request.get_host() if request else ""
        )
        context.setdefault("site_name", settings.SITE_NAME)
        message = super().render_mail(template_prefix, email, context, headers)
        if not getattr(message, "alternatives", None):
            # Every mail gets an HTML part made from its text part, so the wording of
            # each message lives in one (text) template.
            html = render_to_string(
                "emails/wrapper.html",
                {"subject": message.subject, "body": message.body, "site_name": settings.SITE_NAME},
            )
            message.attach_alternative(html, "text/html")
        return message


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Social sign-in follows the same rules: the email address must be verified."""
