"""Atom feeds of new comments, for an essay and for a section. They hold exactly what a
reader without an account may see (the same visibility rule as every page). A reply
names the comment it answers with the threading extension (RFC 4685, thr:in-reply-to)."""

from urllib.parse import urljoin

from django.contrib.auth.models import AnonymousUser
from django.contrib.syndication.views import Feed
from django.shortcuts import get_object_or_404
from django.utils.feedgenerator import Atom1Feed

from essays.models import Essay, Section
from forum.models import Comment

FEED_SIZE = 50


def public_comments():
    return (
        Comment.objects.visible_to(AnonymousUser())
        .published()
        .select_related("author", "section__essay")
        .order_by("-created_at", "-pk")
    )


THREADING = "http://purl.org/syndication/thread/1.0"


class ThreadedAtomFeed(Atom1Feed):
    """Atom with RFC 4685's thr:in-reply-to on replies."""

    def root_attributes(self):
        return super().root_attributes() | {"xmlns:thr": THREADING}

    def add_item_elements(self, handler, item):
        super().add_item_elements(handler, item)
        if parent := item.get("in_reply_to"):
            # The parent's entry id is its permalink, as every entry's is.
            url = urljoin(self.feed["link"], parent)
            handler.addQuickElement(
                "thr:in-reply-to", None, {"ref": url, "href": url, "type": "text/html"}
            )


class CommentFeed(Feed):
    feed_type = ThreadedAtomFeed

    def item_extra_kwargs(self, comment):
        if comment.parent_id is None:
            return {}
        return {"in_reply_to": Comment(pk=comment.parent_id).get_absolute_url()}

    def item_title(self, comment):
        who = comment.author.public_name if comment.author else "deleted user"
        return f"{who} on “{comment.section.heading}”"

    def item_description(self, comment):
        return comment.body_html  # sanitized when saved

    def item_link(self, comment):
        return comment.get_absolute_url()

    def item_pubdate(self, comment):
        return comment.created_at

    def item_updateddate(self, comment):
        return comment.edited_at or comment.created_at

    def item_author_name(self, comment):
        return comment.author.public_name if comment.author else "deleted user"


class EssayCommentsFeed(CommentFeed):
    def get_object(self, request, essay_slug):
        return get_object_or_404(Essay.objects.published(), slug=essay_slug)

    def title(self, essay):
        return f"New comments on “{essay.title}”"

    def link(self, essay):
        return essay.get_absolute_url()

    def subtitle(self, essay):
        return essay.summary

    def items(self, essay):
        return public_comments().filter(section__essay=essay)[:FEED_SIZE]


class SectionCommentsFeed(CommentFeed):
    def get_object(self, request, essay_slug, section_slug):
        return get_object_or_404(
            Section.objects.select_related("essay").filter(essay__is_published=True),
            essay__slug=essay_slug,
            slug=section_slug,
        )

    def title(self, section):
        return f"New comments on “{section.heading}” ({section.essay.title})"

    def link(self, section):
        return section.get_absolute_url()

    def items(self, section):
        return public_comments().filter(section=section)[:FEED_SIZE]
