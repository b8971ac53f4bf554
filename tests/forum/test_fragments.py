"""A published comment's HTML is rendered once, when it changes, and stored
(`Comment.fragment`, forum.rendering.Fragments); pages join stored fragments with what
differs by viewer and moment. Readers must never be able to tell: a page built from
stored fragments is the page built from scratch, for every kind of comment and viewer,
and every change they could see renders the fragment again."""

import re
import threading
import uuid
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from essays.models import Section
from forum.models import Comment, Vote
from forum.rendering import CHUNKS, SEP, UNSTORABLE
from forum.threads import KeptFragments
from tests.conftest import keep_fragments, make_member

pytestmark = pytest.mark.django_db

QUOTE = "competitive performance at a fraction of the compute cost"


def respond(client, section, quote=QUOTE, body="This part.", parent=None):
    url = reverse("post_comment", args=[section.essay.slug, section.slug])
    form = {"body": body, "quote": quote, "token": uuid.uuid4()}
    if parent:
        form["parent"] = parent.pk
    client.post(url, form)
    return Comment.objects.latest("pk")


def page(client, section) -> str:
    """The section page, without what differs on every request (tokens, nonces)."""
    html = client.get(section.get_absolute_url()).text
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "csrf", html)
    html = re.sub(r'name="token" value="[^"]+"', "token", html)
    return re.sub(r'nonce="[^"]+"', "nonce", html)


@pytest.fixture
def varied(client, section, ann, ben, dan, editor, mo, post):
    """Every kind of comment a page shows: quoted, then reworded (revision 2), edited,
    pinned, answered and declined by the editors, by a deleted user, pending, removed,
    deleted with a reply, voted for and followed, with folded replies and markup."""
    client.force_login(ann)
    quoting = respond(client, section, body="*This* part, with `code`.")
    respond(client, section, quote="the compute cost", body="And this.")
    top = post(ben, "A top-level comment with <b>markup</b> & ampersands.")
    replies = [post(dan, f"Reply {n}", parent=top) for n in range(3)]
    post(ann, "Deep reply", parent=replies[0])
    edited = post(ann, "Before the edit.")
    edited.edit("After the edit, **bold**.", by=ann)
    pinned = post(ben, "Pin me.")
    pinned.set_pinned(mo, True)
    held = post(dan, "Held for review.")
    Comment.objects.filter(pk=held.pk).update(status=Comment.Status.PENDING)
    removed = post(ben, "Removed.")
    post(ann, "A reply to what was removed.", parent=removed)
    removed.moderate(mo, "remove", "Off topic")
    gone = post(dan, "Taken back.")
    post(ben, "Still here.", parent=gone)
    gone.delete_by_author()
    section.refresh_from_db()
    section.revise(section.body_markdown.replace("the compute cost", "the cost", 1), by=editor)
    quoting.refresh_from_db()
    quoting.mark_addressed(editor, 2, "Reworded.")
    top.refresh_from_db()
    top.decline(editor, "It <stays>.")
    Vote.objects.cast(ann, top)
    client.post(reverse("follow_thread", args=[top.pk]), {"follow": "1"})
    leaving = post(make_member("leaving"), "By someone who left.")
    leaving.author.delete()
    client.logout()
    return section


@pytest.mark.parametrize("viewer", [None, "ann", "ben", "mo", "editor"])
def test_a_page_from_stored_fragments_is_the_page_rendered_from_scratch(
    client, varied, viewer, request
):
    if viewer:
        client.force_login(request.getfixturevalue(viewer))
    stored = page(client, varied)
    assert all(
        fragment.count(SEP) == CHUNKS
        for fragment in Comment.objects.values_list("fragment", flat=True)
    )

    Comment.objects.update(fragment="")
    from_scratch = page(client, varied)

    assert from_scratch == stored
    assert "Reworded." in stored
    assert "It &lt;stays&gt;." in stored
    assert "deleted user" in stored
    assert "Pinned" in stored


def test_the_first_page_to_show_a_comment_without_a_fragment_stores_it(client, section, ann):
    client.force_login(ann)
    comment = respond(client, section)
    page(client, section)  # shows "Your comment is published." once
    stored = Comment.objects.get(pk=comment.pk).fragment
    Comment.objects.update(fragment="")  # as rows made in bulk, or before fragments

    first = page(client, section)

    assert Comment.objects.get(pk=comment.pk).fragment == stored
    assert page(client, section) == first


def test_a_fragment_stored_meanwhile_is_not_overwritten_by_a_page_rendered_before(
    section, ann, post
):
    comment = post(ann, "Before.")
    read_by_a_page = comment.fragment
    comment.edit("After.", by=ann)

    Comment.objects.fill_fragments([("<p>Rendered from Before.</p>", comment.pk, read_by_a_page)])

    assert "After." in Comment.objects.get(pk=comment.pk).fragment


def test_every_change_a_reader_sees_renders_the_fragment_again(
    client, section, ann, mo, editor, post
):
    comment = post(ann, "First words.")
    comment.edit("Second words.", by=ann)
    comment.set_pinned(mo, True)
    comment.decline(editor, "Not now.")

    html = client.get(section.get_absolute_url()).text
    fragment = Comment.objects.get(pk=comment.pk).fragment

    for shown in ("Second words.", "Pinned", "Not now.", "edited"):
        assert shown in fragment
        assert shown in html
    assert "First words." not in html


def test_a_new_slug_moves_the_links_in_stored_fragments(client, section, ann, editor):
    client.force_login(ann)
    comment = respond(client, section)
    section.refresh_from_db()
    section.slug = "deepseek"
    section.save()
    section.essay.slug = "open-weights"
    section.essay.save()

    html = client.get(section.get_absolute_url()).text

    assert "/essays/open-weights/deepseek/#p-" in Comment.objects.get(pk=comment.pk).fragment
    assert 'href="/essays/open-weights/deepseek/#p-' in html
    assert "/the-deepseek-moment/" not in Comment.objects.get(pk=comment.pk).fragment


def test_a_reworded_quote_links_to_what_changed_up_to_the_newest_revision(
    client, section, ann, editor
):
    client.force_login(ann)
    comment = respond(client, section, quote="the compute cost")
    section.refresh_from_db()
    section.revise(section.body_markdown.replace("the compute cost", "the cost", 1), by=editor)
    section.refresh_from_db()
    section.revise(section.body_markdown.replace("DeepSeek", "Deepseek", 1), by=editor)

    html = client.get(section.get_absolute_url()).text

    assert reverse("section_diff", args=[section.essay.slug, section.slug, 1, 3]) in html
    assert reverse("section_diff", args=[section.essay.slug, section.slug, 1, 2]) not in html
    assert Comment.objects.get(pk=comment.pk).fragment.count(SEP) == CHUNKS


def test_text_holding_the_separator_is_shown_rendered_anew_each_time(client, section, ann, post):
    comment = post(ann, f"Odd{SEP}control character")
    Comment.objects.filter(pk=comment.pk).update(body_html=f"<p>Odd{SEP}text</p>")
    Comment.objects.get(pk=comment.pk).save()

    html = client.get(section.get_absolute_url()).text

    assert Comment.objects.get(pk=comment.pk).fragment == UNSTORABLE
    assert f"Odd{SEP}text" in html
    assert html.count(f'id="c-{comment.pk}"') == 1


def test_a_discussion_without_fragments_stores_them_in_one_statement_on_first_view(
    client, section, settings, django_assert_num_queries
):
    settings.COMMENTS_PAGE_SIZE = 1000
    call_command(
        *("seed_discussion", "--section", section.slug, "--comments", 60),
        *("--top-level", 9, "--users", 5, "--max-depth", 4),
        stdout=StringIO(),
    )
    Comment.objects.update(fragment="")  # rows copied in SQL, as bench/huge.py does
    url = section.get_absolute_url()

    # A reader's four (test_discussion_queries.py), the texts the fragments would have
    # held (forum.threads._fill_in), and the fill in a savepoint.
    keep_fragments()
    with django_assert_num_queries(8):
        first = client.get(url).text
    keep_fragments()
    with django_assert_num_queries(4):
        second = client.get(url).text

    assert first.count('<article class="comment') == 60
    assert second == first
    assert not Comment.objects.filter(fragment="").exists()


def test_render_fragments_renders_every_fragment_again_for_a_new_time_zone(
    client, section, ann, post, settings
):
    comment = post(ann, "Written at noon.")
    settings.TIME_ZONE = "Asia/Tokyo"
    out = StringIO()

    call_command("render_fragments", stdout=out)

    assert "Rendered 1 comment fragments." in out.getvalue()
    assert "JST" in Comment.objects.get(pk=comment.pk).fragment
    assert "JST" in client.get(section.get_absolute_url()).text


def test_a_fragment_of_an_earlier_format_or_time_zone_is_rendered_again_when_shown(
    client, section, ann, post, settings
):
    comment = post(ann, "Written at noon.")
    old_format = comment.fragment.partition(SEP)[2]  # as stored before the tag existed
    Comment.objects.filter(pk=comment.pk).update(fragment=old_format)

    assert "Written at noon." in client.get(section.get_absolute_url()).text
    assert Comment.objects.get(pk=comment.pk).fragment == comment.fragment

    settings.TIME_ZONE = "Asia/Tokyo"
    assert "JST" in client.get(section.get_absolute_url()).text
    assert "JST" in Comment.objects.get(pk=comment.pk).fragment


def test_a_separator_in_an_editors_note_never_blanks_a_comment_filled_by_a_page(
    client, section, ann, editor, post
):
    comment = post(ann, "Please reword this.")
    comment.decline(editor, f"It{SEP}stays.")
    Comment.objects.filter(pk=comment.pk).update(fragment="")

    first = client.get(section.get_absolute_url()).text
    second = client.get(section.get_absolute_url()).text

    assert Comment.objects.get(pk=comment.pk).fragment == UNSTORABLE
    for html in (first, second):
        assert "Please reword this." in html
        assert f"It{SEP}stays." in html


def test_a_section_moved_to_another_essay_moves_the_links_in_stored_fragments(client, section, ann):
    from essays.models import Essay

    client.force_login(ann)
    comment = respond(client, section)
    other = Essay.objects.create(title="Another essay", slug="another", is_published=True)
    section.refresh_from_db()
    section.essay = other
    section.save()

    assert "/essays/another/the-deepseek-moment/#p-" in Comment.objects.get(pk=comment.pk).fragment


def test_pinning_renders_the_fragment_from_the_comment_as_it_is_now(section, ann, mo, post):
    comment = post(ann, "First words.")
    loaded_by_the_admin = Comment.objects.get(pk=comment.pk)
    comment.edit("Edited meanwhile.", by=ann)

    loaded_by_the_admin.set_pinned(mo, True)

    fragment = Comment.objects.get(pk=comment.pk).fragment
    assert "Edited meanwhile." in fragment
    assert "Pinned" in fragment


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is tested on PostgreSQL (CI runs it there)")


def test_an_edit_during_a_revision_is_not_overwritten_by_its_reanchoring(
    postgres_only, transactional_db, client, section, editor
):
    ann = make_member("ann")
    client.force_login(ann)
    comment = respond(client, section, quote="the compute cost", body="First words.")
    read = threading.Event()

    def revise():
        def signal(execute, sql, params, many, context):
            result = execute(sql, params, many, context)
            if sql.startswith("SELECT") and '"quote_text"' in sql:
                read.set()  # the revision has read the quoting comments
            return result

        try:
            with connection.execute_wrapper(signal):
                fresh = Section.objects.get(pk=section.pk)
                fresh.revise(fresh.body_markdown.replace("the compute cost", "the cost", 1))
        finally:
            connection.close()

    with transaction.atomic():  # Ann's edit holds her comment's row
        Comment.objects.select_for_update(no_key=True).get(pk=comment.pk)
        revision = threading.Thread(target=revise)
        revision.start()
        # Without the lock the revision reads the comment at once; with it, it waits.
        read.wait(timeout=3)
        comment.edit("Edited meanwhile.", by=ann)
    revision.join()

    stored = Comment.objects.get(pk=comment.pk)
    assert stored.anchor_state in {"changed", "review"}  # reworded: its fragment rewritten
    assert "Edited meanwhile." in stored.fragment
    assert "First words." not in stored.fragment


@pytest.mark.parametrize("viewer", [None, "ann", "mo"])
def test_a_page_of_ascii_comments_is_ascii(client, varied, viewer, request):
    """Our own signs (the vote and follow buttons, ellipses around a quote, "continue"
    arrows) are character references: one "△" per comment made the whole string of a
    member's thousand comments two bytes a character, slower to join and encode."""
    if viewer:
        client.force_login(request.getfixturevalue(viewer))
    html = page(client, varied)
    comments = html[html.index('<li class="thread">') : html.rindex("</li>")]
    if viewer == "ann":  # she voted for a comment and follows it
        assert "&#9650; Upvoted" in comments
        assert "&#10003; Following" in comments
    assert comments.isascii(), sorted({c for c in comments if not c.isascii()})


def test_a_comment_over_a_week_old_shows_its_local_date_from_its_fragment(
    client, section, ann, post, settings
):
    """After a week, "how long ago" is the comment's local date, which no longer changes:
    stored with the fragment (the time zone is in its tag), not asked of the zone on
    every view. Within the week, how long ago, made for each view."""
    settings.TIME_ZONE = "Asia/Tokyo"
    old = post(ann, "Said long ago.")
    young = post(ann, "Said this week.")
    Comment.objects.filter(pk=old.pk).update(created_at=datetime(2024, 2, 29, 23, 30, tzinfo=UTC))
    Comment.objects.filter(pk=young.pk).update(created_at=timezone.now() - timedelta(days=6))
    Comment.objects.filter(pk__in=[old.pk, young.pk]).render_fragments()  # as saving would

    stored = page(client, section)
    Comment.objects.update(fragment="")
    from_scratch = page(client, section)

    old.refresh_from_db()
    assert old.fragment.endswith(SEP + "1 Mar 2024")  # Tokyo's date: 08:30 on 1 March
    assert 'title="1 March 2024, 08:30 JST">1 Mar 2024</time>' in stored
    assert ">6 days ago</time>" in stored
    assert from_scratch == stored


# --- Fragments a web process keeps (forum.threads.KeptFragments) ---------------------------


def hash_of(comment) -> int:
    return Comment.objects.filter(pk=comment.pk).values_list("fragment_hash", flat=True).get()


def test_a_process_reads_each_fragment_once_and_again_when_it_changes(
    postgres_only, client, section, ann, post, django_assert_num_queries
):
    comments = [post(ann, f"Comment number {n}.") for n in range(5)]

    # A reader's four (test_discussion_queries.py), and the fragments this process
    # has not kept: all of them, the first time.
    with django_assert_num_queries(5):
        first = page(client, section)
    with django_assert_num_queries(4):
        assert page(client, section) == first
    comments[2].edit("Said better.", by=ann)
    with django_assert_num_queries(5) as edited:
        changed = page(client, section)
    with django_assert_num_queries(4):
        assert page(client, section) == changed

    assert "Comment number 2." in first
    assert "Said better." in changed
    assert "Comment number 2." not in changed
    fragments_read = edited.captured_queries[-2]["sql"]  # before the outline
    assert f"ANY('{{{comments[2].pk}}}'" in fragments_read  # the edited one alone


def test_a_fragment_rewritten_by_sql_alone_is_read_anew(postgres_only, client, section, ann, post):
    """The hash a page reads in a fragment's place is kept by PostgreSQL with the row
    (Comment.fragment_hash), whoever writes the fragment: here an UPDATE of it alone,
    as Comment.objects.render_fragments sends."""
    comment = post(ann, "First words.")
    first = page(client, section)  # this process now keeps its fragment
    rewritten = comment.fragment.replace("First words.", "Rewritten by SQL.")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE forum_comment SET fragment = %s WHERE id = %s", [rewritten, comment.pk]
        )
        cursor.execute("SELECT hashtextextended(%s, 0)", [rewritten])
        (expected,) = cursor.fetchone()

    assert "First words." in first
    assert hash_of(comment) == expected
    assert "Rewritten by SQL." in page(client, section)


def test_a_process_keeps_fragments_up_to_its_budget_the_first_kept_going_first(
    postgres_only, section, ann, post
):
    first, second, third = (post(ann, f"Comment {n}.") for n in range(3))
    one = KeptFragments.size_of(tuple(first.fragment.split(SEP)))
    kept = KeptFragments(budget=2 * one + 10)

    # One at a time: rows of one query come in no set order, and this is about the order kept.
    read = {}
    for comment in (first, second, third):
        read |= kept.read([comment.pk])

    assert set(read) == {first.pk, second.pk, third.pk}
    assert read[first.pk] == tuple(first.fragment.split(SEP))
    assert kept.get((first.pk, hash_of(first))) is None  # beyond the budget: gone
    assert kept.get((second.pk, hash_of(second))) == read[second.pk]
    assert kept.get((third.pk, hash_of(third))) == read[third.pk]


def test_a_kept_fragment_never_shows_a_comment_a_moderator_removed_since(
    postgres_only, client, section, ann, ben, mo, post
):
    """What a page may show of a comment comes from its row (status, whose it is), not
    from the fragments a process keeps: those hold only what a published one shows."""
    answered = post(ann, "Clean at first, answered.")
    post(ben, "Ben answers.", parent=answered)
    alone = post(ann, "Clean at first, alone.")
    first = page(client, section)  # this process now keeps all three fragments
    for comment in (answered, alone):
        comment.moderate(mo, "remove", "Spam after all.")

    after = page(client, section)

    assert "Clean at first, answered." in first
    assert "Clean at first, alone." in first
    assert "Clean at first" not in after
    assert "[removed by a moderator]" in after  # the answered one, as a placeholder
    assert "Ben answers." in after
