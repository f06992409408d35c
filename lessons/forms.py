from __future__ import annotations

from pathlib import Path

from django import forms
from django.conf import settings

# The drafts a staff member previewed, by digest, so that the preview's Check buttons grade the
# draft itself (sandbox/preview.py): {digest: {"path": str, "source": str | None}}, where a
# source of None means the named file, read from disk again at every Check.
PREVIEW_DRAFTS = "preview_drafts"
PREVIEW_DRAFTS_KEPT = 8


class PreviewForm(forms.Form):
    """A draft to preview: pasted Markdown, or a lesson file under CONTENT_DIR."""

    path = forms.CharField(
        required=False,
        max_length=300,
        label="File under content/",
        help_text="For example postgresql/03-connections-and-pooling.md. With pasted Markdown, "
        "the path only names the draft (its track, step and links are checked against it).",
        widget=forms.TextInput(attrs={"placeholder": "postgresql/04-my-draft.md"}),
    )
    source = forms.CharField(
        required=False,
        label="Markdown",
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}),
    )

    run_checks = forms.BooleanField(
        required=False,
        initial=True,
        label="Also run the sandbox checks",
        help_text="As `content check` does: the fixture seeds, every example runs and every "
        "exercise's solution passes its own checks (a few seconds).",
    )

    def clean_path(self) -> str:
        path = self.cleaned_data["path"].strip().removeprefix("content/")
        if not path:
            return ""
        resolved = (settings.CONTENT_DIR / path).resolve()
        if not resolved.is_relative_to(settings.CONTENT_DIR) or resolved.suffix != ".md":
            raise forms.ValidationError("Give a .md file inside content/.")
        return resolved.relative_to(settings.CONTENT_DIR).as_posix()

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        if not data.get("source", "").strip():
            if not data.get("path"):
                raise forms.ValidationError("Paste a lesson, or give the path of a lesson file.")
            file = Path(settings.CONTENT_DIR) / data["path"]
            if not file.is_file():
                self.add_error("path", "There is no such file under content/.")
                return data
            data["source"] = file.read_text()
            data["from_file"] = True
        data["path"] = data.get("path") or "postgresql/99-draft.md"
        return data
