"""Forms for the discussion: they validate text and refuse duplicates; views only orchestrate."""

from __future__ import annotations

from django import forms
from django.conf import settings

from lessons import spoofing
from lessons.models import Flag, Post

BODY_HELP = (
    "Markdown: *emphasis*, `code`, ```sql fenced blocks```, lists and links. No HTML or images."
)


def _body_field() -> forms.CharField:
    return forms.CharField(
        label="Your post",
        max_length=settings.DISCUSSION_MAX_BODY_CHARS,
        strip=True,
        help_text=BODY_HELP,
        widget=forms.Textarea(attrs={"rows": 5, "data-counter": ""}),
        error_messages={"required": "Write something first."},
    )


def _title_field() -> forms.CharField:
    return forms.CharField(
        label="Title",
        # Thread.title holds 200 characters at most, whatever the setting says.
        max_length=min(settings.DISCUSSION_MAX_TITLE_CHARS, 200),
        strip=True,
        widget=forms.TextInput(
            attrs={"data-counter": "", "placeholder": "Your question in one line"}
        ),
        error_messages={"required": "Give your thread a title."},
    )


class _PostTextForm(forms.Form):
    """Shared by new threads and replies: `author` is who is posting, for the duplicate guard.

    The text fields are made per form, so that the length settings are read when it is used.
    """

    def __init__(self, *args, author=None, check_duplicates: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if "title" in self.fields:
            self.fields["title"] = _title_field()
        self.fields["body"] = _body_field()
        self.author = author
        self.check_duplicates = check_duplicates

    def clean_title(self) -> str:
        title = self.cleaned_data["title"]
        spoofing.check_text(
            title, what="The title", direction_characters=spoofing.ALL_DIRECTION_CHARACTERS
        )
        return title

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        # Bodies keep the direction marks (LRM, RLM, ALM): right-to-left prose needs them.
        spoofing.check_text(
            body, what="Your post", direction_characters=spoofing.DIRECTION_CONTROLS
        )
        if (
            self.check_duplicates
            and self.author is not None
            and Post.objects.is_duplicate(author=self.author, body=body)
        ):
            raise forms.ValidationError(
                "You have already posted exactly this. If it did not show up, reload the page."
            )
        return body


class ThreadForm(_PostTextForm):
    title = _title_field()
    body = _body_field()


class ReplyForm(_PostTextForm):
    body = _body_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"].label = "Your reply"


class EditForm(_PostTextForm):
    """Editing a post; `title` only for a thread's opening post."""

    title = _title_field()
    body = _body_field()

    def __init__(self, *args, post: Post, **kwargs):
        super().__init__(*args, check_duplicates=False, **kwargs)
        if not post.is_opening:
            del self.fields["title"]


class FlagForm(forms.Form):
    reason = forms.ChoiceField(
        label="What is wrong with this post?", choices=Flag.Reason.choices, widget=forms.RadioSelect
    )
    note = forms.CharField(
        label="Anything the moderators should know? (optional)",
        max_length=500,
        required=False,
        strip=True,
        widget=forms.TextInput,
    )
