from allauth.account.decorators import secure_admin_login
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import admin, messages
from django.shortcuts import redirect


def staff_may_enter(user) -> bool:
    """Staff reach the admin; when STAFF_REQUIRE_2FA is on, only with two-factor set up."""
    if not (user.is_active and user.is_staff):
        return False
    return not settings.STAFF_REQUIRE_2FA or is_mfa_enabled(user)


class ForumAdminSite(admin.AdminSite):
    """The admin signs people in through allauth, so it shares allauth's rate limits,
    two-factor step and session tracking instead of having a second, weaker door."""

    site_header = f"{settings.SITE_NAME} administration"
    site_title = settings.SITE_NAME
    index_title = "Moderation and content"

    def has_permission(self, request):
        return staff_may_enter(request.user)

    def login(self, request, extra_context=None):
        user = request.user
        if user.is_authenticated and user.is_staff and not staff_may_enter(user):
            messages.warning(request, "Set up two-factor authentication before you use the admin.")
            return redirect("mfa_index")
        return secure_admin_login(super().login)(request, extra_context)
