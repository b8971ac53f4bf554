from django.conf import settings
from django.utils.functional import SimpleLazyObject

from config.mail import where_mail_goes


def site(request):
    """The site's name, whether social sign-in is configured, and the viewer's unread
    notifications (counted only where a page shows them)."""
    from forum.models import Notification

    return {
        "site_name": settings.SITE_NAME,
        "social_sign_in_enabled": bool(settings.SOCIALACCOUNT_PROVIDERS),
        # The number on the bell, counted only where a page shows it.
        # (A view may give its own: a section's page asks the first look with a
        # member's votes.)
        "unread_notifications": SimpleLazyObject(
            lambda: Notification.objects.on_the_bell(request.user)
        ),
        # Development mode says where mail goes (the console, by default).
        "development_mail": where_mail_goes() if settings.DEBUG else "",
    }
