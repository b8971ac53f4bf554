"""A person's own account: public profile, settings, data export and deletion.

Signing up, in and out, email addresses, passwords, two-factor and sessions are
django-allauth's views under /accounts/.
"""

import json

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_http_methods

from essays.models import Essay
from forum.forms import DeleteAccountForm, ProfileForm
from forum.models import User

PROFILE_PAGE_SIZE = 20


def profile(request, username):
    """A member's public page: name, bio, when they joined and what they wrote."""
    person = get_object_or_404(User.objects.filter(is_active=True), username=username)
    comments = (
        person.comments.visible_to(request.user)
        .published()
        .filter(section__essay__in=Essay.objects.visible_to(request.user))
        .select_related("section__essay")
        .order_by("-created_at", "-pk")
    )
    page = Paginator(comments, PROFILE_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "accounts/profile.html", {"person": person, "page": page})


@login_required
@require_http_methods(["GET", "POST"])
def account_settings(request):
    """Display name, bio and email preferences."""
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your settings are saved.")
        return redirect("account_settings")
    return render(request, "accounts/settings.html", {"form": form})


@login_required
def export_data(request):
    """Download everything the site stores about the signed-in person, as JSON."""
    data = {
        "exported_at": timezone.now().isoformat(),
        **request.user.export_data(),
    }
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json"
    )
    stamp = timezone.now().strftime("%Y-%m-%d")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"essay-forum-{request.user.username}-{stamp}.json"
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@reauthentication_required
@require_http_methods(["GET", "POST"])
def delete_account(request):
    """Remove the account for good, after the person confirms their identity."""
    form = DeleteAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = request.user
        user.delete_account(keep_comments=form.keep_comments())
        logout(request)  # after: if deleting failed, the person is still signed in
        messages.success(request, "Your account has been deleted. Thank you for reading with us.")
        return redirect("home")
    return render(request, "accounts/delete.html", {"form": form})
