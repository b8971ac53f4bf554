"""Signing in with a password: one password check per attempt, whoever is asked for.

Django's ModelBackend and allauth's backend each check the password, and allauth's
checks it by email, then by username, then by email again. A wrong password for a known
address therefore cost three password hashes and one for an unknown address two, so
the time of an answer told whether an address has an account (887 ms against 597 ms,
median, in the adversarial review), despite ACCOUNT_PREVENT_ENUMERATION.
"""

from allauth.account.app_settings import LoginMethod
from allauth.account.auth_backends import AuthenticationBackend
from allauth.account.internal.userkit import filter_users_by_email, get_user_by_username
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import router

from accounts.models import User
from config.prepared import Prepared


class OneCheckBackend(AuthenticationBackend):
    """First in AUTHENTICATION_BACKENDS. It finds the one account the login names (by
    email address, else by username; both looked up every time), checks the password
    once, or hashes it once against no account, so that a known and an unknown login
    do the same work. A failure ends the attempt (PermissionDenied stops Django from
    asking the other backends, which would check again). The other backends stay
    listed for permissions and for sessions that name them."""

    def authenticate(self, request, **credentials):
        password = credentials.get("password")
        login = credentials.get(LoginMethod.EMAIL) or credentials.get(LoginMethod.USERNAME)
        if not password or not login:
            return None  # not a sign-in with a password: another backend's business
        user = self.account_for(credentials)
        if user is None:
            self._mitigate_timing_attack(password)  # as long as a real check
        elif (signed_in := self._check_password(user, password)) is not None:
            return signed_in
        # A wrong password, or a right one for an inactive account (which allauth finds
        # in its stash and sends to the "inactive" page): no other backend tries again.
        raise PermissionDenied

    def account_for(self, credentials):
        """The account a login names: the first by email address, else by username."""
        by_email = credentials.get(LoginMethod.EMAIL) or credentials.get(LoginMethod.USERNAME)
        found = filter_users_by_email(by_email, prefer_verified=True, for_login=True)
        username = credentials.get(LoginMethod.USERNAME)
        by_username = get_user_by_username(username) if username else None
        return found[0] if found else by_username

    def get_user(self, user_id):
        """The signed-in account of a session, read with its standing (verified, under a
        ban: User.standing), which every member's page and post asks: one query, not
        two, and its SQL made once per process (1.2 ms of the ORM's on every request
        a member makes). Sessions signed in through this backend (allauth picks it for
        every sign-in, as its own subclass listed first) come back through here."""
        rows = ACCOUNT_WITH_STANDING.rows((), AnonymousUser(), user_id)
        if not rows:
            return None
        *values, verified, banned = rows[0]
        user = User.from_db(router.db_for_read(User), ACCOUNT_COLUMNS, values)
        user.standing_verified, user.standing_banned = verified, banned
        return user if self.user_can_authenticate(user) else None


ACCOUNT_COLUMNS = [field.attname for field in User._meta.concrete_fields]


def _account_with_standing(shape, viewer, user_id: int):
    standing = User.standing()
    return (
        User.objects.annotate(**standing)
        .filter(pk=user_id)
        .values_list(*ACCOUNT_COLUMNS, *standing)
    )


ACCOUNT_WITH_STANDING = Prepared(User, _account_with_standing)
