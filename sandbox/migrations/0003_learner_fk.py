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
keeps it (of two sessions' sandboxes, the older does), the other row stays with no learner,
and the janitor drops it (schema and role) on its next sweep, as it does the sandboxes of
deleted learners. Run counters of one learner in the same minute are added up.

The rows are rewritten in a few statements whatever their number (a temporary table maps
each key to its Learner), and sessions are read once: one pass over ``django_session``. It
must run with the site's ``SECRET_KEY`` (or the old one in ``SECRET_KEY_FALLBACKS``): a
session it cannot decode counts as gone.

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
    """Which Learner each key becomes (see the module's docstring), in bulk: a few statements
    whatever the number of keys, plus one per session that gets a Learner id written in."""
    Learner = apps.get_model("lessons", "Learner")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    by_user = {
        int(key.removeprefix("user:")): key
        for key in keys
        if key.startswith("user:") and key.removeprefix("user:").isdigit()
    }
    users = set(User.objects.filter(pk__in=list(by_user)).values_list("pk", flat=True))
    have = dict(Learner.objects.filter(user_id__in=users).values_list("user_id", "pk"))
    made = Learner.objects.bulk_create([Learner(user_id=pk) for pk in sorted(users - set(have))])
    have.update((learner.user_id, learner.pk) for learner in made)
    found = {by_user[user_id]: learner_id for user_id, learner_id in have.items()}
    tokens = {key.removeprefix("session:"): key for key in keys if key.startswith("session:")}
    held: dict[str, tuple[str, dict]] = {}  # key: a session that holds its token
    if tokens:
        for session_key, data in _sessions(apps):
            key = tokens.get(data.get(VISITOR_TOKEN))
            if key is not None and key not in held:
                held[key] = (session_key, data)
    named = {data.get(LEARNER_SESSION_KEY) for _, data in held.values()}
    named = {value for value in named if isinstance(value, int)}
    existing = set(Learner.objects.filter(pk__in=named).values_list("pk", flat=True))
    rest = []
    for key, (_, data) in held.items():
        if data.get(LEARNER_SESSION_KEY) in existing:
            found[key] = data[LEARNER_SESSION_KEY]
        else:
            rest.append(key)
    rest += sorted(keys - set(found) - set(rest))
    made = Learner.objects.bulk_create([Learner() for _ in rest])
    for key, learner in zip(rest, made, strict=True):
        found[key] = learner.pk
        if key in held:  # its visitor keeps their sandboxes: the session now names the row
            session_key, data = held[key]
            _save_session(apps, session_key, {**data, LEARNER_SESSION_KEY: learner.pk})
    return found


def keys_to_learners(apps, schema_editor) -> None:
    keys = _keys(apps)
    if not keys:
        return
    learners = _learners_for_keys(apps, keys)
    table = {name: apps.get_model("sandbox", name)._meta.db_table for name in KEYED}
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE sandbox_key_learner (key varchar(80) PRIMARY KEY, "
            "learner_id bigint NOT NULL) ON COMMIT DROP"
        )
        cursor.executemany("INSERT INTO sandbox_key_learner VALUES (%s, %s)", learners.items())
        for name in ("PlanRecord", "ExerciseAttempt"):
            cursor.execute(
                f"UPDATE {table[name]} t SET learner_id = map.learner_id "
                "FROM sandbox_key_learner map WHERE t.learner_key = map.key"
            )
        # Of one learner's active sandboxes for one lesson, an account's ("user:") wins, then
        # the oldest; the others keep no learner, for the janitor.
        cursor.execute(
            f"UPDATE {table['Sandbox']} s SET learner_id = map.learner_id "
            "FROM sandbox_key_learner map WHERE s.learner_key = map.key "
            f"AND NOT EXISTS (SELECT 1 FROM {table['Sandbox']} o "
            "JOIN sandbox_key_learner omap ON omap.key = o.learner_key "
            "WHERE s.state = 'active' AND o.state = 'active' AND o.lesson_id = s.lesson_id "
            "AND omap.learner_id = map.learner_id "
            "AND (o.learner_key NOT LIKE 'user:%%', o.id) "
            "< (s.learner_key NOT LIKE 'user:%%', s.id))"
        )
        cursor.execute("DROP TABLE sandbox_key_learner")
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
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE sandbox_learner_key (learner_id bigint PRIMARY KEY, "
            "key varchar(80) NOT NULL) ON COMMIT DROP"
        )
        cursor.executemany("INSERT INTO sandbox_learner_key VALUES (%s, %s)", keys.items())
        for name in KEYED:
            cursor.execute(
                f"UPDATE {apps.get_model('sandbox', name)._meta.db_table} t "
                "SET learner_key = map.key FROM sandbox_learner_key map "
                "WHERE t.learner_id = map.learner_id"
            )
        cursor.execute("DROP TABLE sandbox_learner_key")
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
