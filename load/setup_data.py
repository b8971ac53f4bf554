"""Prepare a database for a load run: the accounts the load signs in with, and the rules.

    python load/setup_data.py OUT.json --writers 6 --voters 3 --reporters 4 --moderators 1

Run after `migrate`, `load_default_essays` and `seed_discussion`. Creates members with
verified email addresses (one password for all, hashed once), old enough not to count as
new accounts; moderators are staff in the Moderators group and ask for review mail.
Posting limits are raised as the benchmark does (the load posts far faster than people;
the limits themselves are tested by the test suite). Writes the accounts and the
sections' URLs to OUT.json for the Locust script.
"""

import argparse
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "forum.settings")

import django

django.setup()

from allauth.account.models import EmailAddress  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from essays.models import Section  # noqa: E402
from forum.models import ModerationPolicy, Subscription  # noqa: E402

PASSWORD = "load-password-not-secret-7"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    for role, default in (("writers", 6), ("voters", 3), ("reporters", 4), ("moderators", 1)):
        parser.add_argument(f"--{role}", type=int, default=default)
    args = parser.parse_args()
    User = get_user_model()
    password = make_password(PASSWORD)
    joined = timezone.now() - timedelta(days=60)
    sections = list(
        Section.objects.filter(essay__is_published=True)
        .select_related("essay")
        .order_by("essay__position", "position")
    ) or list(Section.objects.select_related("essay").order_by("position"))
    accounts: dict[str, list[str]] = {}
    with transaction.atomic():
        policy = ModerationPolicy.current()
        policy.premoderation = ModerationPolicy.Premoderation.OFF
        policy.comments_per_minute = policy.new_comments_per_minute = 10**6
        policy.comments_per_day = policy.new_comments_per_day = 10**6
        policy.new_account_max_links = 100
        policy.report_threshold = 3
        policy.watched_words = ""
        policy.save()
        moderators = Group.objects.get(name="Moderators")
        for role in ("writers", "voters", "reporters", "moderators"):
            names = []
            for n in range(getattr(args, role)):
                name = f"load-{role[:-1]}-{n}"
                user = User.objects.create(
                    username=name, email=f"{name}@example.com", password=password,
                    date_joined=joined, is_staff=role == "moderators",
                    email_on_review=role == "moderators",
                )  # fmt: skip
                EmailAddress.objects.create(
                    user=user, email=user.email, verified=True, primary=True
                )
                if role == "moderators":
                    user.groups.add(moderators)
                if role == "writers":  # a section each to follow: section news too
                    Subscription.objects.follow(user, section=sections[n % len(sections)])
                names.append(name)
            accounts[role] = names
    Path(args.out).write_text(
        json.dumps(
            {
                "password": PASSWORD,
                "accounts": accounts,
                "sections": [s.get_absolute_url() for s in sections],
                "essays": sorted({s.essay.get_absolute_url() for s in sections}),
            },
            indent=1,
        )
    )
    print(f"Accounts: {', '.join(f'{len(v)} {k}' for k, v in accounts.items())}.")


if __name__ == "__main__":
    main()
