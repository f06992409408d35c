"""The part of ``manage.py content check`` that needs a sandbox (``content_check``, registered
with the content pipeline from ``SandboxConfig.ready()``).

For every ``sql_sandbox`` lesson, in a throwaway sandbox seeded from its fixture:
1. the fixture must seed;
2. every exercise's reference solution is graded as if a learner had written it, on the fixture
   and on each variant, with the exercise's plan checks (``grading.grade``, all in rolled-back
   transactions, so the seed stays fresh);
3. every runnable example runs, in order, as a learner pressing its button would run it (so an
   example may build on the one before, such as CREATE INDEX then EXPLAIN), and must not list
   another learner's sandbox: every sandbox is a schema in one database, so an unfiltered
   ``pg_stat_user_indexes`` or ``pg_class`` shows every learner's tables. A decoy sandbox made
   before the checks catches that.
Lessons are checked in parallel (``SANDBOX_CHECK_WORKERS`` threads); the sandboxes are dropped
at the end. Every failure is a ``ContentError`` with the lesson's path and the block's line.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

from lessons.content import ContentError, LessonSpec
from sandbox import grading, roles, runner, servers, statements

FIXTURES = "fixtures"
MODELS = "models"

# The one table of the decoy sandbox: an example whose result names it shows other learners'.
DECOY_TABLE = "decoy_of_another_learner"


def content_check(
    lessons: list[LessonSpec], content_dir: Path, display: dict[str, str]
) -> list[ContentError]:
    """What ``content check`` runs: ``check_lessons`` with SANDBOX_CHECK_WORKERS at a time."""
    from django.conf import settings

    return check_lessons(lessons, content_dir, display, workers=settings.SANDBOX_CHECK_WORKERS)


def check_lessons(
    lessons: Iterable[LessonSpec], content_dir: Path, display: dict[str, str], workers: int = 4
) -> list[ContentError]:
    """Errors of the sandbox lessons among ``lessons`` (``display`` maps a lesson's path to the
    path shown in messages)."""
    todo = [lesson for lesson in lessons if lesson.mode in ("sql_sandbox", "django_lab")]
    if not todo:
        return []
    try:
        servers.bootstrap(servers.server_for("content-check"))
    except servers.SandboxUnavailable as exc:
        return _each(todo, display, f"sandbox unavailable: {exc}")
    errors: list[ContentError] = []
    made: list[str] = []
    try:
        decoy = servers.new_sandbox_name()
        made.append(decoy)
        try:
            _provision(
                servers.server_for("content-check"),
                decoy,
                f"CREATE TABLE {DECOY_TABLE} (id int PRIMARY KEY);",
                [],
            )
        except (psycopg.Error, servers.SandboxUnavailable) as exc:
            return _each(todo, display, f"sandbox unavailable: the decoy sandbox: {exc}")
        with contextlib.ExitStack() as stack:
            if any(lesson.mode == "django_lab" for lesson in todo):
                stack.enter_context(_lab_worker(content_dir))
            with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
                checks = pool.map(
                    lambda lesson: _check_lesson(lesson, content_dir, display, made), todo
                )
                for found in checks:
                    errors += found
    finally:
        # Dropped together at the end: concurrent DROP OWNED BY trip over each other's
        # catalog updates ("tuple concurrently updated"). If the server went away, the
        # janitor's orphan sweep drops them later.
        with contextlib.suppress(psycopg.Error, servers.SandboxUnavailable):
            roles.drop(servers.server_for("content-check"), made)
    return errors


def _each(lessons: list[LessonSpec], display: dict[str, str], message: str) -> list[ContentError]:
    """The same error for every lesson: none of them was checked, so `sync` publishes none."""
    return [ContentError(display.get(lesson.path, lesson.path), 1, message) for lesson in lessons]


def _provision(server: int, name: str, seed: str, languages: list[str]) -> None:
    for attempt in range(10):
        try:
            roles.provision(server, name, seed, languages)
            return
        except psycopg.Error as exc:
            # Another thread's GRANT on the same database row; the transaction rolled back.
            if "concurrently" not in str(exc) or attempt == 9:
                raise
            time.sleep(0.1 * (attempt + 1))


def _check_lesson(
    lesson: LessonSpec, content_dir: Path, display: dict[str, str], made: list[str]
) -> list[ContentError]:
    path = display.get(lesson.path, lesson.path)
    text = (content_dir / lesson.path).read_text(encoding="utf-8")
    errors: list[ContentError] = []
    seed = _seed_of(lesson, content_dir, text, path, errors)
    if seed is None:
        return errors
    server = servers.server_for("content-check")
    name = servers.new_sandbox_name()
    made.append(name)
    if not _seeded(server, name, seed, lesson, text, path, errors):
        return errors
    errors += _plan_name_errors(path, lesson, _relations(server, name))
    if lesson.mode == "django_lab":
        return errors + _check_lab(lesson, text, server, name, path)
    for exercise in lesson.exercises:
        problem = _check_exercise(server, name, exercise, lesson.sandbox_languages)
        if problem:
            message = f"exercise {exercise.key!r}: {problem}"
            errors.append(ContentError(path, exercise.line, message))
    return errors + _check_examples(lesson, text, server, name, path)


def _seed_of(
    lesson: LessonSpec, content_dir: Path, text: str, path: str, errors: list[ContentError]
) -> str | None:
    """What the lesson's sandboxes are seeded from, or None when it cannot be had (a missing
    fixture, reported by check_tree already; a lab model module that does not load)."""
    seed = ""
    if lesson.fixture:
        fixture = content_dir / FIXTURES / lesson.fixture
        if not fixture.is_file():
            return None  # check_tree reports missing fixtures already
        seed = lesson.fixture_sql or fixture.read_text(encoding="utf-8")
    if lesson.mode == "django_lab":
        from sandbox.lab import seeding

        try:
            seed = (
                seeding.ddl_for(
                    lesson.lab_models, content_dir / MODELS, lesson.lab_models_source or None
                )
                + "\n"
                + seed
            )
        except seeding.ModelsBroken as exc:
            errors.append(ContentError(path, _line_of(text, r"^models:"), str(exc)))
            return None
    return seed


def _seeded(
    server: int,
    name: str,
    seed: str,
    lesson: LessonSpec,
    text: str,
    path: str,
    errors: list[ContentError],
) -> bool:
    """Seed the sandbox ``name``, timed and measured: a note with the time and the schema's
    size, a warning past SANDBOX_FIXTURE_SEED_WARN_MS, an error past
    SANDBOX_FIXTURE_SEED_LIMIT_MS (each learner's first run waits for the seeding)."""
    from django.conf import settings

    line = _line_of(text, r"^fixture:")
    limit_s = settings.SANDBOX_FIXTURE_SEED_LIMIT_MS / 1000
    what = f"fixture {lesson.fixture}" if lesson.fixture else "the lab's tables"
    started = time.perf_counter()
    try:
        _provision(server, name, seed, lesson.sandbox_languages)
    except roles.FixtureTooSlow as exc:
        message = f"{what} fails: {exc}; make it smaller or faster: every learner's first run "
        errors.append(ContentError(path, line, message + "waits for it"))
        return False
    except Exception as exc:  # the fixture's own SQL failed
        errors.append(ContentError(path, line, f"{what} fails: {exc}"))
        return False
    took = time.perf_counter() - started
    size = roles.disk_usage(server, [name]).get(name, 0)
    measured = f"{what} seeded in {took:.2f} s; its tables and indexes take {_size(size)}"
    if took > limit_s:
        message = (
            f"{measured}: over the seeding limit of {limit_s:g} s "
            "(SANDBOX_FIXTURE_SEED_LIMIT_MS); make it smaller or faster: every learner's first "
            "run waits for it"
        )
        errors.append(ContentError(path, line, message))
        return False
    warn_s = settings.SANDBOX_FIXTURE_SEED_WARN_MS / 1000
    if took > warn_s:
        message = (
            f"{measured}: over {warn_s:g} s (SANDBOX_FIXTURE_SEED_WARN_MS), and every learner's "
            f"first run in the lesson waits that long; the limit is {limit_s:g} s"
        )
        errors.append(ContentError(path, line, message, level="warning"))
    else:
        errors.append(ContentError(path, line, measured, level="note"))
    return True


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} kB"
    return f"{size / 1024 / 1024:.1f} MB"


def _check_examples(
    lesson: LessonSpec, text: str, server: int, name: str, path: str
) -> list[ContentError]:
    """Every runnable example, in order, as a learner pressing its button would run it."""
    errors: list[ContentError] = []
    languages = lesson.sandbox_languages
    for example in lesson.examples:
        line = _line_of(text, rf"^id:\s*{re.escape(example.key)}\s*$")
        try:
            parsed = statements.split(example.sql, languages=languages)
        except statements.StatementRefused as exc:
            message = f"example {example.key!r} is refused by the sandbox: {exc.message}"
            errors.append(ContentError(path, line, message))
            continue
        outcome = runner.run(server, name, parsed, languages=languages)
        if outcome.error is not None:
            failed = parsed[outcome.error.statement_index].text.strip().splitlines()[0]
            message = f"example {example.key!r} fails at {failed!r}: {outcome.error.message}"
            errors.append(ContentError(path, line, message))
        elif any(DECOY_TABLE in str(result.rows) for result in outcome.results):
            errors.append(
                ContentError(
                    path,
                    line,
                    f"example {example.key!r} lists other learners' sandboxes (it showed the "
                    f"table {DECOY_TABLE} of another schema): every sandbox is a schema of one "
                    "database, so filter catalog and statistics views on the learner's own, "
                    "for example WHERE schemaname = current_schema()",
                )
            )
    return errors


def _check_exercise(server: int, name: str, exercise, languages: list[str]) -> str | None:
    try:
        solution = grading.parse_answer(exercise.solution, languages, max_statements=1000)
    except grading.AnswerRefused as exc:
        return f"the solution cannot be run as an answer: {exc}"
    try:
        verdict = grading.grade(
            server,
            name,
            solution,
            solution,
            exercise.variants,
            exercise.order_matters,
            _revealed(exercise.plan_checks),
        )
    except grading.SolutionBroken as exc:
        return f"the solution fails: {exc}"
    except runner.ScratchFailed as exc:
        return f"a variant's setup fails: {exc}"
    if verdict.passed:
        return None
    return "the solution does not pass its own checks: " + " ".join(
        verdict.problems + [f"Plan: {problem}" for problem in verdict.plan_problems]
    )


def _relations(server: int, name: str) -> dict[str, tuple[str, str]]:
    """The seeded sandbox's relations: name → (pg_class.relkind, the parent it is a partition
    of, or "")."""
    with servers.provisioning(server).pool.connection() as conn:
        rows = conn.execute(
            "SELECT c.relname, c.relkind::text, coalesce(p.relname, '') FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN pg_inherits i ON i.inhrelid = c.oid "
            "LEFT JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'm', 'p', 'f', 'i', 'I')",
            (name,),
        ).fetchall()
    return {relname: (kind, parent) for relname, kind, parent in rows}


def _plan_name_errors(
    path: str, lesson: LessonSpec, relations: dict[str, tuple[str, str]]
) -> list[ContentError]:
    return [
        ContentError(path, exercise.line, f"exercise {exercise.key!r}: {problem}")
        for exercise in lesson.exercises
        for problem in _unknown_plan_names(exercise, relations)
    ]


def _unknown_plan_names(exercise, relations: dict[str, tuple[str, str]]) -> list[str]:
    """Plan checks naming a table or index the fixture does not have (a ``no_seq_scan`` on a
    misspelt table passed whatever the answer did). A name the solution itself creates (CREATE
    INDEX in the answer) is fine. A partitioned table or index never appears in a plan: its
    scans name the partitions (and their own indexes)."""
    problems = []
    for item in exercise.plan_checks:
        check, value = item["check"], str(item["value"])
        if check in ("max_rows_read", "no_spill"):
            continue
        kind, _ = relations.get(value, ("", ""))
        created = re.search(rf"\b{re.escape(value)}\b", exercise.solution, re.IGNORECASE)
        if not kind and created:
            continue
        wanted = "index" if check == "uses_index" else "table"
        if kind in ("p", "I"):
            parts = sorted(other for other, (_, parent) in relations.items() if parent == value)
            problems.append(
                f"plan check {check}: {value!r} is partitioned, and a plan names the partitions "
                f"it reads{' (' + ', '.join(parts[:4]) + ')' if parts else ''}, never "
                f"{value!r}: name a partition, or use max_rows_read"
            )
        elif not kind or (kind == "i") != (wanted == "index"):
            have = sorted(
                other
                for other, (other_kind, _) in relations.items()
                if (other_kind in ("i", "I")) == (wanted == "index")
            )
            problems.append(
                f"plan check {check}: the fixture has no {wanted} {value!r} "
                f"(its {wanted}{'es' if wanted == 'index' else 's'}: "
                f"{', '.join(have[:12]) or 'none'})"
            )
    return problems


def _revealed(plan_checks: list[dict]) -> list[dict]:
    """The plan checks with their detail shown even when hidden from learners: the instructor
    is told which check the solution fails."""
    return [{key: value for key, value in item.items() if key != "hidden"} for item in plan_checks]


def _line_of(text: str, pattern: str) -> int:
    """The 1-based line of the first match of ``pattern`` (multiline), or 1."""
    found = re.search(pattern, text, re.MULTILINE)
    return text.count("\n", 0, found.start()) + 1 if found else 1


# -- Django ORM lab lessons -----------------------------------------------------------------


@contextlib.contextmanager
def _lab_worker(content_dir: Path):
    """A lab worker for the checks: the configured one when it answers and serves the same
    model modules, else one started for the checks (with content_dir's model modules)."""
    import tempfile

    from django.test import override_settings

    from sandbox.lab import client, launch

    models = (content_dir / MODELS).resolve()
    from django.conf import settings

    serving = [path for path in client.sockets() if client.ping(path)]
    if serving and Path(settings.LAB_MODELS_DIR).resolve() == models:
        yield
        return
    folder = Path(tempfile.mkdtemp(prefix="querylab-lab-check-"))
    socket_path = folder / "worker.sock"
    process = launch.start_worker(socket_path, models)
    try:
        with override_settings(LAB_WORKER_SOCKET=str(socket_path), LAB_MODELS_DIR=models):
            yield
    finally:
        launch.stop_worker(process)


def _check_lab(lesson: LessonSpec, text: str, server: int, name: str, path: str) -> list:
    """A lab lesson's exercises (the solution graded as an answer, plan checks and
    max_queries included) and examples (run in order, like a learner pressing the buttons)."""
    return _check_lab_exercises(lesson, server, name, path) + _check_lab_examples(
        lesson, text, server, name, path
    )


def _check_lab_exercises(lesson: LessonSpec, server: int, name: str, path: str) -> list:
    from sandbox.lab.grading import LabExercise, grade_code

    errors: list[ContentError] = []
    for exercise in lesson.exercises:
        spec = LabExercise(
            solution=exercise.solution,
            variants=exercise.variants,
            order_matters=exercise.order_matters,
            plan_checks=_revealed(exercise.plan_checks),
            max_queries=exercise.max_queries,
        )
        try:
            verdict, _ = grade_code(server, name, lesson.lab_models, spec, exercise.solution)
        except grading.SolutionBroken as exc:
            message = f"exercise {exercise.key!r}: the solution fails: {exc}"
            errors.append(ContentError(path, exercise.line, message))
            continue
        except runner.SandboxUnavailable as exc:
            errors.append(ContentError(path, exercise.line, f"lab unavailable: {exc}"))
            continue
        if not verdict.passed:
            errors.append(
                ContentError(
                    path,
                    exercise.line,
                    f"exercise {exercise.key!r}: the solution does not pass its own checks: "
                    + " ".join(verdict.problems + [f"Plan: {p}" for p in verdict.plan_problems]),
                )
            )
    return errors


def _check_lab_examples(lesson: LessonSpec, text: str, server: int, name: str, path: str) -> list:
    from sandbox.lab import client

    errors: list[ContentError] = []
    for example in lesson.examples:
        line = _line_of(text, rf"^id:\s*{re.escape(example.key)}\s*$")
        db, options = runner.lab_connection(server, name)
        try:
            answer = client.call(
                {
                    "op": "run",
                    "db": db,
                    "options": options,
                    "models": lesson.lab_models,
                    "code": example.sql,
                    "limits": client.limits(),
                }
            )
        except runner.SandboxUnavailable as exc:
            errors.append(ContentError(path, line, f"lab unavailable: {exc}"))
            continue
        if answer.get("error"):
            error = answer["error"]
            where = f" at line {error['line']}" if error.get("line") else ""
            errors.append(
                ContentError(
                    path, line, f"example {example.key!r} fails{where}: {error['message']}"
                )
            )
    return errors
