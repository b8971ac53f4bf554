"""What the accounts app tells other apps, which it does not know (it imports none).

The discussion app listens: it records suspensions in the moderation log and erases
a deleted account's comments when asked to.
"""

from django.dispatch import Signal

# ban, actor: a member was suspended (inside the transaction that did it).
suspended = Signal()
# ban, actor: a suspension was lifted early.
suspension_lifted = Signal()
# user, keep_comments: an account is about to be deleted (inside its transaction).
account_deleting = Signal()
