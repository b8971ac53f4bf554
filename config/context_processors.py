from django.conf import settings
from django.utils.functional import SimpleLazyObject


def site(request):
    """The site's name, whether social sign-in is configured, whether the viewer may
    write and their unread notifications (the last two worked out only if asked)."""
    from forum.models import Notification

    def unread():
        if not request.user.is_authenticated:
            return 0
        return (
            Notification.objects.filter(recipient=request.user).shown(request.user).unread().count()
        )

    return {
        "site_name": settings.SITE_NAME,
        "social_sign_in_enabled": bool(settings.SOCIALACCOUNT_PROVIDERS),
        "can_write": SimpleLazyObject(
            lambda: request.user.is_authenticated and request.user.can_write()
        ),
        # The number on the bell, counted only where a page shows it.
        "unread_notifications": SimpleLazyObject(unread),
    }
