"""The essay's editors answer comments: "addressed in revision N" (with an optional
note) or "declined" with a reason. Readers see the answer on the comment with the
changes one click away; the commenter is told, and mailed per their settings."""

import importlib

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.urls import reverse

from forum import notifications
from forum.models import Comment, Notification, Refused

pytestmark = pytest.mark.django_db

OPENING = "China’s DeepSeek"


@pytest.fixture
def comment(post, ann):
    return post(ann, "The opening overstates it.")


@pytest.fixture
def revised(section, comment, editor):
    """The editor rewords the opening after Ann's comment: revision 2."""
    section.revise(section.body_markdown.replace(OPENING, "DeepSeek", 1), by=editor)
    return section


def diff_url(section, before, after):
    return reverse("section_diff", args=[section.essay.slug, section.slug, before, after])


def test_a_comment_records_the_revision_it_was_written_against(comment, section):
    assert comment.revision == section.current_revision
    assert comment.revision.number == 1


def test_readers_see_addressed_in_revision_n_with_the_diff_one_click_away(
    client, comment, revised, editor
):
    comment.mark_addressed(editor, 2, "Toned the opening down.")

    page = client.get(revised.get_absolute_url()).text

    assert "Addressed by the editors in" in page
    assert f'<a href="{diff_url(revised, 1, 2)}">revision 2 (see what changed)</a>' in page
    assert "Toned the opening down." in page
    assert client.get(diff_url(revised, 1, 2)).status_code == 200


def test_readers_see_a_declined_comment_with_its_reason(client, comment, section, editor):
    comment.decline(editor, "The claim is sourced in the footnote.")

    page = client.get(section.get_absolute_url()).text

    assert "The editors declined to change the text: The claim is sourced in the footnote." in page


def test_the_commenter_is_notified_and_mailed(comment, revised, editor, ann, mailoutbox):
    comment.mark_addressed(editor, 2, "Toned the opening down.")

    notice = Notification.objects.get(recipient=ann, kind=Notification.Kind.ANSWERED)
    assert notice.email_state == Notification.Email.QUEUED
    assert notice.sentence.startswith("The editors answered your comment on")
    assert notifications.send_due_mail() == {"sent": 1}
    (mail,) = mailoutbox
    assert "revision 2 addresses it" in mail.body
    assert "What changed: Toned the opening down." in mail.body
    assert mail.to == ["ann@example.com"]


def test_a_commenter_who_switched_reply_mail_off_is_told_on_the_site_only(
    comment, section, editor, ann
):
    ann.email_on_reply = False
    ann.save()

    comment.decline(editor, "Out of scope.")

    notice = Notification.objects.get(recipient=ann, kind=Notification.Kind.ANSWERED)
    assert notice.email_state == Notification.Email.NONE


@pytest.mark.parametrize(
    ("number", "message"),
    [
        (1, "Revision 1 is not newer than the text the comment responded to (revision 1)."),
        (9, "The section has no revision 9."),
    ],
)
def test_only_a_later_revision_of_the_section_can_address_a_comment(
    comment, revised, editor, number, message
):
    with pytest.raises(Refused, match=message.replace("(", r"\(").replace(")", r"\)")):
        comment.mark_addressed(editor, number)

    comment.refresh_from_db()
    assert comment.editor_answer == ""


def test_declining_needs_a_reason(comment, editor):
    with pytest.raises(Refused, match="Say why the comment is declined"):
        comment.decline(editor, "   ")


def test_only_editors_with_staff_powers_answer(comment, revised, ann, mo, editor, settings):
    for someone in (ann, mo):
        with pytest.raises(Refused, match=r"Only the essay's editors answer comments\."):
            comment.mark_addressed(someone, 2)
    settings.STAFF_REQUIRE_2FA = True  # and the editor has no second factor
    editor.staff_session = None
    with pytest.raises(Refused, match=r"Only the essay's editors answer comments\."):
        comment.mark_addressed(editor, 2)


def test_a_hidden_comment_is_not_answered(comment, revised, editor, mo):
    comment.moderate(mo, "remove", "off topic")

    with pytest.raises(Refused, match=r"Only a published comment can be answered\."):
        Comment.objects.get(pk=comment.pk).mark_addressed(editor, 2)


def test_an_editor_answers_from_the_admin(client, comment, revised, editor, ann):
    client.force_login(editor)
    page = reverse("admin:forum_answeritem_change", args=[comment.pk])
    assert client.get(reverse("admin:forum_answeritem_changelist")).status_code == 200

    response = client.post(
        page, {"editor_answer": "addressed", "revision_number": "2", "editor_note": "Fixed."}
    )

    assert response.status_code == 302
    comment.refresh_from_db()
    assert (comment.editor_answer, comment.addressed_in.number) == ("addressed", 2)
    assert (comment.editor_note, comment.answered_by) == ("Fixed.", editor)
    assert Notification.objects.filter(recipient=ann, kind="answered").exists()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"editor_answer": "addressed", "revision_number": "1"}, "is not newer than the text"),
        ({"editor_answer": "addressed", "revision_number": ""}, "Say which revision addresses"),
        ({"editor_answer": "addressed", "revision_number": "lots"}, "Enter a whole number."),
        ({"editor_answer": "declined", "editor_note": ""}, "Say why the comment is declined"),
        ({"editor_answer": "maybe"}, "Select a valid choice."),
    ],
)
def test_a_refused_answer_in_the_admin_is_a_form_error_not_a_500(
    client, comment, revised, editor, data, error
):
    client.force_login(editor)

    response = client.post(reverse("admin:forum_answeritem_change", args=[comment.pk]), data)

    assert response.status_code == 200
    assert error in response.text
    comment.refresh_from_db()
    assert comment.editor_answer == ""
    assert not Notification.objects.filter(kind="answered").exists()


def test_editors_do_not_moderate_and_moderators_do_not_answer(client, comment, editor, mo):
    client.force_login(editor)
    assert client.get(reverse("admin:forum_comment_changelist")).status_code == 403
    assert client.get(reverse("admin:forum_reviewitem_changelist")).status_code == 403
    client.force_login(mo)
    assert client.get(reverse("admin:forum_answeritem_changelist")).status_code == 403


def test_the_migration_makes_the_editors_group_with_exactly_its_permissions():
    migration = importlib.import_module("forum.migrations.0006_editors_group")
    Group.objects.filter(name="Editors").delete()
    historical_apps = MigrationLoader(connection).project_state().apps  # as migrate runs it

    migration.create_editors(historical_apps, None)

    group = Group.objects.get(name="Editors")
    granted = set(group.permissions.values_list("content_type__app_label", "codename"))
    assert granted == set(migration.EDITOR_PERMISSIONS)
    codenames = {codename for _, codename in granted}
    assert not any(c.endswith(("_user", "_group", "_ban")) for c in codenames)
    assert not any(c.startswith(("delete_", "add_")) for c in codenames)
    assert "moderate_comment" not in codenames


def test_the_migration_dates_existing_comments_to_their_sections_first_revision(comment, revised):
    Comment.objects.filter(pk=comment.pk).update(revision=None)  # as before the migration
    migration = importlib.import_module("forum.migrations.0005_comment_revision_and_answer")
    historical_apps = MigrationLoader(connection).project_state().apps

    migration.written_against_first_revisions(historical_apps, None)

    comment.refresh_from_db()
    assert comment.revision == revised.revisions.get(number=1)
