"""What the discussion does when something changes in accounts or essays (which cannot
call us)."""

from django.db.models import F
from django.db.models.signals import post_save, pre_delete, pre_save
from django.dispatch import receiver

from accounts import signals
from accounts.models import User
from essays.models import Essay, Section
from essays.signals import section_revised
from forum.models import Comment, ModerationLog, discussion_changed


def comment_changed(sender, instance, **kwargs):
    """A comment saved or deleted: pages showing it are stale, and its parent may have
    gained or lost its last visible reply."""
    discussion_changed(instance.section_id)
    Comment.objects.refresh_answered_above(instance, created=kwargs.get("created", False))


def vote_changed(sender, instance, **kwargs):
    comment = instance._state.fields_cache.get("comment")  # loaded already, mostly
    if comment is not None:
        section_id = comment.section_id
    else:
        section_id = (
            Comment.objects.filter(pk=instance.comment_id)
            .values_list("section_id", flat=True)
            .first()
        )
    if section_id is not None:  # else the comment is going too, and says so itself
        discussion_changed(section_id)


@receiver(pre_delete, sender=User)
def take_back_votes(sender, instance, **kwargs):
    """However an account goes (its owner, the admin), its upvotes stop counting."""
    voted = list(instance.votes.values_list("comment_id", "comment__section_id"))
    Comment.objects.filter(pk__in=[c for c, _ in voted]).update(score=F("score") - 1)
    for section_id in {s for _, s in voted}:
        discussion_changed(section_id)


@receiver(pre_delete, sender=User)
def show_comments_as_deleted_user(sender, instance, **kwargs):
    """What a deleted account wrote and kept now shows "deleted user" (Comment.author
    is SET_NULL by the database, which saves no comment): every page showing it changes."""
    for section_id in set(instance.comments.values_list("section_id", flat=True)):
        discussion_changed(section_id)


@receiver(signals.account_deleting)
def erase_comments(sender, user, keep_comments, **kwargs):
    """A member who leaves may erase what they wrote: each comment exactly as if they
    had deleted it (a "[deleted]" placeholder where others replied)."""
    if keep_comments:
        return
    # Deepest first, so a comment whose replies all go can go too. Each is looked up
    # again: deleting one may already have taken a placeholder parent with it.
    ids = list(user.comments.order_by("-depth", "-pk").values_list("pk", flat=True))
    for comment_id in ids:
        if comment := Comment.objects.filter(pk=comment_id).first():
            comment.delete_by_author()


@receiver(pre_save, sender=User)
def show_new_name(sender, instance, update_fields=None, **kwargs):
    """Every page showing a member's old name must show the new one."""
    names = {"username", "display_name"}
    if not instance.pk or (update_fields is not None and not names & set(update_fields)):
        return
    renamed = (
        User.objects.filter(pk=instance.pk)
        .exclude(username=instance.username, display_name=instance.display_name)
        .exists()
    )
    if renamed:
        for section_id in set(instance.comments.values_list("section_id", flat=True)):
            discussion_changed(section_id)


@receiver(signals.suspended)
def record_suspension(sender, ban, actor, **kwargs):
    ModerationLog.record(actor, ModerationLog.Action.BAN, user=ban.user, reason=ban.reason)


@receiver(signals.suspension_lifted)
def record_lifted_suspension(sender, ban, actor, **kwargs):
    ModerationLog.record(actor, ModerationLog.Action.UNBAN, user=ban.user)


@receiver(section_revised)
def reanchor_comments(sender, section, previous, revision, **kwargs):
    """A section's text changed: every quote of it follows, in the same transaction
    (so no page ever shows a quote placed in a text it is not in), once per edit."""
    if previous is not None:
        Comment.objects.reanchor(section, previous, revision)


@receiver(pre_save, sender=Section)
@receiver(pre_save, sender=Essay)
def note_new_slug(sender, instance, **kwargs):
    """Stored comment fragments link to their section by its slug and its essay's: a
    new slug, or a section moved to another essay, moves those links."""
    same = {"slug": instance.slug}
    if sender is Section:
        same["essay_id"] = instance.essay_id
    instance._new_slug = (
        instance.pk is not None and sender.objects.filter(pk=instance.pk).exclude(**same).exists()
    )


@receiver(post_save, sender=Section)
@receiver(post_save, sender=Essay)
def relink_fragments(sender, instance, **kwargs):
    if getattr(instance, "_new_slug", False):
        instance._new_slug = False
        where = {"section": instance} if sender is Section else {"section__essay": instance}
        Comment.objects.filter(**where).render_fragments()
