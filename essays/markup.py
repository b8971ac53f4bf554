"""Markdown to safe HTML: the one place where text becomes markup.

Everything that shows Markdown on the site goes through this module, so there is
one parser configuration and one allow-list to review.

The parser is markdown-it-py (CommonMark) with raw HTML disabled; its output is then
passed through bleach's allow-list. bleach is in maintenance mode (no new features,
security fixes only). It stays safe here because it only ever sees HTML that our own
renderer produced from Markdown with raw HTML switched off, never arbitrary HTML, and
the strict Content-Security-Policy blocks inline script even if something slipped by.
"""

import difflib
import hashlib
import re
from functools import partial
from html import unescape

import bleach
from bleach import html5lib_shim
from bleach.linkifier import LinkifyFilter
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

ESSAY_TAGS = {
    "p", "a", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "br", "hr",
    "h3", "h4", "h5", "h6", "img", "table", "thead", "tbody", "tr", "th", "td", "s",
}  # fmt: skip
ESSAY_ATTRIBUTES = {
    "p": ["id"],
    "a": ["href", "title", "class", "aria-label"],
    "img": ["src", "alt", "title"],
    "ol": ["start"],
    **{f"h{level}": ["id"] for level in range(3, 7)},
}
SAFE_PROTOCOLS = ["http", "https", "mailto"]

_whitespace = re.compile(r"\s+")


def paragraph_anchor(scope: str, text: str) -> str:
    """A short id for a paragraph that survives edits elsewhere in the text.

    It is derived from the paragraph's own words (and the section it belongs to),
    not from its position, so inserting or removing other paragraphs leaves every
    existing link to a passage working.
    """
    normalized = _whitespace.sub(" ", text).strip().lower()
    digest = hashlib.sha1(f"{scope}\n{normalized}".encode(), usedforsecurity=False)
    return "p-" + digest.hexdigest()[:8]


def _essay_parser(scope: str) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")
    seen: dict[str, int] = {}

    # Paragraphs and headings never nest, so a closing token belongs to the opening token
    # of its type seen last; remembering that one keeps rendering linear in the text.
    def paragraph_open(self, tokens, idx, options, env):
        token = tokens[idx]
        env["paragraph_open"] = token
        if token.level == 0:
            anchor = paragraph_anchor(scope, tokens[idx + 1].content)
            seen[anchor] = seen.get(anchor, 0) + 1
            if seen[anchor] > 1:  # the same words twice in one section
                anchor = f"{anchor}-{seen[anchor]}"
            token.attrSet("id", anchor)
            token.meta["anchor"] = anchor
        return self.renderToken(tokens, idx, options, env)

    def paragraph_close(self, tokens, idx, options, env):
        opening = env.pop("paragraph_open")
        anchor = opening.meta.get("anchor") if tokens[idx].level == 0 else None
        if not anchor:
            return self.renderToken(tokens, idx, options, env)
        return (
            f' <a class="pilcrow" href="#{anchor}" aria-label="Link to this paragraph">¶</a></p>\n'
        )

    def heading_open(self, tokens, idx, options, env):
        # Section headings are h2 on the page, so headings inside a section start at h3.
        token = tokens[idx]
        token.tag = f"h{max(int(token.tag[1]), 3)}"
        env["heading_tag"] = token.tag
        return self.renderToken(tokens, idx, options, env)

    def heading_close(self, tokens, idx, options, env):
        tokens[idx].tag = env.pop("heading_tag")
        return self.renderToken(tokens, idx, options, env)

    md.add_render_rule("paragraph_open", paragraph_open)
    md.add_render_rule("paragraph_close", paragraph_close)
    md.add_render_rule("heading_open", heading_open)
    md.add_render_rule("heading_close", heading_close)
    return md


class _LinearTreeWalker(html5lib_shim.getTreeWalker("etree")):
    """bleach's tree walker, without its quadratic step.

    Climbing out of an element, the stock walker finds that element's place among its
    siblings with `list(...).count()` and `.index()`. Every paragraph of an essay ends in
    an element (its pilcrow link), as does every row of a table, so a long section cost
    time in the square of its length (10,000 short paragraphs took 4 s, 40,000 took 45 s).
    Here each parent's children are numbered once, when the walk first climbs back into it.
    """

    def __init__(self, tree):
        super().__init__(tree)
        self._places: dict = {}

    def getParentNode(self, node):  # html5lib's name for it
        if not isinstance(node, tuple) or node[3] == "text" or len(node[2]) < 2:
            return super().getParentNode(node)  # cases without the search
        parents = node[2]
        parent = parents.pop()
        grandparent = parents[-1]
        places = self._places.get(grandparent)
        if places is None:
            places = self._places[grandparent] = {child: n for n, child in enumerate(grandparent)}
        return parent, places[parent], parents, None


def render_essay(source: str, scope: str, previous_html: str | None = None) -> str:
    """Render a section's Markdown to HTML, with an anchor id on every paragraph.

    `scope` (the section's slug) makes anchors unique across the whole essay page.
    `previous_html` is the section's HTML before this edit, if any: a paragraph that
    was edited keeps the anchor it had there (see carry_anchors), so links to it still work.
    """
    html = _essay_parser(scope).render(source)
    # A new Cleaner each time, as bleach.clean() makes: a Cleaner is not thread-safe.
    cleaner = bleach.Cleaner(
        tags=ESSAY_TAGS, attributes=ESSAY_ATTRIBUTES, protocols=SAFE_PROTOCOLS, strip=True
    )
    cleaner.walker = _LinearTreeWalker
    html = cleaner.clean(html)
    if previous_html:
        html = carry_anchors(paragraphs(previous_html), html)
    return html


# A paragraph at least this similar (difflib's ratio over its words) to one that
# disappeared is taken to be that paragraph, edited, and keeps its anchor.
SAME_PARAGRAPH = 0.6
# How far (in paragraphs) from its expected place an edited paragraph is looked for.
NEARBY = 4
# A near-identical paragraph found where expected is taken without looking further.
CLEARLY_SAME = 0.9


def carry_anchors(previous: list[tuple[str, str]], html: str) -> str:
    """`html` with each new paragraph that looks like an edited old one wearing the old
    paragraph's anchor (unchanged paragraphs keep theirs anyway: anchors come from the
    words).

    The two lists of paragraphs are aligned first (difflib over whole paragraphs); each
    stretch that was replaced is then matched pairwise, most similar pairs first, each
    old anchor at most once, comparing a paragraph only with those near its expected
    place in the stretch, so that a section whose every paragraph changed costs time in
    proportion to its length, not its square.
    """
    current = paragraphs(html)
    old_anchors = [anchor for anchor, _ in previous]
    new_anchors = [anchor for anchor, _ in current]
    aligned = difflib.SequenceMatcher(None, old_anchors, new_anchors, autojunk=False)
    taken = set(new_anchors)  # an old anchor still in use is not handed out again
    renamed: dict[str, str] = {}
    for op, i1, i2, j1, j2 in aligned.get_opcodes():
        if op == "replace":
            pairs = _similar_pairs(previous[i1:i2], current[j1:j2])
            for _ratio, new_anchor, old_anchor in sorted(pairs, reverse=True):
                if new_anchor not in renamed and old_anchor not in taken:
                    renamed[new_anchor] = old_anchor
                    taken.add(old_anchor)
    if not renamed:
        return html
    return _anchor_attribute.sub(
        lambda m: f'{m[1]}"{"#" if m[2] else ""}{renamed.get(m[3], m[3])}"', html
    )


def _similar_pairs(old, new) -> list[tuple[float, str, str]]:
    pairs = []
    scale = len(old) / len(new)
    words = [text.split() for _, text in old]
    for k, (new_anchor, text) in enumerate(new):
        expected = round(k * scale)
        nearby = range(max(0, expected - NEARBY), min(len(old), expected + NEARBY + 1))
        matcher = difflib.SequenceMatcher(None, b=text.split(), autojunk=False)
        for m in sorted(nearby, key=lambda m: abs(m - expected)):  # the likeliest first
            matcher.set_seq1(words[m])
            if (
                matcher.real_quick_ratio() >= SAME_PARAGRAPH
                and matcher.quick_ratio() >= SAME_PARAGRAPH
                and (ratio := matcher.ratio()) >= SAME_PARAGRAPH
            ):
                pairs.append((ratio, new_anchor, old[m][0]))
                if ratio >= CLEARLY_SAME:
                    break  # a paragraph this close to its place needs no rival
    return pairs


_anchor_attribute = re.compile(r'(<p id=|<a class="pilcrow" href=)"(#?)(p-[0-9a-f]{8}(?:-\d+)?)"')


# --- What people write: comments, bios ---------------------------------------------------

USER_TAGS = {"p", "a", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "br"}
USER_ATTRIBUTES = {"a": ["href", "rel"], "ol": ["start"]}
USER_LINK_REL = "nofollow ugc noopener noreferrer"

_user_parser = MarkdownIt("commonmark", {"html": False, "breaks": True})


def _image_as_link(self, tokens, idx, options, env):
    # People cannot embed images (tracking pixels, huge files); an image becomes a link.
    token = tokens[idx]
    src = escapeHtml(token.attrGet("src") or "")
    label = escapeHtml(self.renderInlineAsText(token.children or [], options, env) or src)
    return f'<a href="{src}">{label}</a>'


_user_parser.add_render_rule("image", _image_as_link)


def _mark_user_link(attrs, new=False):
    attrs[(None, "rel")] = USER_LINK_REL
    return attrs


def _user_cleaner() -> bleach.Cleaner:
    # A new Cleaner per call: bleach's Cleaner is not thread-safe, and web workers
    # render comments on several threads at once.
    return bleach.Cleaner(
        tags=USER_TAGS,
        attributes=USER_ATTRIBUTES,
        protocols=SAFE_PROTOCOLS,
        strip=True,
        # Bare web addresses become links too; every link is marked as user content.
        filters=[partial(LinkifyFilter, callbacks=[_mark_user_link], skip_tags={"pre", "code"})],
    )


def render_user_text(source: str) -> str:
    """Render Markdown someone typed into a small, safe subset of HTML."""
    if not source.strip():
        return ""
    return _user_cleaner().clean(_user_parser.render(source)).strip()


_paragraph = re.compile(r'<p id="(p-[0-9a-f]{8}(?:-\d+)?)">(.*?)</p>', re.S)
_tag = re.compile(r"<[^>]+>")
_pilcrow = re.compile(r'<a class="pilcrow"[^>]*>.*?</a>', re.S)
# Where one block of text ends and the next begins, in HTML that essays.markup rendered.
_block_end = re.compile(r"</(?:p|li|h[1-6]|pre|blockquote|t[dh]|tr|table|ul|ol)>|<br ?/?>|<hr ?/?>")


def _inline_text(html: str) -> str:
    """The words of a stretch of HTML, whitespace collapsed as a browser shows it."""
    return _whitespace.sub(" ", unescape(_tag.sub("", _pilcrow.sub("", html)))).strip()


def plain_text(html: str) -> str:
    """The plain text of rendered essay HTML, as readers see it: each block (paragraph,
    list item, heading, table row...) on its own, whitespace collapsed inside it, blocks
    separated by a blank line, pilcrow links left out.

    This is THE text that positions in a section are counted in (SectionRevision.body_text,
    quotes and their offsets): derive it only here.
    """
    blocks = (_inline_text(block) for block in _block_end.split(html))
    return "\n\n".join(block for block in blocks if block)


def paragraphs(html: str) -> list[tuple[str, str]]:
    """The anchored paragraphs of rendered essay HTML, as (anchor, plain text)."""
    return [(anchor, _inline_text(inner)) for anchor, inner in _paragraph.findall(html)]
