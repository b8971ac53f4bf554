"""Reading HTML in tests as a browser's parser would see its nesting."""

from html.parser import HTMLParser

INTERACTIVE = {"a", "button", "input", "select", "textarea", "details", "label", "iframe"}


class Elements(HTMLParser):
    """Every element of a page: (tag, attributes, tags of the open ancestors)."""

    VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}

    def __init__(self, html):
        super().__init__()
        self.open, self.found = [], []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs), list(self.open)))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if tag in self.open:
            while self.open.pop() != tag:
                pass


def elements(html):
    return Elements(html).found
