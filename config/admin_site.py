from functools import wraps

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import urlencode

from forum.ids import parse_id


def checked_input(view):
    """What Django's admin hands to the database as it came, checked first: the ids of
    the rows ticked for a bulk action ("²" or a word was a 500), and the list's filter
    and search values (a NUL is a 500 on PostgreSQL, whose text cannot hold one). Every
    model in the admin has integer ids."""

    @wraps(view)
    def checked(request, *args, **kwargs):
        if any("\x00" in value for values in request.GET.lists() for value in values[1]):
            message = "Filters and searches cannot contain NUL characters."
            return render(request, "400.html", {"message": message}, status=400)
        selected = request.POST.getlist(ACTION_CHECKBOX_NAME) if request.method == "POST" else []
        if any(parse_id(value) is None for value in selected):
            messages.warning(request, "That selection is not valid; no items have been changed.")
            return redirect(request.get_full_path())
        return view(request, *args, **kwargs)

    return checked


class ForumAdminSite(admin.AdminSite):
    """The admin has no sign-in form of its own: people sign in through allauth, with
    its rate limits and second factor, and then come back here."""

    site_header = f"{settings.SITE_NAME} administration"
    site_title = settings.SITE_NAME
    index_title = "Moderation and content"

    def has_permission(self, request):
        # Active staff, in a session that passed the second factor where that is
        # required (accounts.middleware): the same rule as staff powers on the site.
        return request.user.is_authenticated and request.user.has_staff_powers

    def admin_view(self, view, cacheable=False):
        return super().admin_view(checked_input(view), cacheable)

    def index(self, request, extra_context=None):
        from forum.models import needs_review

        extra_context = extra_context or {}
        if request.user.has_perm("forum.view_reviewitem"):
            extra_context["review_count"] = needs_review().count()
        return super().index(request, extra_context)

    def login(self, request, extra_context=None):
        index = reverse("admin:index", current_app=self.name)
        user = request.user
        if not user.is_authenticated:
            next_url = request.GET.get(REDIRECT_FIELD_NAME) or index
            login_url = resolve_url(settings.LOGIN_URL)
            return redirect(f"{login_url}?{urlencode({REDIRECT_FIELD_NAME: next_url})}")
        if user.has_staff_powers:
            return redirect(index)
        if not (user.is_active and user.is_staff):
            raise PermissionDenied("This account cannot use the admin.")
        if is_mfa_enabled(user):
            messages.info(request, "Confirm your second factor to use the admin.")
            return redirect(f"{reverse('mfa_reauthenticate')}?{urlencode({'next': index})}")
        messages.warning(request, "Set up two-factor authentication before you use the admin.")
        return redirect("mfa_index")

    def password_change(self, request, extra_context=None):
        # allauth's page: it checks the old password, rate-limits and sends a notice.
        return redirect("account_change_password")
