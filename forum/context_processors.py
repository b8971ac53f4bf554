from django.conf import settings


def site(request):
    """The site's name, and whether social sign-in is configured."""
    return {
        "site_name": settings.SITE_NAME,
        "social_sign_in_enabled": bool(settings.SOCIALACCOUNT_PROVIDERS),
    }
