import re
import uuid
from functools import cached_property

from django import forms
from django.conf import settings
from django.db import transaction

from accounts.models import User
from forum.ids import IdField, parse_id
from forum.models import Act, Comment, ModerationPolicy, Participation, Refused, Report

# Control characters other than tab, newline and carriage return have no place in text.
_control = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    if _control.search(text):
        raise forms.ValidationError(
            "Your text contains control characters (such as NUL bytes); please remove them."
        )
    return text.replace("\r\n", "\n").strip()


def comment_body_field():
    # Built per form so the length limit follows the setting at the time of use.
    return forms.CharField(
        label="Your comment",
        max_length=settings.COMMENT_MAX_LENGTH,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Markdown: *emphasis*, **strong**, [links](https://…), > quotes, `code`.",
        error_messages={
            "required": "Please write something first.",
            "max_length": "Please keep comments under %(limit_value)d characters "
            "(this one has %(show_value)d).",
        },
    )


class CommentForm(forms.Form):
    """A new comment, a reply, or an edit of one's own comment: the one place that
    decides what may be written. An edit meets the same rules as a post: who may, the
    text, the posting and link limits, and what is held for review. `section` is one
    the views found `user` may read (visible_section, or a comment's they may see)."""

    parent = IdField(required=False)
    quote = forms.CharField(
        label="Quote from the section (optional)",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Paste the words you are answering; they are shown above your comment.",
    )
    quote_anchor = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    token = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, data=None, *, section, user, comment=None, previewing=False, **kwargs):
        super().__init__(data, **kwargs)
        self.section, self.user, self.comment = section, user, comment
        # A preview: counted against the preview limit before anything is rendered.
        self.previewing = previewing
        self.participation = Participation(user, section)
        self.fields["body"] = comment_body_field()
        self.passage = None
        self.parent_comment = None
        # Seconds after which a refused write may succeed (a posting limit), for a 429.
        self.retry_after = None
        if comment is not None:  # an edit: the text only
            for name in ("parent", "quote", "quote_anchor", "token"):
                del self.fields[name]
            self.initial.setdefault("body", comment.body)
            self.auto_id = f"edit{comment.pk}_%s"
            self.reply_to = None
            return
        # Which comment this form answers, as sent: it stays a reply form even when
        # that comment turns out to be gone. Its own ids keep labels right on a page
        # with other forms.
        self.reply_to = parse_id((self.data if self.is_bound else self.initial).get("parent"))
        if self.reply_to:
            self.auto_id = f"reply{self.reply_to}_%s"
        self.order_fields(["quote", "body"])
        self.initial.setdefault("token", uuid.uuid4())

    @property
    def is_edit(self) -> bool:
        return self.comment is not None

    @cached_property
    def policy(self) -> ModerationPolicy:
        return ModerationPolicy.current()

    def clean_body(self):
        body = clean_text(self.cleaned_data["body"])
        if not body:
            if self.is_edit:
                raise forms.ValidationError("A comment cannot be empty; delete it instead.")
            raise forms.ValidationError("Please write something first.")
        return body

    def clean_quote(self):
        return clean_text(self.cleaned_data["quote"])

    def clean_parent(self):
        parent_id = self.cleaned_data["parent"]
        if parent_id is None:
            return None
        # Looked for in the form's section (one the viewer may read), as the viewer
        # sees it; the section is not read again (its text and its essay's would be two
        # joins and two wide rows more).
        parent = Comment.objects.one_in(self.section, self.user, parent_id)
        if parent is None:
            if Comment.objects.visible_to(self.user).filter(pk=parent_id).exists():
                raise forms.ValidationError("You can only reply to a comment on the same section.")
            raise forms.ValidationError(
                "The comment you are replying to does not exist or is no longer visible."
            )
        parent.section = self.section
        if (refusal := self.participation.to(Act.REPLY, parent)) and not self.participation.refusal:
            raise forms.ValidationError(refusal)
        self.parent_comment = parent
        return parent_id

    def clean(self):
        cleaned = super().clean()
        if self.is_edit:
            refusal = self.participation.to(Act.EDIT, self.comment)
        else:
            refusal = self.participation.to_post()
        if refusal:
            raise forms.ValidationError(refusal)
        if self.previewing:
            self._check(lambda: self.policy.check_previews(self.user))
            if self.retry_after:
                return cleaned
        quote = cleaned.get("quote")
        if quote:
            self.passage = self.section.find_passage(quote, cleaned.get("quote_anchor", ""))
            if self.passage is None:
                self.add_error(
                    "quote", "That passage is not in this section; please copy it exactly."
                )
        if cleaned.get("body"):
            # The link limit now, for a quick answer (and for preview); the posting
            # limits when writing, under the author's lock (see _write).
            self._check(lambda: self.policy.check_links(self.user, self.draft()))
        return cleaned

    @cached_property
    def draft_comment(self) -> Comment:
        return self._draft()

    def draft(self) -> Comment:
        """The comment as it would look once written (unsaved): for limits and preview.
        Rendered once per form."""
        return self.draft_comment

    def _draft(self) -> Comment:
        draft = Comment(
            pk=self.comment.pk if self.is_edit else None,
            body=self.cleaned_data["body"],
            section=self.section,
            author=self.user,
            status=self.comment.status if self.is_edit else Comment.Status.PUBLISHED,
        )
        draft.render()
        if self.is_edit:
            draft.quote_text, draft.quote_anchor = (
                self.comment.quote_text,
                self.comment.quote_anchor,
            )
            draft.quote_before, draft.quote_after = (
                self.comment.quote_before,
                self.comment.quote_after,
            )
        elif self.passage:
            draft.quote_text, draft.quote_anchor = self.passage.text, self.passage.anchor
            draft.quote_before, draft.quote_after = self.passage.before, self.passage.after
        return draft

    def _check(self, write):
        """Run a write the rules may refuse; a refusal becomes the form's error."""
        try:
            return write()
        except Refused as refusal:
            self.retry_after = refusal.retry_after
            self.add_error(None, str(refusal))
            return None

    def save(self) -> tuple[Comment, bool] | None:
        """Write it; None (with the form's error) if the rules refuse at that moment."""
        return self._check(self._write)

    @transaction.atomic
    def _write(self) -> tuple[Comment, bool]:
        # One author's writes are counted one at a time, so that simultaneous posts
        # cannot all slip under a limit (on SQLite, writers queue anyway). FOR NO KEY
        # UPDATE: others' notifications to this author (foreign keys to the row) must
        # not wait for it, or two authors answering each other would deadlock.
        User.objects.select_for_update(no_key=True).filter(pk=self.user.pk).values("pk").first()

        def check_limits():
            self.policy.check_limits(self.user, self.draft())

        if self.is_edit:
            check_limits()
            self.comment.edit(self.cleaned_data["body"], by=self.user)
            return self.comment, False
        # A form sent again (the same token) is not counted again: post() answers it
        # with the first comment before it runs the check.
        return Comment.objects.post(
            section=self.section,
            author=self.user,
            body=self.cleaned_data["body"],
            parent=self.parent_comment,
            passage=self.passage,
            token=self.cleaned_data.get("token"),
            policy=self.policy,
            check=check_limits,
            body_html=self.draft().body_html,  # rendered once, for the link limit
        )


class ReportForm(forms.Form):
    reason = forms.ChoiceField(
        label="What is wrong with this comment?",
        choices=Report.Reason.choices,
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label="Anything the moderators should know? (optional)",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean_note(self):
        return clean_text(self.cleaned_data["note"])

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("reason") == Report.Reason.OTHER and not cleaned.get("note"):
            self.add_error("note", "Please say what is wrong.")
        return cleaned
