"""A section page's rows kept between changes (forum.threads.KEPT_PAGES): a member's
repeat view reads no comment rows, and every viewer still sees just what their rule of
visibility shows them, with their own votes, follows and rights."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from forum import threads
from forum.models import Comment
from forum.threads import KEPT_PAGES, KeptPages, PageComment, ThreadPage
from tests.conftest import keep_fragments

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock(reader_cache):
    """The readers' cache on (shared versions), so pages' rows are kept; in one minute."""
    return reader_cache


def page(client, section, viewer=None) -> str:
    if viewer is not None:
        client.force_login(viewer)
    response = client.get(section.get_absolute_url())
    assert response.status_code == 200
    return response.text


def comment_rows_read(queries) -> int:
    """How many queries read the page's comments (the page of threads, their rows)."""
    return sum(q["sql"].startswith('SELECT "forum_comment".') for q in queries)


def two_views(client, section, viewer):
    """The queries of a viewer's first view of the section page and of their repeat
    view (every comment's fragment kept, as in a process that has shown them)."""
    client.force_login(viewer)
    keep_fragments()
    with CaptureQueriesContext(connection) as first:
        client.get(section.get_absolute_url())
    with CaptureQueriesContext(connection) as repeat:
        client.get(section.get_absolute_url())
    return first, repeat


def test_a_members_repeat_view_reads_no_comment_rows(client, section, ann, ben, dan, post):
    post(ben, "Ben opens.", parent=post(ann, "Ann's thread."))
    first, repeat = two_views(client, section, dan)

    assert comment_rows_read(first.captured_queries) == 2  # the page of threads, its rows
    assert comment_rows_read(repeat.captured_queries) == 0
    assert len(repeat) == len(first) - 2


def test_a_members_repeat_view_asks_the_page_cache_once_for_the_versions(
    client, section, ann, dan, post, cache_calls
):
    post(ann, "A thread of Ann's.")
    two_views(client, section, dan)
    cache_calls.clear()

    html = page(client, section)

    # The essays' content version and the section's discussion version, read together.
    assert cache_calls == ["get_many"]
    assert "A thread of Ann" in html


def test_another_member_gets_the_kept_rows_with_their_own_votes_and_rights(
    client, section, ann, ben, dan, post
):
    anns = post(ann, "Ann's thread.")
    bens = post(ben, "Ben's thread.")
    page(client, section, dan)  # kept

    html = page(client, section, ben)

    assert reverse("edit_comment", args=[bens.pk]) in html  # his own
    assert reverse("edit_comment", args=[anns.pk]) not in html
    assert reverse("vote", args=[anns.pk]) in html
    assert reverse("vote", args=[bens.pk]) not in html  # not on his own
    assert "Upvoted" not in html


def test_a_vote_shows_on_the_next_view_of_everyone(
    client, section, ann, ben, dan, post, django_capture_on_commit_callbacks
):
    anns = post(ann, "Ann's thread.")
    page(client, section, dan)  # kept
    client.force_login(ben)
    with django_capture_on_commit_callbacks(execute=True):  # the version moves on commit
        assert client.post(reverse("vote", args=[anns.pk])).status_code == 302

    assert "Upvoted" in page(client, section, ben)
    dans = page(client, section, dan)
    assert "1 point" in dans
    assert "Upvoted" not in dans


def test_a_new_name_shows_on_the_next_view(
    client, section, ann, dan, post, django_capture_on_commit_callbacks
):
    post(ann, "Ann's thread.")
    assert "Ann Arbor" not in page(client, section, dan)  # kept
    with django_capture_on_commit_callbacks(execute=True):
        ann.display_name = "Ann Arbor"
        ann.save()

    assert "Ann Arbor" in page(client, section, dan)


def test_a_held_comment_shows_to_its_author_though_others_rows_are_kept(
    client, section, ann, ben, dan, post, premoderate_all
):
    post(ann, "Held for review.")
    assert "Held for review." not in page(client, section, dan)  # kept, without it

    assert "Held for review." in page(client, section, ann)
    assert "Awaiting review: only you and the moderators" in page(client, section, ann)
    assert "Held for review." not in page(client, section, ben)


def test_a_removed_comments_author_still_reads_why_though_others_rows_are_kept(
    client, section, ann, dan, mo, post
):
    post(ann, "Rude words.").moderate(mo, "remove", "insults are not allowed here")
    assert "Rude words." not in page(client, section, dan)  # kept, without it

    html = page(client, section, ann)

    assert "Rude words." in html
    assert "Removed by a moderator. Reason: insults are not allowed here" in html


def test_a_suspended_members_own_removed_comment_still_shows_to_them(client, section, eve, dan, mo):
    hers = Comment.objects.get(author=eve)
    hers.moderate(mo, "remove", "link spam")
    assert "Harmless at first." not in page(client, section, dan)  # kept, without it

    assert "Harmless at first." in page(client, section, eve)


def test_the_moderators_rows_are_kept_for_moderators_alone(
    client, section, ann, dan, mo, post, premoderate_all
):
    post(ann, "Held for review.")
    assert "Held for review." in page(client, section, mo)  # kept: everything

    assert "Held for review." not in page(client, section, dan)
    assert "Held for review." in page(client, section, mo)


def test_a_change_made_without_a_new_version_shows_within_the_minute(
    client, section, ann, dan, post, clock
):
    """The bound the readers' cache has: a change whose version was not written (here
    one made past the model's signals) shows once the minute is over."""
    anns = post(ann, "Soon gone.")
    assert "Soon gone." in page(client, section, dan)
    Comment.objects.filter(pk=anns.pk).update(status=Comment.Status.REMOVED)
    assert "Soon gone." in page(client, section, dan)  # the minute's rows

    clock.next_minute()

    assert "Soon gone." not in page(client, section, dan)


def test_nothing_is_kept_without_the_readers_cache(client, section, ann, dan, post, settings):
    """A per-process cache (READER_CACHE off) would not see other processes' changes."""
    settings.READER_CACHE = False
    post(ann, "Ann's thread.")
    first, repeat = two_views(client, section, dan)

    assert comment_rows_read(repeat.captured_queries) == comment_rows_read(first.captured_queries)
    assert len(KEPT_PAGES._kept) == 0


def test_a_cursor_that_is_not_one_keeps_nothing(client, section, ann, dan, post):
    """Any text as a cursor shows the first page (not canonical): kept, each would push
    out the pages the site links to."""
    post(ann, "Ann's thread.")
    client.force_login(dan)

    for junk in ("x", "0.1", "1.1.1%00", "9" * 40):
        assert client.get(f"{section.get_absolute_url()}?after={junk}").status_code == 200

    assert len(KEPT_PAGES._kept) == 0


def kept_page(comments: int) -> tuple:
    """What section_discussion keeps of a page of `comments` held comments."""
    blank = PageComment(*[None] * len(PageComment._fields))
    return ThreadPage(ids=[]), comments, [], (blank,) * comments


def test_beyond_its_budget_the_first_page_kept_goes_first():
    kept = KeptPages(budget=10)
    for name in ("first", "second", "third"):
        kept.put((name,), kept_page(4))  # 5 each, with the page itself

    assert kept.get(("first",)) is None
    assert kept.get(("second",)) is not None
    assert kept.get(("third",)) is not None


def test_rows_kept_for_everyone_are_read_by_the_readers_rule_not_the_members(
    client, section, ann, ben, dan, post, premoderate_all, monkeypatch,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    """A member with no comment only they see gets the readers' rows, kept for everyone.
    If their own held comment is committed (another tab of theirs) between the query
    that found they had none and the one that reads the page's rows, the rows kept for
    everyone must still be the readers': not ones with Dan's held text in them."""
    asked = threads._viewer_in_section

    def then_dan_posts_elsewhere(user, section_id):
        found = asked(user, section_id)
        if user == dan and not Comment.objects.filter(author=dan).exists():
            with django_capture_on_commit_callbacks(execute=True):  # committed, bumped
                post(dan, "Dan's held words.")
        return found

    monkeypatch.setattr(threads, "_viewer_in_section", then_dan_posts_elsewhere)
    page(client, section, dan)  # kept for everyone who sees the readers' rows

    assert "Dan's held words." not in page(client, section, ben)
    client.logout()
    assert "Dan's held words." not in page(client, section)
    assert "Dan's held words." in page(client, section, dan)  # his own, on his next view


def test_only_the_pages_the_site_links_to_are_kept(client, section, ann, dan, post, settings):
    """A page is kept under its URL's parameters: text the page does not go by (a second
    cursor beside the first, a cursor spelt with leading zeros, a paragraph nobody
    quotes) would be a key of its own each time, pushing out the pages readers use."""
    settings.COMMENTS_PAGE_SIZE = 1
    quoting = [post(ann, f"Thread {n}.") for n in range(3)][-1]
    Comment.objects.filter(pk=quoting.pk).update(anchor_paragraph="p-0000abcd")
    after = threads.thread_page(section.pk, dan, "oldest").next_cursor
    pinned, micros, pk = after.split(".")
    client.force_login(dan)
    url = f"{section.get_absolute_url()}?sort=oldest"

    def shown(query: str) -> None:
        assert client.get(f"{url}&{query}").status_code == 200

    shown(f"after={after}")  # kept
    shown("passage=p-0000abcd")  # kept: a thread quotes it
    for junk in ("x", "1.1.1", "%00"):
        shown(f"after={after}&before={junk}")
    shown(f"after={pinned}.0{micros}.{pk}")
    shown(f"after={pinned}.{micros}.00{pk}")
    for paragraph in ("p-00000000", "p-00000000-1", "p-00000000-2"):
        shown(f"after={after}&passage={paragraph}")

    assert len(KEPT_PAGES._kept) == 2
