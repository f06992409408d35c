"""Signals other apps connect to.

``exercise_passed(sender=ExerciseAttempt, learner_key, exercise, attempt)`` is sent once for
every passing "Check" of a graded exercise, after the attempt is saved (inside the request's
transaction). ``learner_key`` is "user:<pk>" for a signed-in user or "session:<token>" for a
visitor (the token is ``request.session["sandbox_learner"]``; ``Sandbox.objects.adopt`` shows
how to move a visitor's records to their account at log-in). Progress code marks the exercise's
lesson part done here, e.g.::

    @receiver(exercise_passed)
    def count_exercise(sender, learner_key, exercise, attempt, **kwargs):
        Progress.objects.for_key(learner_key, exercise.lesson).mark_exercise(exercise.key)
"""

from __future__ import annotations

from django.dispatch import Signal

exercise_passed = Signal()
