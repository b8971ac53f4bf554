from allauth.account.authentication import get_authentication_records
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware, get_user
from django.utils.functional import SimpleLazyObject


def passed_second_factor(request, user) -> bool:
    """Whether this session signed in with a second factor. Having one set up is not
    enough: sessions signed in before it was (on any device) never used it."""
    return any(
        record.get("method") == "mfa" for record in get_authentication_records(request, user)
    )


def with_staff_session(request, user):
    """Staff powers in this session follow the admin's rule: with STAFF_REQUIRE_2FA,
    only a session that passed a second factor has them. Without them a staff member
    is an ordinary reader everywhere: pages, search, feeds, the admin."""
    if user.is_authenticated and user.is_staff:
        user.staff_session = not settings.STAFF_REQUIRE_2FA or passed_second_factor(request, user)
    return user


class StaffSessionAuthenticationMiddleware(AuthenticationMiddleware):
    """Django's AuthenticationMiddleware, with `request.user.staff_session` decided
    by `with_staff_session` when the user is first looked at (still lazily)."""

    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: with_staff_session(request, get_user(request)))
