"""A section page costs a fixed number of queries however big its discussion is, and
simultaneous writers never lose a reply or a vote (PostgreSQL)."""

import gc
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from forum.models import Comment, Refused, Subscription, Vote
from forum.threads import Node
from tests.conftest import keep_fragments, make_member

pytestmark = pytest.mark.django_db


def seed(section, size):
    call_command(
        "seed_discussion",
        "--section",
        section.slug,
        "--comments",
        size,
        "--top-level",
        max(1, size // 7),
        "--users",
        12,
        "--max-depth",
        5,
        stdout=StringIO(),
    )


def shown(html):
    return len(re.findall(r'<article class="comment', html))


@pytest.mark.parametrize("size", [12, 400])
def test_an_anonymous_readers_section_page_costs_four_queries(
    client, section, settings, size, django_assert_num_queries
):
    settings.COMMENTS_PAGE_SIZE = 1000
    seed(section, size)
    keep_fragments()  # (test_a_process_reads_each_fragment_once: the query more before)

    # The section and essay; the page of top-level comments (all of them: none to
    # count); every visible comment of those threads, in order, with authors; the outline.
    with django_assert_num_queries(4):
        response = client.get(section.get_absolute_url())

    assert shown(response.text) == size
    assert re.search(rf">{size // 7} threads?<", response.text)


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "next threads"])
def test_a_pages_comments_are_freed_as_it_is_sent_not_by_the_garbage_collector(
    client, section, ann, settings, htmx
):
    """forum.threads.Discussion: the template's context is a reference cycle, and the
    comments it reached waited for the collector with it (a millisecond of a
    1,000-comment page, and the worker's memory in between)."""
    settings.COMMENTS_PAGE_SIZE = 1000
    seed(section, 40)
    client.force_login(ann)
    headers = {"HX-Request": "true"} if htmx else {}
    gc.collect()
    gc.disable()
    try:
        response = client.get(section.get_absolute_url(), headers=headers)
        alive = sum(isinstance(thing, Node) for thing in gc.get_objects())
    finally:
        gc.enable()

    assert shown(response.text) == 40
    assert alive == 0


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "next threads"])
def test_a_pages_comments_are_sent_as_made_not_copied_into_one_buffer_first(
    client, section, ann, settings, htmx
):
    """forum.rendering.render_with_threads: the page around the comments, the comments,
    the rest of the page; their length told, so that nothing joins them to count."""
    settings.COMMENTS_PAGE_SIZE = 1000
    seed(section, 40)
    client.force_login(ann)
    headers = {"HX-Request": "true"} if htmx else {}

    response = client.get(section.get_absolute_url(), headers=headers)
    pieces = list(response)

    assert len(pieces) == 3
    assert shown(pieces[1].decode()) == 40
    assert int(response["Content-Length"]) == sum(map(len, pieces)) == len(response.content)


def test_a_page_that_does_not_hold_every_thread_counts_them_in_one_query_more(
    client, section, settings, django_assert_num_queries
):
    settings.COMMENTS_PAGE_SIZE = 10
    seed(section, 400)  # 57 threads
    keep_fragments()

    with django_assert_num_queries(5):
        first = client.get(section.get_absolute_url())
    assert "57 threads" in first.text
    later = re.search(r'href="(\?sort=oldest&amp;after=[0-9.]+)#threads"', first.text)[1]
    with django_assert_num_queries(5):
        second = client.get(section.get_absolute_url() + later.replace("&amp;", "&"))
    assert "57 threads" in second.text


@pytest.mark.parametrize("size", [12, 400])
def test_a_members_section_page_costs_six_queries(
    client, section, ann, settings, size, django_assert_num_queries
):
    settings.COMMENTS_PAGE_SIZE = 1000
    seed(section, size)
    client.force_login(ann)
    client.get("/")  # the member has been browsing: their session record exists
    keep_fragments()

    # The member, read with whether they may write (verified, not suspended; the session
    # itself comes from the cache); the section and essay; the page of top-level
    # comments (all of them); the threads; the member's votes, what they follow (the
    # section, threads) in the section and whether anything is unread for the bell (it
    # is not), in one; the outline.
    with django_assert_num_queries(6):
        response = client.get(section.get_absolute_url())

    assert shown(response.text) == size


def test_a_page_holding_comments_shown_whole_reads_their_texts_in_one_query_more(
    client, section, ann, ben, post, settings, django_assert_num_queries
):
    """A page reads no text its stored fragments hold (forum.threads._fill_in): what an
    author alone sees of their held or removed comments comes in one query more, however
    many there are, and nobody else's page pays for it."""
    settings.COMMENTS_PAGE_SIZE = 1000
    seed(section, 40)
    held = [post(ann, f"Held number {n}.") for n in range(3)]
    Comment.objects.filter(pk__in=[c.pk for c in held[:2]]).update(status="pending")
    Comment.objects.filter(pk=held[2].pk).update(status="removed", moderation_reason="Off topic")
    for member in (ann, ben):
        client.force_login(member)
        client.get("/")
    keep_fragments()

    client.force_login(ben)
    with django_assert_num_queries(6):
        others = client.get(section.get_absolute_url()).text
    client.force_login(ann)
    with django_assert_num_queries(7):
        authors = client.get(section.get_absolute_url()).text

    assert "Held number" not in others
    assert all(f"Held number {n}." in authors for n in range(3))
    assert "Reason: Off topic" in authors
    assert shown(others) == 40
    assert shown(authors) == 43


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is tested on PostgreSQL (CI runs it there)")


def run_at_once(work, count):
    def job(n):
        try:
            return work(n)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(job, range(count)))


def test_many_replies_at_once_to_one_comment_are_all_stored(
    postgres_only, transactional_db, section
):
    people = [make_member(f"writer{n}") for n in range(8)]
    root, _ = Comment.objects.post(section=section, author=people[0], body="Reply to me")

    run_at_once(
        lambda n: Comment.objects.post(
            section=section, author=people[n % 8], body=f"Reply {n}", parent=root
        ),
        40,
    )

    root.refresh_from_db()
    replies = Comment.objects.filter(parent=root)
    assert replies.count() == 40
    assert root.reply_count == 40
    assert len(set(replies.values_list("path", flat=True))) == 40
    assert all(path.startswith(root.path) for path in replies.values_list("path", flat=True))


def test_the_same_form_sent_many_times_at_once_creates_one_comment(
    postgres_only, transactional_db, section
):
    ann = make_member("ann")
    token = uuid.uuid4()

    results = run_at_once(
        lambda n: Comment.objects.post(section=section, author=ann, body="Once", token=token), 10
    )

    assert Comment.objects.count() == 1
    assert sum(created for _, created in results) == 1


def test_votes_at_once_are_all_counted(postgres_only, transactional_db, section):
    people = [make_member(f"voter{n}") for n in range(12)]
    comment, _ = Comment.objects.post(section=section, author=people[0], body="Vote")

    run_at_once(lambda n: Vote.objects.cast(people[1 + n % 11], comment), 33)

    comment.refresh_from_db()
    assert comment.score == Vote.objects.count() == 11


def test_a_reply_to_a_comment_deleted_at_that_moment_is_refused_cleanly(section):
    ann, ben = make_member("ann"), make_member("ben")
    parent, _ = Comment.objects.post(section=section, author=ann, body="Soon gone")
    form_sees_parent = Comment.objects.get(pk=parent.pk)
    parent.delete_by_author()  # gone between the form's check and the insert

    with pytest.raises(Refused, match="Only published comments can be answered"):
        Comment.objects.post(section=section, author=ben, body="Reply", parent=form_sees_parent)
    assert not Comment.objects.filter(parent=parent).exists()


def test_a_vote_on_a_comment_deleted_at_that_moment_is_refused_cleanly(section):
    ann, ben = make_member("ann"), make_member("ben")
    comment, _ = Comment.objects.post(section=section, author=ann, body="Soon gone")
    stale = Comment.objects.get(pk=comment.pk)
    comment.delete_by_author()

    with pytest.raises(Refused, match="Only published comments can be voted on"):
        Vote.objects.cast(ben, stale)
    assert not Vote.objects.exists()


def test_a_members_votes_and_follows_on_a_long_page_are_theirs_and_this_sections(
    client, essay, section, ann, ben, dan, post, settings
):
    # Past a few dozen comments, votes and follows are looked up by section, not by id.
    settings.COMMENTS_PAGE_SIZE = 100
    comments = [post(ann, f"Comment {n}") for n in range(60)]
    elsewhere = post(ann, "Elsewhere", on=essay.sections.get(slug="introduction"))
    for comment in (comments[3], comments[41], elsewhere):
        Vote.objects.cast(ben, comment)
        Subscription.objects.follow(ben, thread=comment)
    Vote.objects.cast(dan, comments[7])  # someone else's vote
    client.force_login(ben)

    html = client.get(section.get_absolute_url()).text

    def pressed(comment, label):
        article = html[html.index(f'id="c-{comment.pk}"') :]
        return label in article[: article.index("</article>")]

    assert [n for n, c in enumerate(comments) if pressed(c, "&#9650; Upvoted")] == [3, 41]
    assert [n for n, c in enumerate(comments) if pressed(c, "&#10003; Following")] == [3, 41]


def test_posting_a_reply_costs_a_fixed_number_of_queries(
    client, section, ann, ben, dan, post, django_assert_num_queries
):
    """Posting a reply (no htmx: a 302) decides who is told in the request, and costs
    the same few queries however many people are told."""
    from django.urls import reverse

    from forum.models import Notification

    followers = [make_member(f"reader{n}") for n in range(3)]
    for reader in [dan, *followers]:
        Subscription.objects.follow(reader, section=section)
    parent = post(ben, "Ben's point.")
    client.force_login(ann)
    client.get("/")  # the member has been browsing: their session record exists
    url = reverse("post_comment", args=[section.essay.slug, section.slug])
    form = {"body": "Ann answers.", "parent": parent.pk, "token": uuid.uuid4()}

    # The member, read with whether they may write; the section and essay; the
    # parent, as the member sees it; the moderation policy (read once). In the form's
    # transaction: the member's row lock; the day's writes (all the posting limits, one
    # query; a token sent before is found by its unique index, not looked up). In
    # post()'s: the parent's row lock with its reply count (one UPDATE); the comment (in
    # a savepoint: a token sent before), and the parent's `answered`, now true (two
    # queries); its path and search text (one UPDATE); following its thread (one
    # INSERT). Who is told: one INSERT ... SELECT of the followers and the parent's
    # author who may be told, each with their reason. Here the
    # transactions are savepoints (the test's own transaction is outside), 2 + 2
    # queries; PostgreSQL also share-locks the section's row against a new revision.
    with django_assert_num_queries(19 if connection.vendor == "sqlite" else 20):
        response = client.post(url, form)

    assert response.status_code == 302
    reply = Comment.objects.get(body="Ann answers.")
    told = dict(Notification.objects.filter(comment=reply).values_list("recipient", "kind"))
    assert told == {
        ben.pk: Notification.Kind.REPLY,
        dan.pk: Notification.Kind.SECTION,
        **{reader.pk: Notification.Kind.SECTION for reader in followers},
    }
    assert Subscription.objects.filter(user=ann, thread=reply).exists()
    assert Comment.objects.get(pk=parent.pk).reply_count == 1

    # A second reply: the parent, read under its lock, is answered already, so the two
    # queries for its `answered` are not sent.
    form = {"body": "Ann again.", "parent": parent.pk, "token": uuid.uuid4()}
    with django_assert_num_queries(17 if connection.vendor == "sqlite" else 18):
        assert client.post(url, form).status_code == 302
    assert Comment.objects.get(pk=parent.pk).reply_count == 2
    assert Comment.objects.get(pk=parent.pk).answered
