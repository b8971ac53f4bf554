import unicodedata

from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.models import User, mistakable


class TakenBack(Exception):
    """Rolls back an account made only to take as long as making one."""


class SignupForm(AllauthSignupForm):
    """allauth's sign-up form, with its honeypot hidden by the stylesheet instead of an
    inline style attribute (which the Content-Security-Policy forbids)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        honeypot = self.fields.get(settings.ACCOUNT_SIGNUP_FORM_HONEYPOT_FIELD)
        if honeypot:
            attrs = honeypot.widget.attrs
            attrs.pop("style", None)
            attrs.update({"class": "honeypot", "aria-hidden": "true", "autocomplete": "off"})

    def try_save(self, request):
        """For a taken address allauth only mails the owner (ACCOUNT_PREVENT_ENUMERATION)
        and answered in 14 ms, against 300 ms for a new account (its password hashed, its
        rows written). Do the same work for a taken address, making the account (the
        hash, the rows) and taking it back, so the answer takes as long either way."""
        honeypot = settings.ACCOUNT_SIGNUP_FORM_HONEYPOT_FIELD
        if self.account_already_exists and not self.cleaned_data.get(honeypot):
            self.make_and_take_back(request)
        return super().try_save(request)

    def make_and_take_back(self, request):
        self.account_already_exists = False
        try:
            with transaction.atomic():
                self.save(request)
                raise TakenBack
        except (TakenBack, IntegrityError):  # the address may be unique in the database
            pass
        finally:
            self.account_already_exists = True


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["display_name", "bio", *User.PREFERENCES]
        widgets = {"bio": forms.Textarea(attrs={"rows": 5})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.is_moderator:
            del self.fields["email_on_review"]  # only moderators see the review queue

    def clean_display_name(self):
        # Compatibility forms become plain letters (as Django does for usernames): a
        # fullwidth "M" is checked against the usernames below as a plain one.
        name = unicodedata.normalize("NFKC", " ".join(self.cleaned_data["display_name"].split()))
        if problem := mistakable(name):
            raise forms.ValidationError(problem)
        reserved = {*settings.ACCOUNT_USERNAME_BLACKLIST, "deleted user", "[deleted]"}
        if name.lower() in reserved:
            raise forms.ValidationError("That name is reserved; please choose another.")
        if (
            name
            and User.objects.exclude(pk=self.instance.pk).filter(username__iexact=name).exists()
        ):
            raise forms.ValidationError(
                "That name belongs to another member; please choose another."
            )
        return name

    def clean(self):
        cleaned = super().clean()
        # The name and bio are shown to everyone, beside every comment: changing them is
        # taking part, which a suspended or unconfirmed account may not do.
        public = {"display_name", "bio"} & set(self.changed_data)
        if public and (refusal := self.instance.write_refusal()):
            raise forms.ValidationError(
                f"{refusal} Your name and bio stay as they are; your email preferences can "
                "still be changed."
            )
        return cleaned


class DeleteAccountForm(forms.Form):
    ERASE, KEEP = "erase", "keep"
    comments = forms.ChoiceField(
        label="What should happen to what you wrote?",
        choices=[
            (KEEP, "Keep my comments, shown as “deleted user”, so conversations stay readable"),
            (
                ERASE,
                "Erase my comments (replies from others stay, under a “[deleted]” placeholder)",
            ),
        ],
        widget=forms.RadioSelect,
    )
    confirm = forms.BooleanField(
        label="I understand that my account is removed for good and cannot be restored.",
    )

    def keep_comments(self) -> bool:
        return self.cleaned_data["comments"] == self.KEEP
