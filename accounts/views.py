"""A person's own account: settings, data export and deletion (the public profile,
which lists what they wrote, is the discussion's: forum.views.profile).

Signing up, in and out, email addresses, passwords, two-factor and sessions are
django-allauth's views under /accounts/.
"""

import json

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_http_methods

from accounts.forms import DeleteAccountForm, ProfileForm


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
