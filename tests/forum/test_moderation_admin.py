"""Moderators at work in the Django admin: actions, the queue, bans, the record, and
exactly the permissions the Moderators group needs."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from accounts.models import Ban
from forum.models import Comment, ModerationLog, ModerationPolicy, Report
from tests.conftest import make_member

pytestmark = pytest.mark.django_db

Status = Comment.Status
CHANGELIST = reverse("admin:forum_comment_changelist")


def act(client, action, comments, url=CHANGELIST, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [c.pk for c in comments]} | extra
    return client.post(url, data)


@pytest.fixture
def signed_in_mod(client, mo):
    client.force_login(mo)
    return mo


@pytest.mark.parametrize("selected", ["²", "٣", "word", "1\x00", "9" * 30, "-1"])
def test_a_selection_that_is_not_an_id_is_refused_with_a_message(
    client, signed_in_mod, ann, post, selected
):
    """Found by tests/security: Django's admin passed such values to the database (a 500)."""
    comment = post(ann, "Stays as it is.")

    response = client.post(
        CHANGELIST, {"action": "mark_spam", ACTION_CHECKBOX_NAME: [comment.pk, selected]}
    )

    assert response.status_code == 302
    assert "not valid" in client.get(response.url).text
    comment.refresh_from_db()
    assert comment.status == Status.PUBLISHED
    assert not ModerationLog.objects.exists()


@pytest.mark.parametrize("query", ["status=%00", "q=a%00b", "reported=yes&o=%00"])
def test_a_filter_or_search_with_a_nul_gets_a_clear_message(client, signed_in_mod, query):
    """Found by tests/security on PostgreSQL, whose text cannot hold a NUL (a 500)."""
    response = client.get(f"{CHANGELIST}?{query}")

    assert response.status_code == 400
    assert "cannot contain NUL characters" in response.text


@pytest.mark.parametrize(
    ("action", "start", "end", "logged"),
    [
        ("approve", Status.PENDING, Status.PUBLISHED, "approve"),
        ("mark_spam", Status.PUBLISHED, Status.SPAM, "spam"),
        ("restore", Status.REMOVED, Status.PUBLISHED, "restore"),
    ],
)
def test_each_bulk_action_changes_the_state_and_is_recorded(
    client, signed_in_mod, ann, post, action, start, end, logged
):
    comments = [post(ann, f"Comment {n}") for n in range(2)]
    Comment.objects.update(status=start)

    response = act(client, action, comments)

    assert response.status_code == 302
    assert set(Comment.objects.values_list("status", flat=True)) == {end}
    assert ModerationLog.objects.filter(action=logged, actor=signed_in_mod).count() == 2


def test_removing_asks_for_a_reason_and_records_it(client, signed_in_mod, ann, post):
    comment = post(ann, "Over the line")

    form = act(client, "remove", [comment])
    assert form.status_code == 200
    assert "Remove 1 comment" in form.text
    assert Comment.objects.get().status == Status.PUBLISHED

    act(client, "remove", [comment], apply="yes", reason="personal attack")

    comment.refresh_from_db()
    assert comment.status == Status.REMOVED
    assert comment.moderation_reason == "personal attack"
    log = ModerationLog.objects.get(action="remove")
    assert (log.actor, log.comment, log.reason) == (signed_in_mod, comment, "personal attack")


def test_remove_and_ban_bans_the_author(client, signed_in_mod, ann, post):
    comment = post(ann, "Spam spam")

    act(client, "remove_and_ban", [comment], apply="yes", reason="spammer")

    assert Comment.objects.get().status == Status.REMOVED
    assert Ban.objects.in_force().filter(user=ann).exists()
    assert not ann.__class__.objects.get(pk=ann.pk).can_write()
    assert ModerationLog.objects.filter(action="ban", target_user=ann).exists()


def test_actions_resolve_the_reports_of_the_comment(client, signed_in_mod, ann, ben, post):
    comment = post(ann, "Reported")
    Report.file(comment, ben, "spam")

    act(client, "restore", [comment])  # does not apply: stays, reports stay open
    assert Report.objects.filter(resolved_at__isnull=True).count() == 1
    act(client, "remove", [comment], apply="yes", reason="spam")

    report = Report.objects.get()
    assert report.resolved_by == signed_in_mod


def test_the_review_queue_holds_pending_and_reported_comments_oldest_first(
    client, signed_in_mod, ann, ben, post
):
    quiet = post(ann, "Quiet")
    reported = post(ann, "Reported")
    pending = post(ann, "Pending")
    Comment.objects.filter(pk=pending.pk).update(status=Status.PENDING)
    Report.file(reported, ben, "off_topic")

    index = client.get(reverse("admin:index"))
    queue = client.get(reverse("admin:forum_reviewitem_changelist"))

    assert "2 comments await review" in index.text
    assert reverse("admin:forum_reviewitem_changelist") in index.text
    ids = [c.pk for c in queue.context["cl"].result_list]
    assert ids == [reported.pk, pending.pk]
    assert quiet.pk not in ids


def test_the_comment_page_shows_thread_context_history_and_reports(
    client, signed_in_mod, ann, ben, post
):
    parent = post(ben, "The parent says this")
    comment = post(ann, "First version", parent=parent)
    comment.edit("Second version", by=comment.author)
    post(ben, "A reply below", parent=comment)
    Report.file(comment, ben, "harassment", "rude")

    response = client.get(reverse("admin:forum_comment_change", args=[comment.pk]))

    assert response.status_code == 200
    for text in ("The parent says this", "A reply below", "First version", "harassment or abuse"):
        assert text in response.text


def test_the_changelist_costs_the_same_queries_for_many_comments(
    client, admin_user, ann, post, django_assert_num_queries
):
    client.force_login(admin_user)

    def queries_for_changelist():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert client.get(CHANGELIST).status_code == 200
        return len(captured)

    for n in range(3):
        post(ann, f"Few {n}")
    few = queries_for_changelist()
    for n in range(40):
        post(make_member(f"author{n}"), f"Many {n}")
    many = queries_for_changelist()

    assert few == many


def test_the_record_cannot_be_changed_or_deleted_by_anyone(
    client, admin_user, signed_in_mod, ann, post
):
    comment = post(ann, "x")
    comment.moderate(signed_in_mod, "spam")
    entry = ModerationLog.objects.get()

    for user in (signed_in_mod, admin_user):
        client.force_login(user)
        assert client.get(reverse("admin:forum_moderationlog_changelist")).status_code == 200
        delete = client.post(
            reverse("admin:forum_moderationlog_delete", args=[entry.pk]), {"post": "yes"}
        )
        assert delete.status_code in (403, 302)
    assert ModerationLog.objects.filter(pk=entry.pk).exists()


def test_policy_changes_and_closed_discussions_are_recorded(client, signed_in_mod, section):
    policy = ModerationPolicy.current()
    fields = {
        f.name: getattr(policy, f.name)
        for f in ModerationPolicy._meta.fields
        if f.editable and f.name != "id"
    }
    response = client.post(
        reverse("admin:forum_moderationpolicy_change", args=[policy.pk]),
        fields | {"report_threshold": 5},
    )
    assert response.status_code == 302
    assert ModerationPolicy.current().report_threshold == 5

    response = client.post(
        reverse("admin:forum_sectiondiscussion_change", args=[section.pk]),
        {"discussion_closed": "on"},
    )
    assert response.status_code == 302
    section.refresh_from_db()
    assert section.discussion_closed

    actions = set(ModerationLog.objects.values_list("action", flat=True))
    assert actions == {"policy", "close"}


def test_a_ban_is_made_and_lifted_in_the_admin(client, signed_in_mod, ben, section):
    response = client.post(
        reverse("admin:accounts_ban_add"), {"username": "ben", "reason": "cool off", "until": ""}
    )
    assert response.status_code == 302
    ban = Ban.objects.get()
    assert (ban.user, ban.created_by) == (ben, signed_in_mod)

    act(client, "lift", [ban], url=reverse("admin:accounts_ban_changelist"))

    assert not Ban.objects.in_force().exists()
    assert list(ModerationLog.objects.values_list("action", flat=True).order_by("pk")) == [
        "ban",
        "unban",
    ]


def test_banning_an_unknown_username_says_so(client, signed_in_mod):
    response = client.post(reverse("admin:accounts_ban_add"), {"username": "nobody", "reason": "x"})

    assert response.status_code == 200
    assert "There is no member with that username." in response.text


def test_a_moderator_removes_all_comments_of_a_banned_member(client, signed_in_mod, ann, ben, post):
    for n in range(3):
        post(ann, f"Spam {n}")
    post(ben, "Fine")
    ban = Ban.objects.create(user=ann, reason="spammer")

    act(client, "remove_all_comments", [ban], url=reverse("admin:accounts_ban_changelist"))

    assert Comment.objects.filter(author=ann, status=Status.REMOVED).count() == 3
    assert Comment.objects.get(author=ben).status == Status.PUBLISHED
    assert ModerationLog.objects.filter(action="remove", actor=signed_in_mod).count() == 3


def test_remove_all_comments_of_a_user_for_spam_clean_up(client, admin_user, ann, ben, post):
    for n in range(3):
        post(ann, f"Spam {n}")
    post(ben, "Fine")
    client.force_login(admin_user)

    act(client, "remove_all_comments", [ann], url=reverse("admin:accounts_user_changelist"))

    assert Comment.objects.filter(author=ann, status=Status.REMOVED).count() == 3
    assert Comment.objects.get(author=ben).status == Status.PUBLISHED


# --- The Moderators group, both ways --------------------------------------------------------

MODERATOR_PAGES = [
    "admin:forum_comment_changelist",
    "admin:forum_reviewitem_changelist",
    "admin:forum_report_changelist",
    "admin:accounts_ban_changelist",
    "admin:accounts_ban_add",
    "admin:forum_moderationlog_changelist",
    "admin:forum_moderationpolicy_changelist",
    "admin:forum_sectiondiscussion_changelist",
    "admin:forum_essaydiscussion_changelist",
]
FORBIDDEN_PAGES = [
    "admin:accounts_user_changelist",
    "admin:auth_group_changelist",
    "admin:essays_section_changelist",
    "admin:essays_essay_changelist",
    "admin:account_emailaddress_changelist",
    "admin:mfa_authenticator_changelist",
]


@pytest.mark.parametrize("name", MODERATOR_PAGES)
def test_a_moderator_reaches_what_moderation_needs(client, signed_in_mod, name):
    assert client.get(reverse(name), follow=True).status_code == 200


@pytest.mark.parametrize("name", FORBIDDEN_PAGES)
def test_a_moderator_reaches_nothing_else(client, signed_in_mod, name):
    assert client.get(reverse(name)).status_code == 403


def test_a_moderator_cannot_edit_essay_text_or_users(client, signed_in_mod, section, ann):
    edit_section = client.post(
        reverse("admin:essays_section_change", args=[section.pk]), {"body_markdown": "Hacked"}
    )
    edit_user = client.get(reverse("admin:accounts_user_change", args=[ann.pk]))

    assert edit_section.status_code == 403
    assert edit_user.status_code == 403
    section.refresh_from_db()
    assert "Hacked" not in section.body_markdown
    assert not signed_in_mod.has_perm("forum.delete_comment")
    assert not signed_in_mod.has_perm("forum.delete_moderationlog")
