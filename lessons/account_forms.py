from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm, UserCreationForm
from django.contrib.auth.models import User

from lessons import spoofing
from lessons.models import UsernameSkeleton


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
        others = UsernameSkeleton.objects.look_alikes(username)
        if self.instance.pk is not None:
            others = others.exclude(user=self.instance.pk)
        if others.exists():
            raise forms.ValidationError(
                "This username looks too much like an existing user's: choose one that cannot "
                "be mistaken for it.",
                code="look_alike",
            )
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
