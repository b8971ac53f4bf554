"""The bell: notifications, following sections and threads, and one-click unsubscribe."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from forum import notifications as mail
from forum.comment_views import allow, fragment
from forum.models import Act, Comment, Notification, Participation, Subscription
from forum.views import visible_section

NOTIFICATIONS_PAGE_SIZE = 30


@login_required
def notification_list(request):
    """A member's notifications, newest first; unread ones stand out."""
    shown = (
        request.user.notifications.shown(request.user)
        .select_related("comment__author", "comment__section__essay")
        .order_by("-created_at", "-pk")
    )
    page = Paginator(shown, NOTIFICATIONS_PAGE_SIZE).get_page(request.GET.get("page"))
    following = (
        Subscription.objects.shown(request.user)
        .select_related("section__essay", "thread__section__essay")
        .order_by("-created_at")
    )
    return render(request, "forum/notifications.html", {"page": page, "following": following})


@login_required
def open_notification(request, notification_id):
    """Mark one notification read and go to what it is about."""
    notification = get_object_or_404(request.user.notifications, pk=notification_id)
    request.user.notifications.filter(pk=notification.pk).mark_read()
    if not request.user.notifications.shown(request.user).filter(pk=notification.pk).exists():
        messages.info(request, "That comment is no longer available.")
        return redirect("notifications")
    return redirect(notification.comment)


@login_required
@require_POST
def mark_all_read(request):
    count = request.user.notifications.mark_read()
    if count:
        messages.success(request, "All notifications are marked as read.")
    return redirect("notifications")


def wants_to_follow(request) -> bool | None:
    """The follow form's choice: "1" follows, "0" stops, anything else is None."""
    return {"1": True, "0": False}.get(request.POST.get("follow"))


def bad_choice(request):
    message = "Choose to follow (1) or to stop following (0)."
    return render(request, "400.html", {"message": message}, status=400)


def _followed(request, following: bool, *, what: str, target):
    messages.success(request, f"You {'now follow' if following else 'no longer follow'} {what}.")
    # Back to the list of what one follows when that is where the button was.
    return redirect("notifications" if request.POST.get("from") == "notifications" else target)


@login_required
@require_POST
def follow_section(request, essay_slug, section_slug):
    """Follow (or stop following) every new comment in a section."""
    section = visible_section(request, essay_slug, section_slug)
    follow = wants_to_follow(request)
    if follow is None:
        return bad_choice(request)
    # Following asks what posting here asks (may take part, discussion open); anyone
    # may stop.
    if follow and (refusal := Participation(request.user, section).to_post()):
        raise PermissionDenied(refusal)
    Subscription.objects.set_following(request.user, follow, section=section)
    if request.htmx:
        context = {"following": follow, "target": section}
        return render(request, "forum/follow_section.html", context)
    return _followed(request, follow, what="this section", target=section)


@login_required
@require_POST
def follow_thread(request, comment_id):
    """Follow (or stop following) every reply below a comment the viewer can see."""
    follow = wants_to_follow(request)
    if follow is None:
        return bad_choice(request)
    comment = Comment.objects.visible_to(request.user).select_related("section__essay")
    comment = comment.filter(pk=comment_id).first()
    if comment is None:
        if follow:
            raise Http404("No such comment.")
        # One can always stop following, even a comment hidden since.
        Subscription.objects.unfollow(request.user, thread=comment_id)
        messages.success(request, "You no longer follow this thread.")
        return redirect("notifications")
    if follow:
        allow(request, Act.FOLLOW, comment)
    Subscription.objects.set_following(request.user, follow, thread=comment)
    if request.htmx:
        return fragment(request, comment, "follow")
    return _followed(request, follow, what="this thread", target=comment)


# Mail programs POST here on their own (RFC 8058 one-click unsubscribe) with no session
# and no CSRF token: the signed token is the only authority, and it can do no more
# than stop mail to its own recipient.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """Stop the emails a notification mail was about, without signing in. GET asks
    (mail scanners follow links, and must not unsubscribe anyone); POST does it."""
    try:
        data = mail.read_token(token)
    except mail.BadToken:
        context = {"error": "This unsubscribe link is not valid. It may have been cut short."}
        return render(request, "forum/unsubscribe.html", context, status=400)
    kind = Notification.KINDS[data["k"]]
    context = {"question": kind.stop_question, "done_text": kind.stop_done, "done": False}
    if request.method == "POST":
        mail.unsubscribe(data)
        context["done"] = True
    return render(request, "forum/unsubscribe.html", context)
