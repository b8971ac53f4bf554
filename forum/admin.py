"""Moderation in the Django admin: comments, the review queue, reports, suspensions, the
policy, closing discussions, and a record of every act that nobody can edit.

The admin holds no rule of its own: every action calls a model method (which checks
what applies, changes the state and writes the moderation record) and reports what
happened in words.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import render
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from accounts.admin import UserAdmin
from accounts.models import Ban, User
from forum.models import (
    Comment,
    CommentRevision,
    EssayDiscussion,
    ModerationLog,
    ModerationPolicy,
    Notification,
    Report,
    ReviewItem,
    SectionDiscussion,
    needs_review,
)


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """ "1 comment", "3 comments"."""
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


admin.site.unregister(User)


@admin.register(User)
class MemberAdmin(UserAdmin):
    """Accounts' user admin, with the discussion's clean-up action."""

    actions = ["remove_all_comments"]

    def has_moderate_permission(self, request):
        return request.user.has_perm("forum.moderate_comment")

    @admin.action(
        description="Remove all comments of the selected members (spam clean-up)",
        permissions=["moderate"],
    )
    def remove_all_comments(self, request, queryset):
        remove_all(self, request, Comment.objects.filter(author__in=queryset))


def remove_all(model_admin, request, comments) -> None:
    """Remove these comments (spam clean-up), and say what happened and who was spared."""
    removed, spared = comments.remove_all(by=request.user, reason="spam clean-up")
    model_admin.message_user(request, f"Removed {counted(removed, 'comment')}.", messages.SUCCESS)
    if spared:
        names = ", ".join(user.username for user in spared)
        model_admin.message_user(
            request,
            f"Left alone: {names}. Only an administrator can act on staff.",
            messages.WARNING,
        )


# --- Comments -----------------------------------------------------------------------------


class HasReportsFilter(admin.SimpleListFilter):
    title = "open reports"
    parameter_name = "reported"

    def lookups(self, request, model_admin):
        return [("yes", "with open reports"), ("no", "without")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(open_reports__gt=0)
        if self.value() == "no":
            return queryset.filter(open_reports=0)
        return queryset


class ReportInline(admin.TabularInline):
    model = Report
    extra = 0
    can_delete = False
    fields = ["created_at", "reporter", "reason", "note", "resolved_at", "resolved_by"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class RevisionInline(admin.TabularInline):
    model = CommentRevision
    extra = 0
    can_delete = False
    verbose_name_plural = "earlier versions (edit history)"
    fields = ["created_at", "replaced_at", "body"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Recorded, and shown to the author if the policy says so.",
    )


class SuspensionForm(ReasonForm):
    until = forms.DateTimeField(
        label="Suspended until",
        required=False,
        help_text="Empty means until lifted. Format: 2026-12-31 18:00.",
    )


# What each moderation action is called in messages: "3 comments approved".
DONE = {"approve": "approved", "remove": "removed", "spam": "marked as spam", "restore": "restored"}


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = [
        "excerpt",
        "author",
        "section",
        "status",
        "open_reports",
        "score",
        "is_pinned",
        "created_at",
    ]
    list_filter = ["status", "section__essay", "section", HasReportsFilter, "created_at"]
    search_fields = ["body", "author__username", "author__display_name"]
    list_select_related = ["author", "section__essay"]
    list_per_page = 50
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    actions = ["approve", "remove", "mark_spam", "restore", "remove_and_ban", "pin", "unpin"]
    inlines = [ReportInline, RevisionInline]
    fields = [
        "author",
        "section",
        "status",
        "moderation_reason",
        "is_pinned",
        "created_at",
        "edited_at",
        "score",
        "text",
        "thread_context",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(open_reports=Count("reports", filter=Q(reports__resolved_at__isnull=True)))
        )

    def has_add_permission(self, request):
        return False  # comments are written on the site

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser  # moderators remove; only a superuser deletes

    @admin.display(description="comment")
    def excerpt(self, comment):
        return Truncator(comment.body or "(no text)").chars(80)

    @admin.display(description="open reports", ordering="open_reports")
    def open_reports(self, comment):
        return comment.open_reports

    @admin.display(description="text as published")
    def text(self, comment):
        # body_html was sanitized by essays.markup when the comment was saved.
        return format_html('<div class="user-text">{}</div>', mark_safe(comment.body_html))  # noqa: S308

    @admin.display(description="in the thread")
    def thread_context(self, comment):
        parent = comment.parent
        replies = comment.replies.select_related("author").order_by("created_at")[:20]
        parts = []
        if parent:
            parts.append(
                format_html(
                    "<p><strong>In reply to</strong> {} ({}): {}</p>",
                    parent.author or "deleted user",
                    parent.get_status_display(),
                    Truncator(parent.body).chars(200),
                )
            )
        parts.append(
            format_html(
                '<p><a href="{}">Open on the site</a> · {}</p>',
                comment.get_absolute_url(),
                counted(comment.reply_count, "direct reply", "direct replies"),
            )
        )
        if replies:
            rows = (
                (r.author or "deleted user", r.get_status_display(), Truncator(r.body).chars(120))
                for r in replies
            )
            items = format_html_join("", "<li>{} ({}): {}</li>", rows)
            parts.append(format_html("<ul>{}</ul>", items))
        return mark_safe("".join(parts))  # noqa: S308  (each part built with format_html)

    def _moderate(self, request, queryset, action, reason=""):
        done = sum(comment.moderate(request.user, action, reason) for comment in queryset)
        skipped = len(queryset) - done
        note = f" {counted(skipped, 'was', 'were')} left as they were: the action does not apply."
        self.message_user(
            request,
            f"{counted(done, 'comment')} {DONE[action]}." + (note if skipped else ""),
            messages.SUCCESS if done else messages.WARNING,
        )

    def _with_reason(self, request, queryset, title, form_class, apply):
        """Ask for a reason on an intermediate page, then apply."""
        form = form_class(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            apply(form.cleaned_data)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "queryset": queryset,
            "action": request.POST.get("action"),
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return render(request, "admin/forum/comment/reason.html", context)

    @admin.action(description="Approve (publish)", permissions=["change"])
    def approve(self, request, queryset):
        self._moderate(request, queryset, "approve")

    @admin.action(description="Remove, with a reason", permissions=["change"])
    def remove(self, request, queryset):
        return self._with_reason(
            request,
            queryset,
            "Remove comments",
            ReasonForm,
            lambda data: self._moderate(request, queryset, "remove", data["reason"]),
        )

    @admin.action(description="Mark as spam", permissions=["change"])
    def mark_spam(self, request, queryset):
        self._moderate(request, queryset, "spam", "spam")

    @admin.action(description="Restore (publish again)", permissions=["change"])
    def restore(self, request, queryset):
        self._moderate(request, queryset, "restore")

    @admin.action(description="Remove and suspend the authors", permissions=["change"])
    def remove_and_ban(self, request, queryset):
        def apply(data):
            authors = User.objects.filter(comments__in=queryset).distinct()
            spared = [a for a in authors if not a.can_be_suspended_by(request.user)]
            if spared:
                names = ", ".join(author.username for author in spared)
                self.message_user(
                    request,
                    f"Left alone: {names}. Only an administrator can suspend staff or remove "
                    "all their comments.",
                    messages.WARNING,
                )
            chosen = queryset.exclude(author__in=spared)
            self._moderate(request, chosen, "remove", data["reason"])
            for author in authors:
                if author not in spared:
                    Ban.objects.impose(
                        author, by=request.user, reason=data["reason"], until=data["until"]
                    )
            suspended = len(authors) - len(spared)
            self.message_user(
                request, f"Suspended {counted(suspended, 'author')}.", messages.SUCCESS
            )

        return self._with_reason(
            request, queryset, "Remove comments and suspend their authors", SuspensionForm, apply
        )

    @admin.action(description="Pin to the top of the discussion", permissions=["change"])
    def pin(self, request, queryset):
        for comment in queryset:
            comment.set_pinned(request.user, True)
        self.message_user(request, f"{counted(len(queryset), 'comment')} pinned.")

    @admin.action(description="Unpin", permissions=["change"])
    def unpin(self, request, queryset):
        for comment in queryset:
            comment.set_pinned(request.user, False)
        self.message_user(request, f"{counted(len(queryset), 'comment')} unpinned.")


@admin.register(ReviewItem)
class ReviewQueueAdmin(CommentAdmin):
    """Pending and reported comments, oldest first: one click from the admin index."""

    list_filter = ["status", "section__essay", HasReportsFilter]
    date_hierarchy = None
    ordering = ["created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(pk__in=needs_review().values("pk"))


# --- Suspensions ----------------------------------------------------------------------------


class BanForm(forms.ModelForm):
    username = forms.CharField(help_text="The member's username.")

    class Meta:
        model = Ban
        fields = ["reason", "until"]

    def clean_username(self):
        user = User.objects.filter(username=self.cleaned_data["username"]).first()
        if user is None:
            raise forms.ValidationError("There is no member with that username.")
        if not user.can_be_suspended_by(self.moderator):
            raise forms.ValidationError(
                "Only an administrator can suspend staff, and nobody can suspend themselves."
            )
        return user


@admin.register(Ban)
class BanAdmin(admin.ModelAdmin):
    list_display = ["user", "reason", "until", "in_force", "created_by", "created_at", "lifted_at"]
    list_select_related = ["user", "created_by"]
    search_fields = ["user__username", "reason"]
    actions = ["lift", "remove_all_comments"]

    def get_queryset(self, request):
        return super().get_queryset(request).with_in_force()

    def get_form(self, request, obj=None, **kwargs):
        if obj is not None:
            return super().get_form(request, obj, **kwargs)
        return type("BanForm", (BanForm,), {"moderator": request.user})

    def get_readonly_fields(self, request, obj=None):
        # A suspension is not edited: lift it, and impose a new one if need be. Both
        # ask who may, and go on the record.
        if obj is None:
            return []
        return ["user", "reason", "until", "created_by", "created_at", "lifted_at", "lifted_by"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        ban = Ban.objects.impose(
            form.cleaned_data["username"], by=request.user, reason=obj.reason, until=obj.until
        )
        obj.pk, obj.user, obj.created_by, obj.created_at = (
            ban.pk,
            ban.user,
            ban.created_by,
            ban.created_at,
        )
        return None

    def has_delete_permission(self, request, obj=None):
        return False  # lift a suspension instead: the record stays

    @admin.display(boolean=True, description="in force", ordering="is_in_force")
    def in_force(self, ban):
        return ban.is_in_force

    @admin.action(
        description="Remove all comments of the suspended members (spam clean-up)",
        permissions=["change"],
    )
    def remove_all_comments(self, request, queryset):
        users = User.objects.filter(bans__in=queryset).distinct()
        remove_all(self, request, Comment.objects.filter(author__in=users))

    @admin.action(description="Lift the selected suspensions", permissions=["change"])
    def lift(self, request, queryset):
        lifted = 0
        for ban in queryset.select_related("user"):
            try:
                lifted += ban.lift(by=request.user)
            except PermissionDenied as refusal:
                self.message_user(request, f"{ban.user}: {refusal}", messages.WARNING)
        self.message_user(request, f"Lifted {counted(lifted, 'suspension')}.", messages.SUCCESS)


# --- Reports, policy, record, discussions ------------------------------------------------


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["comment", "reason", "reporter", "created_at", "resolved_at"]
    list_filter = ["reason", ("resolved_at", admin.EmptyFieldListFilter)]
    list_select_related = ["comment", "reporter"]
    readonly_fields = [
        "comment",
        "reporter",
        "reason",
        "note",
        "created_at",
        "resolved_at",
        "resolved_by",
    ]
    actions = ["resolve"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Resolve (keep the comment as it is)", permissions=["change"])
    def resolve(self, request, queryset):
        comments = Comment.objects.filter(pk__in=queryset.values("comment"))
        resolved = sum(comment.resolve_reports(request.user) for comment in comments)
        self.message_user(request, f"Resolved {counted(resolved, 'report')}.", messages.SUCCESS)


@admin.register(ModerationPolicy)
class ModerationPolicyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return not ModerationPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        ModerationPolicy.current()  # there is always exactly one, to edit
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        obj.record_change(request.user, form.changed_data)


@admin.register(ModerationLog)
class ModerationLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor", "action", "target", "reason"]
    list_filter = ["action", "created_at"]
    list_select_related = ["actor"]
    search_fields = ["target", "reason", "actor__username"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the record is permanent, for moderators and superusers alike


class DiscussionAdmin(admin.ModelAdmin):
    list_editable = ["discussion_closed"]
    fields = ["discussion_closed"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # The form has already set the new value on obj: ask the stored one to change.
        stored = type(obj).objects.get(pk=obj.pk)
        stored.set_closed(request.user, form.cleaned_data["discussion_closed"])


@admin.register(SectionDiscussion)
class SectionDiscussionAdmin(DiscussionAdmin):
    list_display = ["heading", "essay", "discussion_closed"]
    list_select_related = ["essay"]
    list_filter = ["essay", "discussion_closed"]


@admin.register(EssayDiscussion)
class EssayDiscussionAdmin(DiscussionAdmin):
    list_display = ["title", "discussion_closed"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """For operators: which notification mails went out, wait, or failed, and why."""

    list_display = ["created_at", "recipient", "kind", "comment", "email_state", "email_attempts"]
    list_filter = ["email_state", "kind", "created_at"]
    list_select_related = ["recipient"]
    search_fields = ["recipient__username", "email_error"]
    readonly_fields = [f.name for f in Notification._meta.fields]
    raw_id_fields = ["comment"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
