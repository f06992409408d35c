"""Sandboxes, kept plans, exercise attempts and run counters belong to a ``lessons.Learner``
row instead of a ``learner_key`` string (issue #19: one learner identity).

Every row is kept:

- "user:<id>" → that user's Learner (made if the user had none yet);
- "session:<token>" → the Learner whose id the session holding that token has (its
  ``learner_id``); when that session holds none, a new visitor Learner, whose id is written into
  the session so its visitor keeps their sandboxes; a token no session holds (expired, cleared)
  → a new visitor Learner, one per distinct token;
- anything else (a user since deleted, a malformed key) → a new visitor Learner each, whose
  sandboxes then expire as visitors' do.

Two keys that now mean one learner may both have had an active sandbox for the same lesson
(the old log-in hook left a visitor's sandbox behind where the account had one): the account's
keeps it, the other row stays with no learner, and the janitor drops it (schema and role) on
its next sweep, as it does the sandboxes of deleted learners. Run counters of one learner in
the same minute are added up.

Reversible: a user's Learner becomes "user:<id>" again; a visitor's becomes "session:<new
token>", written into every session that holds that Learner's id (sandboxes left with no
learner go back to the warm-pool's "").

Sessions are decoded and encoded with the configured session engine's store (``cached_db``):
its cached copy of a session that is changed here is deleted, so the next request reads the
database's.
"""

from __future__ import annotations

import secrets
from importlib import import_module

import django.db.models.deletion
from django.conf import settings
from django.db import DatabaseError, migrations, models, transaction

LEARNER_SESSION_KEY = "learner_id"  # lessons.models.learning
VISITOR_TOKEN = "sandbox_learner"  # noqa: S105 (a session key, not a secret)
KEYED = ("Sandbox", "PlanRecord", "ExerciseAttempt", "RunCounter")


def _store():
    return import_module(settings.SESSION_ENGINE).SessionStore


def _sessions(apps):
    """Every stored session as (key, decoded data); undecodable ones decode to {}."""
    store = _store()()
    for key, data in (
        apps.get_model("sessions", "Session")
        .objects.values_list("session_key", "session_data")
        .iterator()
    ):
        yield key, store.decode(data)


def _save_session(apps, key: str, data: dict) -> None:
    Store = _store()
    apps.get_model("sessions", "Session").objects.filter(session_key=key).update(
        session_data=Store().encode(data)
    )
    cache_key = getattr(Store(session_key=key), "cache_key", None)
    if cache_key is None:
        return
    from django.core.cache import caches

    try:
        with transaction.atomic():
            caches[settings.SESSION_CACHE_ALIAS].delete(cache_key)
    except DatabaseError:
        pass  # no cache table yet: nothing is cached


def _keys(apps) -> set[str]:
    keys = set()
    for name in KEYED:
        rows = apps.get_model("sandbox", name).objects.exclude(learner_key="")
        keys |= set(rows.values_list("learner_key", flat=True).distinct())
    return keys


def _learners_for_keys(apps, keys: set[str]) -> dict[str, int]:
    """Which Learner each key becomes (see the module's docstring)."""
    Learner = apps.get_model("lessons", "Learner")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    found: dict[str, int] = {}
    user_ids = {key: key.removeprefix("user:") for key in keys if key.startswith("user:")}
    present = {
        str(pk)
        for pk in User.objects.filter(
            pk__in=[value for value in user_ids.values() if value.isdigit()]
        ).values_list("pk", flat=True)
    }
    for key, user_id in user_ids.items():
        if user_id in present:
            found[key] = Learner.objects.get_or_create(user_id=int(user_id))[0].pk
    tokens = {key.removeprefix("session:"): key for key in keys if key.startswith("session:")}
    if tokens:
        for session_key, data in _sessions(apps):
            key = tokens.get(data.get(VISITOR_TOKEN))
            if key is None or key in found:
                continue
            learner_id = data.get(LEARNER_SESSION_KEY)
            if not (learner_id and Learner.objects.filter(pk=learner_id).exists()):
                learner_id = Learner.objects.create().pk
                _save_session(apps, session_key, {**data, LEARNER_SESSION_KEY: learner_id})
            found[key] = learner_id
    for key in sorted(keys - set(found)):
        found[key] = Learner.objects.create().pk
    return found


def keys_to_learners(apps, schema_editor) -> None:
    keys = _keys(apps)
    if not keys:
        return
    learners = _learners_for_keys(apps, keys)
    Sandbox = apps.get_model("sandbox", "Sandbox")
    for key, learner_id in sorted(
        learners.items(), key=lambda item: not item[0].startswith("user:")
    ):
        # An account's sandbox wins over a session's for the same lesson (users first).
        taken = Sandbox.objects.filter(state="active", learner_id=learner_id).values("lesson_id")
        rows = Sandbox.objects.filter(learner_key=key)
        rows.exclude(state="active", lesson_id__in=taken).update(learner_id=learner_id)
        for name in ("PlanRecord", "ExerciseAttempt"):
            apps.get_model("sandbox", name).objects.filter(learner_key=key).update(
                learner_id=learner_id
            )
    _counters_to_learners(apps, learners)
    # The rows' foreign keys are checked now, so the columns can be altered after this.
    schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _counters_to_learners(apps, learners: dict[str, int]) -> None:
    RunCounter = apps.get_model("sandbox", "RunCounter")
    kept: dict[tuple[int, object], object] = {}
    for counter in RunCounter.objects.exclude(learner_key="").order_by("pk"):
        learner_id = learners[counter.learner_key]
        same = kept.get((learner_id, counter.minute))
        if same is None:
            counter.learner_id = learner_id
            counter.save(update_fields=["learner"])
            kept[(learner_id, counter.minute)] = counter
        else:
            same.count += counter.count
            same.save(update_fields=["count"])
            counter.delete()


def learners_to_keys(apps, schema_editor) -> None:
    Learner = apps.get_model("lessons", "Learner")
    used = set()
    for name in KEYED:
        rows = apps.get_model("sandbox", name).objects.filter(learner__isnull=False)
        used |= set(rows.values_list("learner_id", flat=True).distinct())
    if not used:
        return
    keys = {}
    for learner_id, user_id in Learner.objects.filter(pk__in=used).values_list("pk", "user_id"):
        keys[learner_id] = (
            f"user:{user_id}" if user_id is not None else f"session:{secrets.token_hex(16)}"
        )
    for session_key, data in _sessions(apps):
        key = keys.get(data.get(LEARNER_SESSION_KEY), "")
        if key.startswith("session:"):
            token = key.removeprefix("session:")
            _save_session(apps, session_key, {**data, VISITOR_TOKEN: token})
    for name in KEYED:
        rows = apps.get_model("sandbox", name).objects
        for learner_id, key in keys.items():
            rows.filter(learner_id=learner_id).update(learner_key=key)
    schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _learner(null: bool, on_delete=django.db.models.deletion.CASCADE, related_name="+"):
    return models.ForeignKey(
        null=null,
        blank=null,
        on_delete=on_delete,
        related_name=related_name,
        to="lessons.learner",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("lessons", "0007_username_skeleton"),
        ("sandbox", "0002_plans_and_attempts"),
        ("sessions", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="sandbox",
            name="learner",
            field=_learner(True, django.db.models.deletion.SET_NULL, "sandboxes"),
        ),
        migrations.AddField("planrecord", "learner", _learner(True)),
        migrations.AddField("exerciseattempt", "learner", _learner(True)),
        migrations.AddField("runcounter", "learner", _learner(True)),
        migrations.RemoveConstraint(model_name="runcounter", name="run_counter_unique"),
        migrations.RemoveConstraint(
            model_name="sandbox", name="sandbox_one_active_per_learner_and_lesson"
        ),
        migrations.RemoveIndex(model_name="exerciseattempt", name="sandbox_exe_learner_f08dca_idx"),
        migrations.RemoveIndex(model_name="planrecord", name="sandbox_pla_learner_f2b707_idx"),
        # After the old constraints go (and, backwards, before they come back): the keys are
        # being rewritten in between.
        migrations.RunPython(keys_to_learners, learners_to_keys),
        # A default, so that going back can add the columns again to tables that have rows.
        migrations.AlterField(
            "exerciseattempt",
            "learner_key",
            models.CharField(db_index=True, default="", max_length=80),
        ),
        migrations.AlterField(
            "planrecord", "learner_key", models.CharField(default="", max_length=80)
        ),
        migrations.AlterField(
            "runcounter", "learner_key", models.CharField(default="", max_length=80)
        ),
        migrations.AlterField(
            "sandbox", "learner_key", models.CharField(blank=True, default="", max_length=80)
        ),
        migrations.RemoveField(model_name="exerciseattempt", name="learner_key"),
        migrations.RemoveField(model_name="planrecord", name="learner_key"),
        migrations.RemoveField(model_name="runcounter", name="learner_key"),
        migrations.RemoveField(model_name="sandbox", name="learner_key"),
        migrations.AlterField("planrecord", "learner", _learner(False)),
        migrations.AlterField("exerciseattempt", "learner", _learner(False)),
        migrations.AlterField("runcounter", "learner", _learner(False)),
        migrations.AddIndex(
            model_name="exerciseattempt",
            index=models.Index(
                fields=["learner", "exercise", "-created"], name="sandbox_exe_learner_349e25_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="planrecord",
            index=models.Index(
                fields=["learner", "lesson", "-created_at"], name="sandbox_pla_learner_18a548_idx"
            ),
        ),
        migrations.AddConstraint(
            model_name="runcounter",
            constraint=models.UniqueConstraint(
                fields=("learner", "minute"), name="run_counter_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="sandbox",
            constraint=models.UniqueConstraint(
                condition=models.Q(("state", "active")),
                fields=("learner", "lesson"),
                name="sandbox_one_active_per_learner_and_lesson",
            ),
        ),
    ]
