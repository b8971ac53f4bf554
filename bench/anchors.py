"""How long keeping paragraph anchors across an edit takes (essays.markup.carry_anchors),
in the worst case: every paragraph of a long section edited (a word replaced throughout).
It should grow in proportion to the section: eight times the paragraphs, about eight
times as long (comparing every edited paragraph with every vanished one took minutes
for 2,000 paragraphs).

    .venv/bin/python bench/anchors.py
"""

import gc
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "true")

import django

django.setup()

from essays.markup import carry_anchors, paragraphs, render_essay  # noqa: E402


def seconds(count: int, tries: int) -> tuple[float, float]:
    """(seconds, share of anchors kept) for a section of `count` paragraphs."""
    text = "\n\n".join(
        f"Paragraph {n} says something about rivers, the sea and the land between."
        for n in range(count)
    )
    before = paragraphs(render_essay(text, "s"))
    edited = render_essay(text.replace("rivers", "streams"), "s")
    best, kept = float("inf"), 0.0
    for _ in range(tries):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            html = carry_anchors(before, edited)
            best = min(best, time.perf_counter() - start)
        finally:
            gc.enable()
        after = [anchor for anchor, _ in paragraphs(html)]
        kept = sum(a == b for (a, _), b in zip(before, after, strict=True)) / count
    return best, kept


if __name__ == "__main__":
    (small, kept_small), (large, kept_large) = seconds(500, tries=3), seconds(4000, tries=2)
    print(f"  500 paragraphs, all edited: {small * 1000:.0f} ms, {kept_small:.0%} anchors kept")
    print(f"4,000 paragraphs, all edited: {large * 1000:.0f} ms, {kept_large:.0%} anchors kept")
    print(f"ratio: {large / small:.1f} (8 means linear)")
