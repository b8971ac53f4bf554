from django.conf import settings
from django.utils.functional import SimpleLazyObject


def site(request):
    """The site's name, whether social sign-in is configured, and whether the viewer may
    write (worked out only if a template asks)."""
    from forum.threads import viewer_can_write

    return {
        "site_name": settings.SITE_NAME,
        "social_sign_in_enabled": bool(settings.SOCIALACCOUNT_PROVIDERS),
        "can_write": SimpleLazyObject(lambda: viewer_can_write(request.user)),
    }
