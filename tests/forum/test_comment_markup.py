"""The markup of comments and their forms meets the HTML standard and stays true in place:
no links inside a fold's <summary>, help texts that aria-describedby can find, data-hx-*
attributes only, <time datetime> without microseconds, and counts of what a fold or a
"Continue this thread" link hides."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse, set_script_prefix

from tests.conftest import keep_fragments
from tests.html import INTERACTIVE, elements

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def discussion(section, ann, ben, post):
    """Ann's thread with Ben's reply (and hers), Ben's comment edited. Ben is no new
    account, so that posting limits for those leave him alone."""
    ben.date_joined -= timedelta(days=365)
    ben.save()
    first = post(ann, "A first thought with a [link](https://example.org).")
    reply = post(ben, "An answer.", parent=first)
    post(ann, "Thanks.", parent=reply)
    edited = post(ben, "Second thread.")
    edited.edit("Second thread, edited.", by=ben)
    return first


def pages(client, section, first, ben):
    """The pages and fragments that carry comments and their forms, as Ben sees them."""
    client.force_login(ben)
    yield "section", client.get(section.get_absolute_url()).text
    yield "thread", client.get(reverse("thread", args=[first.pk])).text
    yield "reply page", client.get(reverse("reply", args=[first.pk])).text
    yield "reply fragment", client.get(reverse("reply", args=[first.pk]), headers=HTMX).text
    mine = first.replies.get()
    yield "edit page", client.get(reverse("edit_comment", args=[mine.pk])).text
    yield "edit fragment", client.get(reverse("edit_comment", args=[mine.pk]), headers=HTMX).text
    url = reverse("post_comment", args=[section.essay.slug, section.slug])
    yield "posted fragment", client.post(url, {"body": "In place."}, headers=HTMX).text
    yield "profile", client.get(reverse("profile", args=["ann"])).text


def test_a_folds_summary_holds_no_links_or_buttons(client, section, discussion, ben):
    for name, html in pages(client, section, discussion, ben):
        inside = [tag for tag, _, ancestors in elements(html) if "summary" in ancestors]
        assert not INTERACTIVE & set(inside), name
    html = client.get(section.get_absolute_url()).text
    summaries = re.findall(r'<summary class="comment__toggle">(.*?)</summary>', html)
    assert len(summaries) == 5  # the four of the fixture, and one posted in place
    assert all("Fold or unfold this comment" in s for s in summaries)


def test_the_header_outside_the_fold_keeps_the_author_and_permalink(client, section, discussion):
    html = client.get(section.get_absolute_url()).text
    header = re.search(
        rf'<header class="comment__meta" id="c-{discussion.pk}-meta">(.*?)</header>', html
    )
    assert 'href="/people/ann/"' in header[1]
    assert f'href="{reverse("comment", args=[discussion.pk])}"' in header[1]


def test_every_aria_describedby_names_an_element_on_the_same_page(client, section, discussion, ben):
    for name, html in pages(client, section, discussion, ben):
        found = elements(html)
        ids = {attrs["id"] for _, attrs, _ in found if "id" in attrs}
        described = [
            ref for _, attrs, _ in found for ref in (attrs.get("aria-describedby") or "").split()
        ]
        if name in {"section", "reply page", "reply fragment", "edit page", "edit fragment"}:
            assert described, name  # the forms do describe their fields
        assert set(described) <= ids, name


def test_htmx_attributes_are_all_written_as_valid_data_attributes(client, section, discussion, ben):
    for name, html in pages(client, section, discussion, ben):
        attributes = {key for _, attrs, _ in elements(html) for key in attrs}
        assert not {key for key in attributes if key.startswith("hx-")}, name
        if name != "profile":
            assert any(key.startswith("data-hx-") for key in attributes), name


def test_time_datetime_has_no_fraction_of_a_second(client, section, discussion, ben, mo):
    seen = []
    for _, html in pages(client, section, discussion, ben):
        seen += [attrs["datetime"] for tag, attrs, _ in elements(html) if tag == "time"]
    client.force_login(mo)
    for url in (reverse("notifications"), reverse("search") + "?q=thought"):
        html = client.get(url).text
        seen += [attrs["datetime"] for tag, attrs, _ in elements(html) if tag == "time"]
    assert len(seen) >= 10
    for value in seen:
        assert re.fullmatch(r"\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\d[+-]\d\d:\d\d)?", value), value


def test_a_new_top_level_comment_in_place_updates_the_thread_count(client, section, ann, post):
    client.force_login(ann)
    url = reverse("post_comment", args=[section.essay.slug, section.slug])

    first = client.post(url, {"body": "One."}, headers=HTMX).text
    second = client.post(url, {"body": "Two."}, headers=HTMX).text

    assert re.search(r'id="thread-count" data-hx-swap-oob="true">1 thread<', first)
    assert re.search(r'id="thread-count" data-hx-swap-oob="true">2 threads<', second)
    # Swapped, not deleted: the next post finds it again.
    assert re.search(r'<p [^>]*id="no-comments" hidden data-hx-swap-oob="true"', second)


def test_an_edit_in_place_sends_the_header_with_its_edited_marker(client, ann, post):
    comment = post(ann, "Before.")
    client.force_login(ann)

    html = client.post(
        reverse("edit_comment", args=[comment.pk]), {"body": "After."}, headers=HTMX
    ).text

    header = re.search(
        rf'<header class="comment__meta" id="c-{comment.pk}-meta"[^>]*>.*?</header>', html
    )
    assert 'data-hx-swap-oob="true"' in header[0]
    assert "edited <time datetime=" in header[0]
    assert f'id="c-{comment.pk}-body"' in html


def test_an_edit_is_previewed_without_being_saved(client, ann, post):
    comment = post(ann, "Before.")
    client.force_login(ann)
    url = reverse("preview_edit", args=[comment.pk])

    fragment = client.post(url, {"body": "**After**"}, headers=HTMX)
    page = client.post(url, {"body": "**After**"})
    empty = client.post(url, {"body": "  "}, headers=HTMX)

    assert "<strong>After</strong>" in fragment.text
    assert "<strong>After</strong>" in page.text
    assert "Save changes" in page.text
    assert "delete it instead" in empty.text
    comment.refresh_from_db()
    assert comment.body == "Before."


def test_only_the_author_may_preview_an_edit(client, ben, ann, post):
    comment = post(ann, "Mine.")
    client.force_login(ben)

    response = client.post(reverse("preview_edit", args=[comment.pk]), {"body": "Theirs"})

    assert response.status_code == 403


def test_folds_and_continue_links_say_how_many_comments_they_lead_to(
    client, section, ann, ben, settings, post
):
    settings.COMMENTS_DISPLAY_DEPTH = 3
    top = post(ann, "Level 0")
    chain = [top]
    for level in range(1, 6):
        chain.append(post(ben if level % 2 else ann, f"Level {level}", parent=chain[-1]))
    post(ben, "Beside level 1", parent=top)

    html = client.get(section.get_absolute_url()).text

    # Shown: levels 0-2 and the one beside; levels 3-5 continue below level 2.
    assert "Continue this thread (3 replies) &#8594;" in html
    assert re.search(rf'id="c-{top.pk}-meta">.*?>6 replies folded<', html)
    assert re.search(rf'id="c-{chain[1].pk}-meta">.*?>4 replies folded<', html)
    assert "Fold or unfold this comment and 6 replies" in html

    thread = client.get(reverse("thread", args=[chain[2].pk])).text
    assert "Continue this thread (1 reply) &#8594;" in thread  # level 5, below level 4


def test_counting_what_continues_costs_one_query_however_many_continue(
    client, section, ann, ben, settings, post, django_assert_num_queries
):
    settings.COMMENTS_DISPLAY_DEPTH = 2
    for n in range(5):
        parent = post(ann, f"Thread {n}")
        for _ in range(3 + n):
            parent = post(ben, "Deeper", parent=parent)

    keep_fragments()

    # The section and essay; the page of top-level comments (all of them); every
    # visible comment of those threads; the paths below the comments that continue; the
    # outline.
    with django_assert_num_queries(5):
        html = client.get(section.get_absolute_url()).text

    assert html.count("Continue this thread (") == 5
    assert "Continue this thread (6 replies) &#8594;" in html


def test_no_template_or_script_writes_a_bare_hx_attribute(settings):
    """Fragments and pages the tests above do not open are held to it too."""
    base = settings.BASE_DIR
    sources = [
        *(base / "templates").rglob("*.html"),
        *(base / "static" / "js").glob("*.js"),
        *(base / "forum").glob("*.py"),
    ]
    bare = [
        f"{path.relative_to(base)}: {match[0]}"
        for path in sources
        for match in re.finditer(r"(?<![-\w])hx-[a-z-]+=", path.read_text())
    ]
    assert len(sources) > 30
    assert bare == []


def test_a_reply_in_place_sends_its_ancestors_headers_with_their_new_counts(
    client, section, ann, ben, post
):
    top = post(ann, "Top.")
    middle = post(ben, "Middle.", parent=top)
    post(ben, "Beside.", parent=top)
    client.force_login(ann)
    url = reverse("post_comment", args=[section.essay.slug, section.slug])

    html = client.post(url, {"body": "Below.", "parent": middle.pk}, headers=HTMX).text

    refreshed = re.search(r"<div hidden data-refreshes>(.*)</div>", html, re.S)[1]
    headers = dict(re.findall(r'data-refresh="(c-\d+-meta)">(.*?)</header>', refreshed))
    assert set(headers) == {f"c-{top.pk}-meta", f"c-{middle.pk}-meta"}
    assert ">3 replies folded<" in headers[f"c-{top.pk}-meta"]
    assert ">1 reply folded<" in headers[f"c-{middle.pk}-meta"]


def test_a_date_after_a_week_is_the_local_day_even_a_second_either_side_of_midnight(rf, section):
    """Dates are made once per quarter of an hour (time zones differ from UTC by whole
    quarters): Kathmandu, UTC+5:45, begins its day at 18:15 UTC."""
    from datetime import UTC, datetime

    from django.contrib.auth.models import AnonymousUser
    from django.utils import timezone

    from forum.rendering import CommentRenderer

    request = rf.get("/")
    request.user = AnonymousUser()
    before = datetime(2024, 3, 9, 18, 14, 59, tzinfo=UTC)  # 23:59:59 on the 9th there
    after = datetime(2024, 3, 9, 18, 15, 0, tzinfo=UTC)  # midnight, the 10th
    with timezone.override("Asia/Kathmandu"):
        renderer = CommentRenderer(request, section)
        assert [renderer._ago(m) for m in (before, after, before)] == [
            "9 Mar 2024",
            "10 Mar 2024",
            "9 Mar 2024",
        ]


@pytest.mark.parametrize(
    "zone", ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC"]
)
def test_a_date_after_a_week_is_the_local_day_every_hour_of_a_year_with_clock_changes(
    rf, section, zone
):
    """The local day is worked out from each UTC day's offset, asked once (forum.
    rendering.CommentRenderer._date): on the days clocks change, and on either side of
    them, every moment still gets the day the time zone itself gives it."""
    from datetime import UTC, datetime, timedelta

    from django.contrib.auth.models import AnonymousUser
    from django.utils import timezone

    from forum.rendering import CommentRenderer

    request = rf.get("/")
    request.user = AnonymousUser()
    start = datetime(2024, 1, 1, 0, 7, 30, tzinfo=UTC)
    # Every hour of 2024, and each change of day in 2024 to the second either side.
    moments = [start + timedelta(hours=hours) for hours in range(366 * 24)]
    with timezone.override(zone):
        tz = timezone.get_current_timezone()
        for day in range(366):
            midnight = datetime(2024, 1, 1, tzinfo=tz) + timedelta(days=day)
            midnight = midnight.astimezone(UTC)
            moments += [midnight - timedelta(seconds=1), midnight]
        renderer = CommentRenderer(request, section)
        expected = [moment.astimezone(tz).strftime("%-d %b %Y") for moment in moments]
        assert [renderer._ago(moment) for moment in moments] == expected


def test_a_members_buttons_link_under_the_prefix_the_site_is_served_at(
    client, section, ann, ben, post
):
    """The addresses on a comment's buttons are made once per process (forum.rendering.
    _url_pattern), for each prefix a site is served under (SCRIPT_NAME), not once."""
    theirs = post(ben, "Served twice.")
    client.force_login(ann)
    page = section.get_absolute_url()

    plain = client.get(page).text
    set_script_prefix("/forum/")  # as the WSGI handler does for SCRIPT_NAME=/forum
    try:
        under = client.get(page).text
    finally:
        set_script_prefix("/")

    assert f'href="/comments/{theirs.pk}/reply/"' in plain
    assert f'href="/forum/comments/{theirs.pk}/reply/"' in under
    assert f'"/comments/{theirs.pk}/reply/"' not in under
    assert f'href="/comments/{theirs.pk}/reply/"' in client.get(page).text
