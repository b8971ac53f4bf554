"""How django-allauth fits this site: names and HTML parts in its emails."""

import re
from types import SimpleNamespace

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django import forms
from django.conf import settings
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import mark_safe

from accounts.models import mistakable


def text_to_html(text: str, host: str) -> str:
    """The text part of a mail as HTML: escaped, in paragraphs, and with links only to
    this site. Other URL-looking words (a username such as "login.example.com" that a
    stranger signed up with) stay plain text."""
    own_link = re.compile(r"https?://" + re.escape(escape(host)) + r"/[^\s<>\"']*")
    paragraphs = []
    for block in re.split(r"\n\s*\n", escape(text.strip())):
        linked = own_link.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', block)
        paragraphs.append("<p>" + linked.replace("\n", "<br>\n") + "</p>")
    return mark_safe("\n".join(paragraphs))  # noqa: S308  (escaped above)


class AccountAdapter(DefaultAccountAdapter):
    def clean_username(self, username, shallow=False):
        # Usernames are shown like display names, so they meet the same rule (they
        # hold only letters, digits and @.+-_ already, so it is about alphabets).
        username = super().clean_username(username, shallow=shallow)
        if problem := mistakable(username):
            raise forms.ValidationError(problem)
        return username

    def render_mail(self, template_prefix, email, context, headers=None):
        request = context.get("request")
        host = request.get_host() if request else ""
        context["current_site"] = SimpleNamespace(name=settings.SITE_NAME, domain=host)
        context.setdefault("site_name", settings.SITE_NAME)
        message = super().render_mail(template_prefix, email, context, headers)
        if not getattr(message, "alternatives", None):
            # Every mail gets an HTML part made from its text part, so the wording of
            # each message lives in one (text) template.
            html = render_to_string(
                "emails/wrapper.html",
                {
                    "subject": message.subject,
                    "body_html": text_to_html(message.body, host),
                    "site_name": settings.SITE_NAME,
                },
            )
            message.attach_alternative(html, "text/html")
        return message


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Social sign-in follows the same rules: the email address must be verified."""
