"""Atom feeds of new comments, for an essay and a section: valid, and only public."""

import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse

from forum.models import Comment

pytestmark = pytest.mark.django_db
ATOM = "{http://www.w3.org/2005/Atom}"


def entries(response):
    assert response["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)  # noqa: S314  (well-formed XML, or this raises)
    assert root.tag == f"{ATOM}feed"
    return [
        (e.find(f"{ATOM}title").text, e.find(f"{ATOM}link").get("href"))
        for e in root.findall(f"{ATOM}entry")
    ]


def test_a_section_feed_lists_its_public_comments_newest_first(client, essay, section, ann, post):
    first = post(ann, "First <b>bold</b> & more")
    second = post(ann, "Second")
    post(ann, "Elsewhere", on=essay.sections.get(slug="introduction"))
    for status in ("pending", "removed", "spam"):
        Comment.objects.filter(pk=post(ann, f"Hidden {status}").pk).update(status=status)

    found = entries(client.get(reverse("section_feed", args=[essay.slug, section.slug])))

    assert [link for _, link in found] == [
        f"http://testserver/comments/{second.pk}/",
        f"http://testserver/comments/{first.pk}/",
    ]
    assert found[0][0] == "ann on “The DeepSeek Moment”"


def test_an_essay_feed_covers_every_section(client, essay, section, ann, post):
    post(ann, "Here")
    post(ann, "There", on=essay.sections.get(slug="introduction"))

    found = entries(client.get(reverse("essay_feed", args=[essay.slug])))

    assert len(found) == 2


def test_pages_point_to_their_feeds(client, essay, section):
    essay_page = client.get(essay.get_absolute_url()).text
    section_page = client.get(section.get_absolute_url()).text

    feed = reverse("essay_feed", args=[essay.slug])
    assert f'type="application/atom+xml" title="New comments on “{essay.title}”"' in essay_page
    assert f'href="{feed}"' in essay_page
    assert f'href="{section.get_absolute_url()}feed.atom"' in section_page


def test_unpublished_essays_have_no_feed(client, essay, section):
    essay.is_published = False
    essay.save()

    assert client.get(reverse("essay_feed", args=[essay.slug])).status_code == 404
    assert client.get(reverse("section_feed", args=[essay.slug, section.slug])).status_code == 404


def test_essay_and_section_pages_show_a_visible_link_to_their_feed(client, essay, section):
    essay_page = client.get(essay.get_absolute_url()).text
    section_page = client.get(section.get_absolute_url()).text

    essay_feed = reverse("essay_feed", args=[essay.slug])
    assert f'<a class="feed-link" href="{essay_feed}"' in essay_page
    assert f'<a class="feed-link" href="{section.get_absolute_url()}feed.atom"' in section_page
