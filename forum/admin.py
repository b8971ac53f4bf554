"""Moderation in the Django admin: comments, the review queue, reports, suspensions, the
policy, closing discussions, and a record of every act that nobody can edit.

The admin holds no rule of its own: every action calls a model method (which checks
what applies, changes the state and writes the moderation record) and reports what
happened in words.
"""

import html

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join, strip_tags
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from accounts.admin import UserAdmin
from accounts.models import Ban, User
from forum.ids import IdField, parse_id
from forum.models import (
    AnchorReview,
    AnchorState,
    AnswerItem,
    AuthorRecord,
    Comment,
    CommentRevision,
    Decision,
    EditorAnswer,
    EssayDiscussion,
    ModerationLog,
    ModerationPolicy,
    Notification,
    Refused,
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


class CappedPaginator(Paginator):
    """Counts at most CAP rows: past that, the list says "10,000" rather than reading a
    million rows to count them; filters narrow it."""

    CAP = 10_000

    @cached_property
    def count(self):
        return self.object_list[: self.CAP].count()


# A comment's open reports, counted for the rows a list shows (a subquery per row)
# rather than by grouping every comment in the table with its reports.
open_reports = (
    Report.objects.filter(comment=OuterRef("pk"), resolved_at__isnull=True)
    .order_by()
    .values("comment")
    .annotate(n=Count("pk"))
    .values("n")
)


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


# Reasons a moderator picks from (or writes their own): recorded, and shown to the
# author if the policy says so. At the desk, the digit keys pick them in this order.
REASONS = [
    ("attack", "Personal attack or harassment"),
    ("hate", "Hateful or discriminatory"),
    ("off_topic", "Off-topic"),
    ("spam", "Spam or advertising"),
    ("rules", "Against the discussion rules"),
]
SUSPEND_FOR = [("7", "for a week"), ("1", "for a day"), ("30", "for 30 days"), ("", "until lifted")]


class ReasonForm(forms.Form):
    """Why: a reason from the list, one's own words, or both."""

    preset = forms.ChoiceField(
        label="Reason", choices=REASONS, required=False, widget=forms.RadioSelect
    )
    reason = forms.CharField(
        label="In your own words",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional if you chose a reason above. Recorded, and shown to the author "
        "if the policy says so.",
    )

    def clean(self):
        data = super().clean()
        preset = dict(REASONS).get(data.get("preset"), "")
        words = (data.get("reason") or "").strip()
        if not preset and not words:
            raise forms.ValidationError("Choose a reason or write one.")
        data["reason"] = f"{preset}: {words}" if preset and words else preset or words
        return data


class SuspensionForm(ReasonForm):
    until = forms.DateTimeField(
        label="Suspended until",
        required=False,
        help_text="Empty means until lifted. Format: 2026-12-31 18:00.",
    )


class DecisionForm(ReasonForm):
    """One decision at the review desk, as its card's forms send it."""

    comment = IdField()
    decision = forms.ChoiceField(choices=[(kind, kind) for kind in Decision.KINDS])
    suspend_for = forms.ChoiceField(label="How long", choices=SUSPEND_FOR, required=False)
    next = IdField(required=False)  # the card to show next (without JavaScript)

    def clean(self):
        kind = self.cleaned_data.get("decision")
        if kind in ("remove", "suspend"):
            return super().clean()
        self.cleaned_data["reason"] = "spam" if kind == "spam" else ""
        return self.cleaned_data

    def until(self):
        days = self.cleaned_data.get("suspend_for")
        return timezone.now() + timezone.timedelta(days=int(days)) if days else None


class UndoForm(forms.Form):
    comment = IdField()


def described(comment) -> str:
    """ "ann's comment “The first words…”": how messages name a comment."""
    who = comment.author.public_name if comment.author_id else "a deleted user"
    text = html.unescape(strip_tags(comment.body_html))  # as readers see it, not Markdown
    excerpt = Truncator(" ".join(text.split())).chars(60) or "(no text)"
    return f"{who}’s comment “{excerpt}”"


# What each moderation action is called in messages: "3 comments approved".
DONE = {"approve": "approved", "remove": "removed", "spam": "marked as spam", "restore": "restored"}
BOTH = [admin.ActionLocation.CHANGE_LIST, admin.ActionLocation.CHANGE_FORM]


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
    # The total under the filters is counted once; a second count of every comment (a
    # million rows) only to say "of N" is not worth it.
    show_full_result_count = False
    # No date hierarchy: its links are a DISTINCT over every comment's date (a second
    # per view at a million comments); the "created at" filter offers the same.
    date_hierarchy = None
    paginator = CappedPaginator
    ordering = ["-created_at"]
    # The change page shows these as buttons too, those that apply to the comment.
    actions = [
        "approve",
        "restore",
        "resolve_reports",
        "remove",
        "mark_spam",
        "remove_and_ban",
        "pin",
        "unpin",
    ]
    # The model's name for each act (Comment.moderation_actions) and the action doing it.
    ACTIONS = {
        "approve": "approve",
        "restore": "restore",
        "remove": "remove",
        "spam": "mark_spam",
        "pin": "pin",
        "unpin": "unpin",
    }
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
            super().get_queryset(request).annotate(open_reports=Coalesce(Subquery(open_reports), 0))
        )

    def has_add_permission(self, request):
        return False  # comments are written on the site

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser  # moderators remove; only a superuser deletes

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": "Comments", **(extra_context or {})})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        comment = self.get_object(request, unquote(object_id))
        buttons = []
        if comment is not None:
            acts = comment.moderation_actions()
            buttons = [self.ACTIONS[act] for act in acts]
            if "remove" in acts and comment.author_id:
                buttons.append("remove_and_ban")
            if comment.open_reports:
                buttons.append("resolve_reports")
        context = {
            # Every field is read-only: the acts below are the only changes there are.
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "moderation_buttons": buttons,
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, context)

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
        note = " " + (
            "1 was left unchanged: the action does not apply to it."
            if skipped == 1
            else f"{skipped} were left unchanged: the action does not apply to them."
        )
        self.message_user(
            request,
            f"{counted(done, 'comment')} {DONE[action]}." + (note if skipped else ""),
            messages.SUCCESS if done else messages.WARNING,
        )

    def _with_reason(self, request, queryset, verb, form_class, apply):
        """Ask for a reason on an intermediate page, then apply. From the list and from
        a comment's own page alike (its action field has a prefix there)."""
        on_change_form = f"{admin.ActionLocation.CHANGE_FORM.value}-action" in request.POST
        form = form_class(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            apply(form.cleaned_data)
            return None
        title = f"{verb} {counted(len(queryset), 'comment')}"
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "queryset": queryset,
            "action": request.POST.get(
                f"{admin.ActionLocation.CHANGE_FORM.value}-action" if on_change_form else "action"
            ),
            "action_field": (
                f"{admin.ActionLocation.CHANGE_FORM.value}-action" if on_change_form else "action"
            ),
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return render(request, "admin/forum/comment/reason.html", context)

    @admin.action(
        description="Approve",
        description_plural="Approve the selected comments (publish)",
        permissions=["change"],
        location=BOTH,
    )
    def approve(self, request, queryset):
        self._moderate(request, queryset, "approve")

    @admin.action(
        description="Remove…",
        description_plural="Remove the selected comments, with a reason",
        permissions=["change"],
        location=BOTH,
    )
    def remove(self, request, queryset):
        return self._with_reason(
            request,
            queryset,
            "Remove",
            ReasonForm,
            lambda data: self._moderate(request, queryset, "remove", data["reason"]),
        )

    @admin.action(
        description="Mark as spam",
        description_plural="Mark the selected comments as spam",
        permissions=["change"],
        location=BOTH,
    )
    def mark_spam(self, request, queryset):
        self._moderate(request, queryset, "spam", "spam")

    @admin.action(
        description="Restore",
        description_plural="Restore the selected comments (publish again)",
        permissions=["change"],
        location=BOTH,
    )
    def restore(self, request, queryset):
        self._moderate(request, queryset, "restore")

    @admin.action(
        description="Keep, and close its reports",
        description_plural="Keep the selected comments, and close their reports",
        permissions=["change"],
        location=BOTH,
    )
    def resolve_reports(self, request, queryset):
        resolved = sum(comment.resolve_reports(request.user) for comment in queryset)
        self.message_user(
            request, f"Kept as they are; closed {counted(resolved, 'report')}.", messages.SUCCESS
        )

    @admin.action(
        description="Remove and suspend the author…",
        description_plural="Remove the selected comments and suspend their authors",
        permissions=["change"],
        location=BOTH,
    )
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
            request, queryset, "Remove and suspend the authors of", SuspensionForm, apply
        )

    @admin.action(
        description="Pin",
        description_plural="Pin the selected comments to the top of the discussion",
        permissions=["change"],
        location=BOTH,
    )
    def pin(self, request, queryset):
        for comment in queryset:
            comment.set_pinned(request.user, True)
        self.message_user(request, f"{counted(len(queryset), 'comment')} pinned.")

    @admin.action(
        description="Unpin",
        description_plural="Unpin the selected comments",
        permissions=["change"],
        location=BOTH,
    )
    def unpin(self, request, queryset):
        for comment in queryset:
            comment.set_pinned(request.user, False)
        self.message_user(request, f"{counted(len(queryset), 'comment')} unpinned.")


@admin.register(ReviewItem)
class ReviewQueueAdmin(CommentAdmin):
    """Pending and reported comments, oldest first: one click from the admin index.

    Its desk (desk_view) shows each waiting comment as a card with everything needed to
    decide, and a button for each decision; desk.js adds one keystroke per decision."""

    # Fewer columns than all comments have, so that the comment itself has room.
    list_display = ["excerpt", "author", "status", "open_reports", "section", "created_at"]
    list_filter = ["status", "section__essay", HasReportsFilter]
    date_hierarchy = None
    ordering = ["created_at"]
    counted_as = ("comment to review", "comments to review")
    desk_page_size = 25
    UNDO = "desk:last-decision"  # the session's key for the moderator's last decision

    def get_queryset(self, request):
        return super().get_queryset(request).filter(pk__in=needs_review().values("pk"))

    def get_actions(self, request, action_location=admin.ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location=action_location)
        actions.pop("delete_selected", None)  # a superuser deletes from the comments list
        return actions

    def changelist_view(self, request, extra_context=None):
        context = {"title": "Comments waiting for review", "module_name": "comments to review"}
        return super().changelist_view(request, {**context, **(extra_context or {})})

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("desk/", view(self.desk_view), name="forum_reviewitem_desk"),
            path("desk/decide/", view(self.decide_view), name="forum_reviewitem_decide"),
            path("desk/undo/", view(self.undo_view), name="forum_reviewitem_undo"),
            *super().get_urls(),
        ]

    def has_desk_permission(self, request):
        return request.user.has_perm("forum.moderate_comment")

    # --- The desk ---------------------------------------------------------------------

    def desk_queryset(self):
        hold = ModerationLog.objects.filter(
            comment=OuterRef("pk"), action=ModerationLog.Action.HOLD, actor__isnull=True
        ).order_by("-pk")
        waiting_reports = Report.objects.filter(resolved_at__isnull=True).select_related("reporter")
        return (
            needs_review()
            .order_by("created_at", "pk")
            .select_related("author", "parent__author", "section__essay")
            .annotate(held_because=Subquery(hold.values("reason")[:1]))
            .prefetch_related(Prefetch("reports", waiting_reports, to_attr="waiting_reports"))
        )

    def desk_view(self, request):
        if not self.has_desk_permission(request):
            raise PermissionDenied
        page = Paginator(self.desk_queryset(), self.desk_page_size).get_page(
            request.GET.get("page")
        )
        comments = list(page.object_list)
        records = AuthorRecord.of({c.author for c in comments if c.author})
        cards = [
            {
                "comment": comment,
                "number": page.start_index() + n,
                "record": records.get(comment.author_id),
                "suspendable": comment.author is not None
                and comment.author.can_be_suspended_by(request.user),
                # Where the desk goes after this card's decision, without JavaScript.
                "next": comments[n + 1].pk if n + 1 < len(comments) else None,
            }
            for n, comment in enumerate(comments)
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Review desk",
            "opts": self.opts,
            "page": page,
            "cards": cards,
            "last": request.session.get(self.UNDO),
            "reasons": REASONS,
            "suspend_for": SUSPEND_FOR,
        }
        return TemplateResponse(request, "admin/forum/reviewitem/desk.html", context)

    def decide_view(self, request):
        if not self.has_desk_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return redirect("admin:forum_reviewitem_desk")
        form = DecisionForm(request.POST)
        if not form.is_valid():
            problem = next(iter(form.errors.values()))[0]
            return self._desk_reply(request, False, problem, status=400)
        data = form.cleaned_data
        comment = Comment.objects.select_related("author").filter(pk=data["comment"]).first()
        if comment is None:
            return self._desk_reply(request, False, "That comment no longer exists.", status=404)
        kind = data["decision"]
        try:
            decision = comment.decide(request.user, kind, reason=data["reason"], until=form.until())
        except PermissionDenied as refusal:
            return self._desk_reply(request, False, str(refusal), status=403)
        if decision is None:
            comment.refresh_from_db(fields=["status"])
            message = (
                f"Someone decided first: {described(comment)} is "
                f"{comment.get_status_display()} now."
            )
            return self._desk_reply(
                request, False, message, status=409, comment=comment.pk, gone=True
            )
        outcome, message = self._described_decision(decision, comment, data, form)
        request.session[self.UNDO] = {"decision": decision.as_data(), "summary": message}
        # Without JavaScript the desk shows this message above the cards, with Undo.
        return self._desk_reply(
            request, True, message, comment=comment.pk, outcome=outcome, next_card=data["next"],
            shown_by_desk=True,
        )  # fmt: skip

    def undo_view(self, request):
        if not self.has_desk_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return redirect("admin:forum_reviewitem_desk")
        form = UndoForm(request.POST)
        last = request.session.get(self.UNDO) or {}
        decision = Decision.from_data(last.get("decision") or {})
        if decision is None or not form.is_valid():
            return self._desk_reply(
                request, False, "There is no decision to undo: only your last one can be.", 409
            )
        if form.cleaned_data["comment"] != decision.comment_id:
            return self._desk_reply(
                request, False, "Only your last decision can be undone, on another comment.", 409
            )
        comment = Comment.objects.select_related("author").filter(pk=decision.comment_id).first()
        try:
            if comment is None:
                raise Refused("Not undone: the comment was deleted since.")
            comment.undo_decision(request.user, decision)
        except Refused as refusal:
            del request.session[self.UNDO]
            return self._desk_reply(request, False, str(refusal), status=409)
        del request.session[self.UNDO]
        message = f"Undone: {described(comment)} waits for review again."
        if decision.ban_id:
            message += f" The suspension of {comment.author.public_name} is lifted."
        return self._desk_reply(request, True, message, comment=comment.pk, next_card=comment.pk)

    def _described_decision(self, decision, comment, data, form):
        """What a decision did, as the card says it and as the message says it."""
        what = described(comment)
        reason = data["reason"]
        if decision.kind == "approve" and decision.before_status == Comment.Status.PUBLISHED:
            closed = counted(len(decision.closed_reports), "report")
            return f"Kept; {closed} closed", f"Kept {what} and closed {closed}."
        if decision.kind == "approve":
            return "Approved", f"Approved {what}."
        if decision.kind == "spam":
            return "Marked as spam", f"Marked {what} as spam."
        if decision.kind == "remove":
            return f"Removed: {reason}", f"Removed {what} ({reason})."
        how_long = dict(SUSPEND_FOR)[data.get("suspend_for") or ""]
        name = comment.author.public_name
        return (
            f"Removed, and {name} suspended {how_long}: {reason}",
            f"Removed {what} and suspended {name} {how_long} ({reason}).",
        )

    def _desk_reply(
        self, request, ok, message, status=200, *, next_card=None, shown_by_desk=False, **fields
    ):
        """JSON for desk.js, which asks for it; otherwise the message and back to the
        desk, at the next card (plain forms, without JavaScript)."""
        if request.headers.get("Accept") == "application/json":
            return JsonResponse({"ok": ok, "message": message, **fields}, status=status)
        if not shown_by_desk:
            self.message_user(request, message, messages.SUCCESS if ok else messages.WARNING)
        url = reverse("admin:forum_reviewitem_desk")
        page = parse_id(request.POST.get("page"))
        if page and page > 1:
            url += f"?page={page}"
        return redirect(f"{url}#card-{next_card}" if next_card else url)


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
    list_display = ["on_comment", "reason", "note", "reporter", "created_at", "resolved_at"]
    list_filter = ["reason", ("resolved_at", admin.EmptyFieldListFilter)]
    list_select_related = ["comment__author", "reporter"]
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

    @admin.display(description="on", ordering="comment")
    def on_comment(self, report):
        url = reverse("admin:forum_comment_change", args=[report.comment_id])
        return format_html('<a href="{}">{}</a>', url, described(report.comment))

    @admin.action(
        description="Resolve (keep the comment as it is)",
        description_plural="Resolve the selected reports (keep their comments as they are)",
        permissions=["change"],
    )
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
        # There is always exactly one policy: every link to the list opens it.
        policy = ModerationPolicy.current()
        return redirect("admin:forum_moderationpolicy_change", policy.pk)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        obj.record_change(request.user, form.changed_data)

    def response_change(self, request, obj):
        self.message_user(request, "The moderation policy is saved.", messages.SUCCESS)
        return redirect("admin:forum_moderationpolicy_change", obj.pk)


@admin.register(ModerationLog)
class ModerationLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "who", "action", "what", "reason"]
    list_filter = ["action", "created_at"]
    list_select_related = ["actor", "comment", "target_user"]
    search_fields = ["target", "reason", "actor__username"]
    date_hierarchy = "created_at"
    counted_as = ("record entry", "record entries")

    def changelist_view(self, request, extra_context=None):
        context = {"title": "Moderation record", "module_name": "record entries"}
        return super().changelist_view(request, {**context, **(extra_context or {})})

    @admin.display(description="who", ordering="actor__username")
    def who(self, entry):
        return entry.actor or "the site’s rules"

    @admin.display(description="what")
    def what(self, entry):
        """What was acted on, as recorded, with a link to it. Entries from before the
        record kept an excerpt get one from the comment as it is now."""
        if entry.comment_id:
            target = entry.target
            if "“" not in target:
                now = Truncator(" ".join(entry.comment.body.split())).chars(80)
                target = f"{target} (now: “{now}”)"
            url = reverse("admin:forum_comment_change", args=[entry.comment_id])
            return format_html('<a href="{}">{}</a>', url, target)
        if entry.target_user_id:
            url = reverse("admin:accounts_ban_changelist")
            query = urlencode({"q": entry.target_user.username})
            return format_html('<a href="{}?{}">{}</a>', url, query, entry.target)
        return entry.target

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

    def response_change(self, request, obj):
        state = "closed" if obj.discussion_closed else "open"
        self.message_user(request, f"The discussion of the {obj} is {state}.", messages.SUCCESS)
        return redirect(f"admin:forum_{self.opts.model_name}_changelist")


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


# --- The essay's editors answer comments ------------------------------------------------


class AnswerForm(forms.ModelForm):
    """The editors' answer to a comment. Validating it is carrying it out: the comment's
    own method (mark_addressed or decline) checks the rules, writes, and tells the
    commenter, inside the admin's transaction; a refusal becomes the form's error."""

    revision_number = forms.IntegerField(
        label="addressed in revision",
        min_value=1,
        required=False,
        help_text="The number of the section's revision that addresses the comment.",
    )

    class Meta:
        model = AnswerItem
        fields = ["editor_answer", "revision_number", "editor_note"]
        labels = {"editor_answer": "answer", "editor_note": "note, or the reason for declining"}

    def __init__(self, *args, editor=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.editor = editor
        self.fields["editor_answer"].required = True
        if self.instance.addressed_in_id:
            self.initial["revision_number"] = self.instance.addressed_in.number

    def clean(self):
        data = super().clean()
        answer, note = data.get("editor_answer"), data.get("editor_note", "")
        number = data.get("revision_number")
        if answer == EditorAnswer.ADDRESSED and number is None:
            raise forms.ValidationError("Say which revision addresses the comment.")
        if self.errors:
            return data
        comment = Comment.objects.get(pk=self.instance.pk)
        try:
            if answer == EditorAnswer.ADDRESSED:
                comment.mark_addressed(self.editor, number, note)
            else:
                comment.decline(self.editor, note)
        except Refused as refusal:
            raise forms.ValidationError(str(refusal)) from None
        return data


class EditorsAdmin(admin.ModelAdmin):
    """A page for the essay's editors (`User.is_editor`: staff powers and
    forum.answer_comment), whose form does the work through a comment's own method, as
    the editor: nothing is added or deleted here, and save_model has nothing left to do."""

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        class WithEditor(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, editor=request.user, **inner)

        return WithEditor

    def save_model(self, request, obj, form, change):
        pass  # the form's clean() did it, through the comment's own method

    def has_module_permission(self, request):
        return request.user.is_editor

    def has_view_permission(self, request, obj=None):
        return request.user.is_editor

    def has_change_permission(self, request, obj=None):
        return request.user.is_editor

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AnswerItem)
class AnswerAdmin(EditorsAdmin):
    """Where the essay's editors (the Editors group) answer published comments."""

    form = AnswerForm
    list_display = ["excerpt", "author", "section", "written_against", "answer", "created_at"]
    list_filter = ["editor_answer", "section__essay", "section"]
    search_fields = ["body"]
    list_select_related = ["author", "section__essay", "revision", "addressed_in"]
    ordering = ["-created_at"]
    readonly_fields = ["author", "section", "written_against", "quote", "text", "answered"]
    fieldsets = [
        (None, {"fields": ["author", "section", "written_against", "quote", "text"]}),
        (
            "The editors' answer",
            {"fields": ["editor_answer", "revision_number", "editor_note", "answered"]},
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=Comment.Status.PUBLISHED)

    @admin.display(description="comment")
    def excerpt(self, comment):
        return Truncator(comment.body or "(no text)").chars(80)

    @admin.display(description="written against revision")
    def written_against(self, comment):
        return comment.revision.number if comment.revision_id else "—"

    @admin.display(description="answer")
    def answer(self, comment):
        if comment.editor_answer == EditorAnswer.ADDRESSED:
            return f"addressed in revision {comment.addressed_in.number}"
        return comment.get_editor_answer_display() or "—"

    @admin.display(description="quoted passage")
    def quote(self, comment):
        return comment.quote_text or "—"

    @admin.display(description="text")
    def text(self, comment):
        # body_html was produced by essays.markup, which sanitizes it.
        return mark_safe(comment.body_html)  # noqa: S308

    @admin.display(description="answered")
    def answered(self, comment):
        if not comment.answered_at:
            return "not yet"
        who = comment.answered_by.public_name if comment.answered_by_id else "someone"
        return f"by {who}, {comment.answered_at:%Y-%m-%d %H:%M}"


class MoveAnchorForm(forms.ModelForm):
    """Point a doubtful quote at its passage by hand. Validating it is carrying it out,
    through Comment.move_anchor (which checks the rules)."""

    passage = forms.CharField(
        label="the passage now",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Copy the words from the section's current text.",
    )

    class Meta:
        model = AnchorReview
        fields = []

    def __init__(self, *args, editor=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.editor = editor
        self.initial.setdefault("passage", self.instance.anchor_text or self.instance.quote_text)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            Comment.objects.get(pk=self.instance.pk).move_anchor(self.editor, data["passage"])
        except Refused as refusal:
            raise forms.ValidationError(str(refusal)) from None
        return data


@admin.register(AnchorReview)
class AnchorReviewAdmin(EditorsAdmin):
    """Quotes whose passage an edit left in doubt: the essay's editors confirm the match,
    move the quote by hand (open one), or mark its passage as gone."""

    form = MoveAnchorForm
    list_display = ["quoted", "now", "confidence", "section", "written_against", "created_at"]
    list_filter = ["section__essay", "section"]
    list_select_related = ["section__essay", "revision"]
    ordering = ["anchor_confidence", "-created_at"]
    readonly_fields = ["section", "written_against", "quoted", "now", "confidence"]
    fields = ["section", "written_against", "quoted", "now", "confidence", "passage"]
    actions = ["confirm", "orphan"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(anchor_state=AnchorState.REVIEW)

    def _each(self, request, queryset, act, done: str):
        count = 0
        for comment in queryset:
            try:
                act(comment)
                count += 1
            except Refused as refusal:
                self.message_user(request, f"Comment {comment.pk}: {refusal}", messages.ERROR)
        if count:
            self.message_user(request, f"{count} {done}.", messages.SUCCESS)

    @admin.action(description="Confirm the match (the passage, reworded)", permissions=["change"])
    def confirm(self, request, queryset):
        self._each(request, queryset, lambda c: c.confirm_anchor(request.user), "confirmed")

    @admin.action(description="Mark the passage as gone (orphaned)", permissions=["change"])
    def orphan(self, request, queryset):
        self._each(request, queryset, lambda c: c.orphan_anchor(request.user), "marked as gone")

    @admin.display(description="quoted (then)")
    def quoted(self, comment):
        return comment.quote_text

    @admin.display(description="best match now")
    def now(self, comment):
        return comment.anchor_text or "—"

    @admin.display(description="confidence")
    def confidence(self, comment):
        return f"{comment.anchor_confidence:.2f}" if comment.anchor_confidence is not None else "—"

    @admin.display(description="written against revision")
    def written_against(self, comment):
        return comment.revision.number if comment.revision_id else "—"
