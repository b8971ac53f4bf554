from django import template

from essays.markup import excerpt as make_excerpt

register = template.Library()


@register.filter
def excerpt(html: str, length: int = 200) -> str:
    """{{ comment.body_html|excerpt:200 }}: plain text of rendered HTML, cut to length."""
    return make_excerpt(html or "", int(length))
