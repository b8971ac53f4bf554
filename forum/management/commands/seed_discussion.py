import json
import random
from datetime import UTC, datetime
from pathlib import Path

from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from essays.models import Section
from forum.models import Comment, Vote, discussion_changed, path_segment
from forum.rendering import Fragments

PHRASES = [
    "open weights",
    "the original calculus",
    "community scrutiny",
    "a fraction of the compute cost",
    "alignment research",
    "restricted releases",
    "real-world agency",
    "a programming library",
    "the next decade",
    "smaller labs",
]
WORDS_TEXT = """
the a model release risk code open source weights research safety labs community argument
access scrutiny trust harm value agency plan act system software license transparency benefit
cost compute frontier closed public policy line draw people principle question answer history
decade tool data training evaluation misuse
"""
WORDS = WORDS_TEXT.split()


def sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(6, 16))
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), f"*{rng.choice(PHRASES)}*")
    if rng.random() < 0.1:
        words.append(f"[source](https://example.org/{rng.randint(1, 999)})")
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice([".", ".", ".", "?", "!"])


def body(rng: random.Random) -> str:
    """Markdown of 50 to 800 characters: sentences, sometimes a quote or a list."""
    target = rng.randint(50, 800)
    parts: list[str] = []
    if rng.random() < 0.15:
        parts.append("> " + sentence(rng))
    while sum(len(p) for p in parts) < target:
        if rng.random() < 0.08:
            parts.append("\n".join(f"- {sentence(rng)}" for _ in range(rng.randint(2, 3))))
        else:
            parts.append(" ".join(sentence(rng) for _ in range(rng.randint(1, 3))))
    return "\n\n".join(parts)[:800].rstrip()


class Command(BaseCommand):
    help = (
        "Adds a synthetic discussion to one section, for demos and benchmarks: creates "
        "--users members named seed-user-N (verified, unusable passwords) if missing, then "
        "--comments comments and replies (about --top-level of them top-level, none deeper "
        "than --max-depth), with upvotes. Existing comments are kept. The same --seed "
        "gives the same discussion. With --thread, the comments, their authors and times "
        "come from a JSON file instead (bench-peers' lib/gen_thread.py), without votes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--essay", help="essay slug (default: the first essay)")
        parser.add_argument("--section", help="section slug (default: the first section)")
        parser.add_argument("--comments", type=int, default=1000)
        parser.add_argument("--top-level", type=int, default=150)
        parser.add_argument("--users", type=int, default=60)
        parser.add_argument("--max-depth", type=int, default=8)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--thread",
            type=Path,
            help='a thread as JSON: {"users": [{"username", "name"}], "comments": '
            '[{"parent": index or null, "user": index, "created": Unix seconds, "body"}]}',
        )

    def handle(self, *args, **options):
        count, top_level = options["comments"], options["top_level"]
        if count < 1 or top_level < 1 or options["users"] < 1 or options["max_depth"] < 0:
            raise CommandError("--comments, --top-level and --users must be at least 1.")
        sections = Section.objects.select_related("essay").order_by("essay__position", "position")
        if options["essay"]:
            sections = sections.filter(essay__slug=options["essay"])
        if options["section"]:
            sections = sections.filter(slug=options["section"])
        section = sections.first()
        if section is None:
            raise CommandError("No such section. Import an essay first (import_essay).")
        rng = random.Random(options["seed"])  # noqa: S311  (repeatable demo data, not secrets)
        with transaction.atomic():
            if options["thread"]:
                plan = self.plan_from_thread(options["thread"])
                comments, votes = self.comments(section, plan), 0
            else:
                users = self.members([f"seed-user-{i}" for i in range(1, options["users"] + 1)])
                plan = self.plan(users, rng, count, top_level, options["max_depth"])
                comments = self.comments(section, plan)
                votes = self.votes(comments, users, rng)
            Comment.update_search_vector(Comment.objects.filter(pk__in=[c.pk for c in comments]))
            discussion_changed(section.pk)
        if connection.vendor == "postgresql":
            # Fresh statistics, as autovacuum would soon gather: without them the
            # planner guesses row counts for a table that just grew a hundredfold.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE forum_comment")
        self.stdout.write(
            self.style.SUCCESS(
                f"Added {len(comments)} comments and {votes} votes to "
                f"“{section.heading}” ({section.get_absolute_url()})."
            )
        )

    def members(self, names: list[str], display_names=None) -> list[User]:
        """Verified members with these usernames, in this order (created if missing)."""
        display_names = display_names or [name.title() for name in names]
        existing = set(User.objects.filter(username__in=names).values_list("username", flat=True))
        new = [
            User(username=name, email=f"{name}@example.invalid", display_name=display)
            for name, display in zip(names, display_names, strict=True)
            if name not in existing
        ]
        for user in new:
            user.set_unusable_password()
        User.objects.bulk_create(new)
        by_name = {u.username: u for u in User.objects.filter(username__in=names)}
        users = [by_name[name] for name in names]
        EmailAddress.objects.bulk_create(
            [EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users],
            ignore_conflicts=True,
        )
        return users

    def plan_from_thread(self, path: Path) -> list[tuple]:
        try:
            thread = json.loads(path.read_bytes())
            users = self.members(
                [u["username"] for u in thread["users"]], [u["name"] for u in thread["users"]]
            )
            plan = []
            for c in thread["comments"]:
                parent = c["parent"]
                level = plan[parent][1] + 1 if parent is not None else 0
                when = datetime.fromtimestamp(c["created"], UTC)
                plan.append((parent, level, users[c["user"]], c["body"], when))
        except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
            raise CommandError(f"--thread: not a thread file ({error!r}).") from error
        return plan

    def plan(self, users, rng, count, top_level, max_depth) -> list[tuple]:
        """The tree: (parent's index or None, depth, author, Markdown, time) per comment,
        each top-level or answering an earlier one."""
        plan: list[int | None] = []  # index of the parent, or None
        depth: list[int] = []
        top_level = min(top_level, count)
        starts = {0, *rng.sample(range(1, count), top_level - 1)} if count > 1 else {0}
        for i in range(count):
            if i in starts:
                plan.append(None)
                depth.append(0)
                continue
            candidates = [j for j in rng.sample(range(i), min(i, 8)) if depth[j] < max_depth]
            parent = max(candidates, key=lambda j: depth[j]) if candidates else None
            if parent is not None and rng.random() < 0.35:
                parent = rng.choice(candidates)
            plan.append(parent)
            depth.append(depth[parent] + 1 if parent is not None else 0)

        start = timezone.now() - timezone.timedelta(days=30)
        when = [start + timezone.timedelta(minutes=i * 7) for i in range(count)]
        return [
            (parent, depth[i], rng.choice(users), body(rng), when[i])
            for i, parent in enumerate(plan)
        ]

    def comments(self, section, plan) -> list[Comment]:
        made: list[Comment] = []
        made_by_index: dict[int, Comment] = {}
        fragments = Fragments(section)
        # Create level by level, so every parent has its id (and path) before its replies.
        for level in range(max(depth for _, depth, *_ in plan) + 1):
            batch = []
            for i, (parent, depth, author, text, created_at) in enumerate(plan):
                if depth != level:
                    continue
                parent_comment = made_by_index[parent] if parent is not None else None
                comment = Comment(
                    section=section,
                    author=author,
                    body=text,
                    parent=parent_comment,
                    root_id=parent_comment.thread_id if parent_comment else None,
                    depth=level,
                    created_at=created_at,
                )
                comment.render()
                comment.plan_index = i
                batch.append(comment)
            Comment.objects.bulk_create(batch, batch_size=1000)
            for comment in batch:
                parent = plan[comment.plan_index][0]
                prefix = made_by_index[parent].path if parent is not None else ""
                comment.path = prefix + path_segment(comment.pk)
                comment.fragment = comment.render_fragment(fragments)  # as posting does
                made_by_index[comment.plan_index] = comment
            Comment.objects.bulk_update(batch, ["path", "fragment"], batch_size=500)
            made.extend(batch)
        for comment in made:
            if comment.parent_id:
                parent = made_by_index[plan[comment.plan_index][0]]
                parent.reply_count += 1
                parent.answered = True  # every seeded comment is published
        Comment.objects.bulk_update(made, ["reply_count", "answered"], batch_size=500)
        return made

    def votes(self, comments, users, rng) -> int:
        votes = []
        for comment in comments:
            voters = rng.sample(users, min(len(users), int(rng.paretovariate(1.5)) - 1))
            voters = [u for u in voters if u.pk != comment.author_id]
            comment.score = len(voters)
            votes.extend(Vote(user=u, comment=comment) for u in voters)
        Vote.objects.bulk_create(votes, batch_size=2000)
        Comment.objects.bulk_update(comments, ["score"], batch_size=500)
        return len(votes)
