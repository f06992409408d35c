"""Forms for the learning loop's answers (lessons/learning_views.py)."""

from __future__ import annotations

from django import forms

from lessons.models import Confidence, QuizChoice, QuizQuestion


class QuizAnswerForm(forms.Form):
    """The chosen choices of one question, by their keys (what the lesson page posts)."""

    choice = forms.MultipleChoiceField(error_messages={"required": "Choose an answer first."})

    def __init__(self, *args, question: QuizQuestion, **kwargs):
        super().__init__(*args, **kwargs)
        self.question = question
        self.fields["choice"].choices = [(c.key, c.key) for c in question.active_choices]

    def clean_choice(self) -> list[QuizChoice]:
        keys = set(self.cleaned_data["choice"])
        if len(keys) > 1 and not self.question.allows_many:
            raise forms.ValidationError("This question has one answer.")
        return [c for c in self.question.active_choices if c.key in keys]


class YesNoForm(forms.Form):
    """ "Got it" / "not yet", "knew it" / "review again", done / not done: answer=1 or 0."""

    answer = forms.TypedChoiceField(choices=[("1", "yes"), ("0", "no")], coerce=lambda v: v == "1")


class ConfidenceForm(forms.Form):
    level = forms.TypedChoiceField(choices=Confidence.choices, coerce=int)


class ReviewGradeForm(forms.Form):
    """A review item's grade: 1 again, 2 hard, 3 good, 4 easy (FSRS's ratings)."""

    rating = forms.TypedChoiceField(
        choices=[("1", "again"), ("2", "hard"), ("3", "good"), ("4", "easy")],
        coerce=int,
        error_messages={"invalid_choice": "Grade it 1 (again), 2 (hard), 3 (good) or 4 (easy)."},
    )
