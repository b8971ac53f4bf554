"""How long rendering a section's Markdown takes, and that it grows in proportion to
the text: eight times the paragraphs should take about eight times as long (a step that
searched back through the text for each paragraph made it twenty times or more).

    .venv/bin/python bench/markup.py
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

from essays.markup import render_essay  # noqa: E402


def seconds(count: int, tries: int) -> float:
    text = "\n\n".join(f"Paragraph number {n}." for n in range(count))
    best = float("inf")
    for _ in range(tries):
        gc.collect()
        gc.disable()  # a collection mid-way would count against one size only
        try:
            start = time.perf_counter()
            render_essay(text, "s")
            best = min(best, time.perf_counter() - start)
        finally:
            gc.enable()
    return best


if __name__ == "__main__":
    small, large = seconds(1000, tries=5), seconds(8000, tries=3)
    print(f"1,000 paragraphs: {small * 1000:.0f} ms (best of 5)")
    print(f"8,000 paragraphs: {large * 1000:.0f} ms (best of 3)")
    print(f"ratio: {large / small:.1f} (8 means linear)")
