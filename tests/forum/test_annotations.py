"""The discussion as W3C Web Annotations (JSON-LD) and threaded Atom (RFC 4685), for other
tools: only what a reader without an account may see."""

import json
import uuid
import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse

from forum.models import Comment

pytestmark = pytest.mark.django_db

QUOTE = "competitive performance at a fraction of the compute cost"
MEDIA_TYPE = 'application/ld+json; profile="http://www.w3.org/ns/anno.jsonld"'


def respond(client, section, person, quote=QUOTE, parent=None):
    client.force_login(person)
    url = reverse("post_comment", args=[section.essay.slug, section.slug])
    data = {"body": f"From {person.username}.", "token": uuid.uuid4()}
    if quote:
        data["quote"] = quote
    if parent:
        data["parent"] = parent.pk
    client.post(url, data)
    client.logout()
    return Comment.objects.latest("pk")


def annotation(client, comment):
    response = client.get(reverse("comment_annotation", args=[comment.pk]))
    assert response["Content-Type"] == MEDIA_TYPE
    return json.loads(response.content)


def test_a_quoting_comment_is_an_annotation_of_the_revision_it_answered(client, section, ann, ben):
    comment = respond(client, section, ann)
    section.refresh_from_db()
    first = section.current_revision
    section.revise(section.body_markdown.replace("competitive performance", "comparable output"))
    section.refresh_from_db()

    data = annotation(client, comment)

    assert data["@context"][0] == "http://www.w3.org/ns/anno.jsonld"
    assert data["type"] == "Annotation"
    assert data["motivation"] == "commenting"
    assert data["creator"] == {"type": "Person", "name": ann.public_name}
    assert data["body"]["value"] == comment.body_html
    assert data["anchorState"] == "changed"
    then, now = data["target"]
    assert then["selector"]["type"] == "TextQuoteSelector"
    assert then["selector"]["exact"] == QUOTE
    assert then["state"]["type"] == "TimeState"
    assert then["state"]["sourceDate"] == first.created_at.isoformat()
    assert then["state"]["cached"].endswith(
        reverse("section_revision", args=[section.essay.slug, section.slug, 1])
    )
    quote_selector, position = now["selector"]
    text = section.current_revision.body_text
    assert position["type"] == "TextPositionSelector"
    assert text[position["start"] : position["end"]] == quote_selector["exact"]
    assert quote_selector["exact"] == "comparable output at a fraction of the compute cost"


def test_a_reply_is_an_annotation_replying_to_its_parent(client, section, ann, ben):
    parent = respond(client, section, ann)
    reply = respond(client, section, ben, quote="", parent=parent)

    data = annotation(client, reply)

    assert data["motivation"] == "replying"
    assert data["target"] == f"http://testserver/comments/{parent.pk}/annotation.jsonld"


def test_the_section_collection_holds_only_what_anyone_may_read(client, section, ann, ben, mo):
    shown = respond(client, section, ann)
    removed = respond(client, section, ben, quote="genuine shock")
    removed.moderate(mo, "remove", "Off-topic.")
    client.force_login(ben)  # even its author, signed in, does not get it here

    response = client.get(reverse("section_annotations", args=[section.essay.slug, section.slug]))
    page = client.get(section.get_absolute_url()).text

    data = json.loads(response.content)
    assert response["Content-Type"] == MEDIA_TYPE
    assert data["type"] == "AnnotationCollection"
    assert [item["id"].rsplit("/", 2)[-2] for item in data["first"]["items"]] == [str(shown.pk)]
    assert "genuine shock" not in response.text
    assert client.get(reverse("comment_annotation", args=[removed.pk])).status_code == 404
    assert 'rel="alternate" type="application/ld+json"' in page


def test_atom_entries_of_replies_name_the_comment_they_answer(client, section, ann, ben):
    parent = respond(client, section, ann)
    respond(client, section, ben, quote="", parent=parent)

    response = client.get(reverse("section_feed", args=[section.essay.slug, section.slug]))

    root = ET.fromstring(response.content)  # noqa: S314  (our own feed)
    atom, thr = "{http://www.w3.org/2005/Atom}", "{http://purl.org/syndication/thread/1.0}"
    reply, first = root.findall(f"{atom}entry")
    assert first.find(f"{thr}in-reply-to") is None
    answered = reply.find(f"{thr}in-reply-to")
    assert answered.get("ref") == first.find(f"{atom}id").text
    assert answered.get("ref").endswith(parent.get_absolute_url())
