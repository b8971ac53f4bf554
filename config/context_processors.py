from django.conf import settings
from django.utils.functional import SimpleLazyObject

from config.mail import where_mail_goes


def site(request):
    """The site's name, whether social sign-in is configured, and the viewer's unread
    notifications (counted only where a page shows them)."""
    from forum.models import ANY_UNREAD, Notification

    def unread():
        if not request.user.is_authenticated:
            return 0
        # Most pages are seen with nothing new: a cheap look first, and only then the
        # count of what the rule lets them see (a query on the comments, to build too).
        if not ANY_UNREAD.rows((), request.user):
            return 0
        unread = Notification.objects.filter(recipient=request.user).unread()
        return unread.shown(request.user).count()

    return {
        "site_name": settings.SITE_NAME,
        "social_sign_in_enabled": bool(settings.SOCIALACCOUNT_PROVIDERS),
        # The number on the bell, counted only where a page shows it.
        "unread_notifications": SimpleLazyObject(unread),
        # Development mode says where mail goes (the console, by default).
        "development_mail": where_mail_goes() if settings.DEBUG else "",
    }
