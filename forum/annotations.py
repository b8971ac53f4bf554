"""The discussion as W3C Web Annotations (JSON-LD), for other annotation tools.

A comment is an Annotation: its body the comment's text (HTML, sanitized when saved),
its creator the author's public name. A comment quoting a passage targets the section
with a TextQuoteSelector (the words and their context) at the revision it was written
against (a TimeState's sourceDate, and a cached copy: that revision's page); where the
passage stands in the current text is a second target with a TextPositionSelector, and
`anchorState` says whether it is the same words, reworded, in doubt or gone. A reply
targets the annotation it answers, with the motivation "replying".

Only what a reader without an account may see: the callers pass comments from
Comment.objects.visible_to(AnonymousUser()) and only those that show their text.
"""

from django.urls import reverse

from forum.models import AnchorState

CONTEXT = [
    "http://www.w3.org/ns/anno.jsonld",
    {"anchorState": {"@id": "urn:essay-forum:anchorState"}},
]
MEDIA_TYPE = 'application/ld+json; profile="http://www.w3.org/ns/anno.jsonld"'


def annotation_url(request, comment_id: int) -> str:
    return request.build_absolute_uri(reverse("comment_annotation", args=[comment_id]))


def annotation(request, comment, section, current) -> dict:
    """One comment as an Annotation. `current` is the section's current revision."""
    essay_section = [section.essay.slug, section.slug]
    source = request.build_absolute_uri(section.get_absolute_url())
    found = {
        "id": annotation_url(request, comment.pk),
        "type": "Annotation",
        "motivation": "replying" if comment.parent_id else "commenting",
        "created": comment.created_at.isoformat(),
        "creator": {
            "type": "Person",
            "name": comment.author.public_name if comment.author else "deleted user",
        },
        "body": {"type": "TextualBody", "value": comment.body_html, "format": "text/html"},
    }
    if comment.edited_at:
        found["modified"] = comment.edited_at.isoformat()
    if comment.parent_id:
        found["target"] = annotation_url(request, comment.parent_id)
        return found
    if not comment.quote_text:
        found["target"] = source
        return found
    written = comment.revision
    quoted = {
        "type": "SpecificResource",
        "source": source,
        "selector": {
            "type": "TextQuoteSelector",
            "exact": comment.quote_text,
            "prefix": comment.quote_before,
            "suffix": comment.quote_after,
        },
    }
    if written is not None:
        revision_url = reverse("section_revision", args=[*essay_section, written.number])
        quoted["state"] = {
            "type": "TimeState",
            "sourceDate": written.created_at.isoformat(),
            "cached": request.build_absolute_uri(revision_url),
        }
    targets = [quoted]
    if comment.anchor_start is not None and current is not None:
        now = {
            "type": "SpecificResource",
            "source": source,
            "state": {"type": "TimeState", "sourceDate": current.created_at.isoformat()},
            "selector": [
                {
                    "type": "TextQuoteSelector",
                    "exact": comment.anchor_text or comment.quote_text,
                },
                {
                    "type": "TextPositionSelector",
                    "start": comment.anchor_start,
                    "end": comment.anchor_end,
                },
            ],
        }
        targets.append(now)
    found["target"] = targets[0] if len(targets) == 1 else targets
    found["anchorState"] = comment.anchor_state or AnchorState.ANCHORED
    return found
