from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm, UserCreationForm
from django.contrib.auth.models import User

from lessons import spoofing
from lessons.models import AccountProfile, name_is_taken

LOOK_ALIKE_MESSAGE = (
    "This username looks too much like an existing user's: choose one that cannot "
    "be mistaken for it."
)


class UsernameRulesMixin:
    """What every form that sets a username checks, beyond Django's own rules: no invisible
    direction characters, no piles of combining marks, and no look-alike of another user's
    username (lessons/spoofing.py).

    The two text checks come before Django's: its validator refuses the same characters, but
    with a message that does not say which one is the problem.
    """

    def clean_username(self) -> str | None:
        username = self.cleaned_data.get("username")
        if not username:
            return username
        spoofing.check_text(
            username, what="The username", direction_characters=spoofing.ALL_DIRECTION_CHARACTERS
        )
        # The creation forms' own check first (a name that differs from another only in case),
        # for its plainer message; the change form has none, and the skeleton folds case anyway.
        parent = getattr(super(), "clean_username", None)
        username = parent() if parent else username
        if username is None:
            return None
        # Other users' usernames and display names, and deleted accounts' held usernames.
        if name_is_taken(username, by_user_id=self.instance.pk):
            raise forms.ValidationError(LOOK_ALIKE_MESSAGE, code="look_alike")
        return username


class SignupForm(UsernameRulesMixin, UserCreationForm):
    """Username and password; an email address is optional and only used to reset a password."""

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].required = False
        self.fields["email"].help_text = "Optional. Only used if you forget your password."


class AdminUserAddForm(UsernameRulesMixin, AdminUserCreationForm):
    """The admin's "Add user" form, under the same username rules as signing up."""


class AdminUserEditForm(UsernameRulesMixin, UserChangeForm):
    """The admin's user form, where a username can be changed, under the same rules."""


# -- The account page (lessons/account_views.py) ---------------------------------------------


class PasswordCheckMixin:
    """A "current password" field, for changes a stolen session must not be able to make."""

    def check_current_password(self, user) -> str:
        password = self.cleaned_data.get("current_password", "")
        if not user.check_password(password):
            raise forms.ValidationError(
                "That is not your current password.", code="password_incorrect"
            )
        return password


class ProfileForm(forms.ModelForm):
    """The display name (under the username rules) and how replies reach the user."""

    class Meta:
        model = AccountProfile
        fields = ("display_name", "replies")
        labels = {"display_name": "Display name", "replies": "Tell me about replies"}
        help_texts = {
            "display_name": "Shown in the discussion and on certificates instead of your "
            "username. Leave it empty to show your username.",
            "replies": "When someone replies to you or marks your reply as the answer.",
        }
        widgets = {"replies": forms.RadioSelect}

    def clean_display_name(self) -> str:
        name = " ".join(self.cleaned_data.get("display_name", "").split())
        if not name:
            return ""
        spoofing.check_text(
            name, what="The display name", direction_characters=spoofing.ALL_DIRECTION_CHARACTERS
        )
        if name_is_taken(name, by_user_id=self.instance.user_id):
            raise forms.ValidationError(
                "This name looks too much like another user's name: choose one that cannot "
                "be mistaken for it.",
                code="look_alike",
            )
        return name


class EmailChangeForm(PasswordCheckMixin, forms.Form):
    """A new address, confirmed by a link sent to it; the current password first."""

    email = forms.EmailField(label="New e-mail address", max_length=254)
    current_password = forms.CharField(
        label="Current password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"])
        if email.casefold() == (self.user.email or "").casefold():
            raise forms.ValidationError("That is already your e-mail address.", code="same")
        return email

    def clean_current_password(self) -> str:
        return self.check_current_password(self.user)


class DeleteAccountForm(PasswordCheckMixin, forms.Form):
    current_password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    erase_posts = forms.BooleanField(
        label="Also delete the text of my posts that others replied to",
        required=False,
        help_text="Posts nobody replied to are always deleted. Posts others replied to stay, "
        "shown as by “deleted user”, so the replies still make sense; tick this to remove "
        "their text as well.",
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_current_password(self) -> str:
        return self.check_current_password(self.user)
