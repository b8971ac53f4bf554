"""A review queue as moderators meet it, for the desk's browser tests and its benchmark
(bench/desk.py): comments held by the policy and comments reported by readers, some
answering others, some quoting the essay, from a handful of authors with a history.

The plan a moderator follows to clear it (`keys_for`) is here too, so that the browser
test and the benchmark make the same decisions.

Every third comment is a published one that readers reported (one or two reports, with
notes); the others were held because the policy reviews everything. `hostile=True`
writes the content that breaks layouts: long words, long URLs, long lines of code.
"""

from types import SimpleNamespace

HOSTILE = [
    "Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
    "See https://example.com/" + "very-long-path-segment/" * 12 + "?q=" + "x" * 80,
    "```\n" + "def f(): return " + " + ".join(f"value_{n}" for n in range(60)) + "\n```",
    "> " + "A quoted line that goes on " * 20 + "\n\nAnd `inline_code_" + "z" * 70 + "`.",
]

BODIES = [
    "I disagree with the premise here: open weights are not the same as open source.",
    "**Great point.** The licence question matters more than the weights themselves.",
    "Buy cheap watches at [our shop](https://spam.example/watches) — best prices!!!",
    "This is off-topic, but has anyone read the follow-up paper?",
    "You clearly have no idea what you are talking about.",
    "A long thought.\n\n- first, the data\n- second, the compute\n- third, the people",
]


def seed_review_queue(section, count=100, *, hostile=False):
    """`count` comments waiting for review on `section`, oldest first in the order
    made; returns them. Needs the essay; makes its own cast of authors and readers."""
    # Imported here: the benchmark reads the plan below before Django is set up.
    from forum.models import Comment, ModerationPolicy, Report
    from tests.conftest import make_member

    policy = ModerationPolicy.current()
    authors = [make_member(f"writer{n}", display_name=f"Writer {n}") for n in range(6)]
    readers = [make_member(f"reader{n}") for n in range(3)]
    earlier, _ = Comment.objects.post(
        section=section, author=readers[0], body="An earlier comment others answer."
    )
    queue = []
    for n in range(count):
        author = authors[n % len(authors)]
        body = HOSTILE[n % len(HOSTILE)] if hostile else BODIES[n % len(BODIES)]
        reported = n % 3 == 2
        policy.premoderation = (
            ModerationPolicy.Premoderation.OFF if reported else ModerationPolicy.Premoderation.ALL
        )
        policy.save(update_fields=["premoderation"])
        passage = None
        if n % 4 == 1:
            passage = SimpleNamespace(
                text="the weights are the new source code", before="", after="", anchor=""
            )
        comment, _ = Comment.objects.post(
            section=section,
            author=author,
            body=f"{body} (#{n + 1})",
            parent=earlier if n % 5 == 0 else None,
            passage=passage,
        )
        if reported:
            Report.file(comment, readers[1], "harassment", "Rude to another reader.")
            if n % 2:
                Report.file(comment, readers[2], "off_topic")
        queue.append(comment)
    policy.premoderation = ModerationPolicy.Premoderation.OFF
    policy.save(update_fields=["premoderation"])
    return queue


# The moderator's keys for the nth card of the queue (0-based): mostly approvals (a),
# some spam (s), removals with a reason (r, then a digit), one suspension (b, then a
# digit). Of 100: 69 approvals, 10 spam, 20 removals, 1 suspension.
KEYS = {5: ["s"], 7: ["r", "3"], 9: ["r", "1"]}
SUSPENSION = 50


def keys_for(n):
    return ["b", "4"] if n == SUSPENSION else KEYS.get(n % 10, ["a"])
