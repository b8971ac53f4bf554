import re
import uuid

from django import forms
from django.conf import settings

from essays.markup import render_user_text
from forum.models import Comment, ModerationPolicy, Report

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
    """A new comment or reply. The rules for what may be posted live here."""

    parent = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)
    quote = forms.CharField(
        label="Quote from the section (optional)",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Paste the words you are answering; they are shown above your comment.",
    )
    quote_anchor = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    token = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, section, user, **kwargs):
        super().__init__(*args, **kwargs)
        # A reply form sits on a page next to other forms: its own ids keep labels right.
        parent = (self.data if self.is_bound else self.initial).get("parent")
        # Which comment this form answers, as sent: it stays a reply form even when
        # that comment turns out to be gone.
        self.reply_to = int(parent) if parent and str(parent).isdigit() else None
        if self.reply_to:
            self.auto_id = f"reply{parent}_%s"
        self.section = section
        self.user = user
        self.fields["body"] = comment_body_field()
        self.order_fields(["quote", "body"])
        self.initial.setdefault("token", uuid.uuid4())
        self.passage = None
        self.parent_comment = None

    def clean_body(self):
        body = clean_text(self.cleaned_data["body"])
        if not body:
            raise forms.ValidationError("Please write something first.")
        return body

    def clean_quote(self):
        return clean_text(self.cleaned_data["quote"])

    def clean_parent(self):
        parent_id = self.cleaned_data["parent"]
        if parent_id is None:
            return None
        parent = Comment.objects.visible_to(self.user).filter(pk=parent_id).first()
        if parent is None:
            raise forms.ValidationError(
                "The comment you are replying to does not exist or is no longer visible."
            )
        if parent.section_id != self.section.pk:
            raise forms.ValidationError("You can only reply to a comment on the same section.")
        self.parent_comment = parent
        return parent_id

    def clean(self):
        cleaned = super().clean()
        if refusal := self.user.write_refusal():
            raise forms.ValidationError(refusal)
        if not self.section.is_open_for_discussion:
            raise forms.ValidationError("The discussion of this section is closed.")
        body = cleaned.get("body")
        policy = ModerationPolicy.current()
        if body and (refusal := policy.refusal(self.user, render_user_text(body))):
            raise forms.ValidationError(refusal)
        quote = cleaned.get("quote")
        if quote:
            self.passage = self.section.find_passage(quote, cleaned.get("quote_anchor", ""))
            if self.passage is None:
                self.add_error(
                    "quote", "That passage is not in this section; please copy it exactly."
                )
        return cleaned

    def save(self):
        return Comment.objects.post(
            section=self.section,
            author=self.user,
            body=self.cleaned_data["body"],
            parent=self.parent_comment,
            passage=self.passage,
            token=self.cleaned_data.get("token"),
        )


class EditCommentForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"] = comment_body_field()

    def clean_body(self):
        body = clean_text(self.cleaned_data["body"])
        if not body:
            raise forms.ValidationError("A comment cannot be empty; delete it instead.")
        return body


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
