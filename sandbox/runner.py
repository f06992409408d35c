"""The only module that talks to the sandbox database (see sandbox/README.md).

Layout on a sandbox server (``SANDBOX_DATABASE_URL``, a superuser URL, used only to bootstrap):

- a provisioning role ``<prefix>_<tag>_provisioner``: LOGIN, CREATEROLE, not a superuser. It
  creates, seeds and drops sandboxes. On PostgreSQL 16+ a CREATEROLE role only gets rights over
  the roles it creates through ``createrole_self_grant = 'set, inherit'`` (set on the role); on
  PostgreSQL 15 it may administer every non-superuser role, but needs an explicit membership
  (``GRANT <learner> TO provisioner``) to drop what a learner owns, which this module adds.
- one LOGIN role and one schema per sandbox, both named ``<prefix>_<tag>_s<20 hex>``: opaque,
  because the catalogs are readable by everyone. The schema belongs to the provisioning role;
  the learner role has USAGE and CREATE on it and owns the seeded tables.
- what PUBLIC gets by default is revoked (see ``_BOOTSTRAP``).

``<tag>`` is derived from the app database, so several installations (or a test run) can share
one server and the janitor only ever touches what its own installation made.

Learner SQL runs over a connection logged in *as* the sandbox's role, with the limits passed as
startup options (they outrank ``ALTER ROLE … SET``), one statement at a time over the extended
protocol, streamed, capped, and watched by a wall-clock watchdog that cancels from outside and
then terminates the backend.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import heapq
import hmac
import itertools
import json
import logging
import math
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection as app_connection
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.generators import fetch
from psycopg.pq import ExecStatus, TransactionStatus
from psycopg.types.string import TextLoader
from psycopg_pool import ConnectionPool

from config.infra import priority
from sandbox.statements import Statement

log = logging.getLogger(__name__)

LANGUAGES = ("plpgsql", "sql")
_NAME = re.compile(r"^[a-z0-9_]{1,63}$")


class SandboxUnavailable(RuntimeError):
    """The sandbox server cannot be reached; the rest of the site keeps working."""


class SandboxBusy(RuntimeError):
    """The sandbox cannot take another connection right now; try again shortly."""


# -- settings and names ----------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    statement_timeout_ms: int
    run_timeout_ms: int
    cancel_grace_ms: int
    lock_timeout_ms: int
    idle_in_transaction_timeout_ms: int
    temp_file_limit_kb: int
    work_mem_kb: int
    max_rows: int
    max_bytes: int
    disk_limit_bytes: int

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            statement_timeout_ms=settings.SANDBOX_STATEMENT_TIMEOUT_MS,
            run_timeout_ms=settings.SANDBOX_RUN_TIMEOUT_MS,
            cancel_grace_ms=settings.SANDBOX_CANCEL_GRACE_MS,
            lock_timeout_ms=settings.SANDBOX_LOCK_TIMEOUT_MS,
            idle_in_transaction_timeout_ms=settings.SANDBOX_IDLE_IN_TRANSACTION_TIMEOUT_MS,
            temp_file_limit_kb=settings.SANDBOX_TEMP_FILE_LIMIT_KB,
            work_mem_kb=settings.SANDBOX_WORK_MEM_KB,
            max_rows=settings.SANDBOX_MAX_ROWS,
            max_bytes=settings.SANDBOX_MAX_BYTES,
            disk_limit_bytes=settings.SANDBOX_DISK_LIMIT_MB * 1024 * 1024,
        )


def sandbox_urls() -> list[str]:
    """The sandbox servers, from SANDBOX_DATABASE_URL (a comma-separated list is allowed)."""
    return [url.strip() for url in settings.SANDBOX_DATABASE_URL.split(",") if url.strip()]


def server_for(learner_key: str) -> int:
    """Which sandbox server a learner's new sandbox goes to. The one place placement happens.

    Rendezvous (highest random weight) hashing of the learner key against each server's
    address: a learner's sandboxes all land on the same server, and adding a server moves only
    the learners it now ranks first. When that server does not answer, the next in the
    learner's ranking takes the new sandbox (failover); sandboxes already made stay where
    their record says (``Sandbox.server``) and answer "unavailable" while it is down.
    Raises SandboxUnavailable when no server answers.
    """
    urls = sandbox_urls()
    ranked = sorted(
        range(len(urls)),
        key=lambda index: hashlib.sha256(
            f"{_server_identity(urls[index])}|{learner_key}".encode()
        ).digest(),
        reverse=True,
    )
    for index in ranked:
        if server_answers(index):
            return index
    raise SandboxUnavailable("no sandbox server answers")


def _server_identity(url: str) -> str:
    # Host, port and database: a changed password must not move every learner.
    params = conninfo_to_dict(url)
    return f"{params.get('host')}:{params.get('port')}/{params.get('dbname')}"


# The one sandbox status of this process: per server URL, when it was last asked and None
# if it answered, else why not. Placement, /healthz, /metrics and pages all read it.
_answers: dict[str, tuple[float, str | None]] = {}
_ANSWER_CACHE_SECONDS = {True: 10.0, False: 3.0}  # keyed by "it answered"


def server_problem(server: int, fresh: bool = False) -> str | None:
    """None when a sandbox server accepts connections, else why not: asked at most every few
    seconds per process (a down server is asked again sooner, so new sandboxes come back to
    it), or now when ``fresh``."""
    url = _url(server)
    now = time.monotonic()
    cached = _answers.get(url)
    if (
        not fresh
        and cached is not None
        and now - cached[0] < _ANSWER_CACHE_SECONDS[cached[1] is None]
    ):
        return cached[1]
    try:
        with psycopg.connect(url, connect_timeout=1, autocommit=True) as conn:
            conn.execute("SELECT 1")
        problem = None
    except psycopg.Error as exc:
        problem = _first_line(exc)
    _answers[url] = (now, problem)
    return problem


def server_answers(server: int, fresh: bool = False) -> bool:
    """Whether a sandbox server accepts connections (``server_problem``'s cached answer)."""
    return server_problem(server, fresh) is None


def note_unavailable(server: int) -> None:
    """Remember that a server just failed, so placement skips it without waiting to ask."""
    with contextlib.suppress(SandboxUnavailable):
        _answers[_url(server)] = (time.monotonic(), "a run found it unavailable")


def status() -> str | None:
    """None when every sandbox server answers, else why the first that does not: the
    sandbox's health check (``/healthz``), from the cached answers, asking a server only when
    its answer is out of date."""
    for server in range(len(sandbox_urls())):
        problem = server_problem(server)
        if problem is not None:
            return problem if server == 0 else f"server {server}: {problem}"
    return None


# How long pages go on showing a server as down after it was last found down (as long as
# pages kept the answer of the probe they used to make). Longer than the 3 s after which it
# is asked again: pages do not ask, so they show what placement, runs and /healthz found.
_DOWN_SHOWN_SECONDS = 10.0


def known_status() -> str | None:
    """``status()`` as this process last found it, without asking any server: for pages,
    which never wait on the sandbox server. A server found down in the last 10 s is shown
    down; no answer yet, or an older one, counts as fine (a run then finds out, answers
    "Sandbox unavailable", and pages show it from then on)."""
    now = time.monotonic()
    for url in sandbox_urls():
        cached = _answers.get(url)
        if cached is not None and cached[1] is not None and now - cached[0] < _DOWN_SHOWN_SECONDS:
            return cached[1]
    return None


def server_connections(server: int) -> dict[str, int]:
    """Connections this installation has open on a server, by application name (learner
    runs, provisioning, janitor), for /metrics."""
    pattern = name_prefix().replace("_", r"\_") + "%"
    try:
        with _server(server).pool.connection() as conn:
            rows = conn.execute(
                "SELECT application_name, count(*) FROM pg_stat_activity "
                "WHERE usename LIKE %s GROUP BY 1",
                [pattern],
            ).fetchall()
    except psycopg.OperationalError as exc:
        raise SandboxUnavailable(_first_line(exc)) from exc
    return {application or "": int(n) for application, n in rows}


def end_overdue_runs(server: int, limits: Limits | None = None) -> int:
    """Terminate learner backends still running a statement well past the run time limit.

    A run's own watchdog ends it at the deadline; a backend that outlives the deadline lost
    its watchdog, because the worker process died (a crash, SIGKILL, an out-of-memory kill).
    PostgreSQL notices a vanished client only when it next talks to it, so a long statement
    would otherwise run on. Called by the janitor; returns how many were terminated."""
    limits = limits or Limits.from_settings()
    overdue_ms = limits.run_timeout_ms + 2 * limits.cancel_grace_ms
    pattern = name_prefix().replace("_", r"\_") + "s%"
    try:
        with _server(server).pool.connection() as conn:
            rows = conn.execute(
                "SELECT pid, usename FROM pg_stat_activity "
                "WHERE usename LIKE %s AND state <> 'idle' "
                "AND query_start < now() - make_interval(secs => %s)",
                [pattern, overdue_ms / 1000],
            ).fetchall()
            pids = [pid for pid, name in rows if is_sandbox_name(name)]
            if not pids:
                return 0
            ended = conn.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                "FROM unnest(%s::int[]) AS pid",
                [pids],
            ).fetchone()
    except psycopg.OperationalError as exc:
        raise SandboxUnavailable(_first_line(exc)) from exc
    return int(ended[0]) if ended else 0


def name_prefix() -> str:
    """``<prefix>_<tag>_``: every role and schema this installation makes starts with it."""
    database = app_connection.settings_dict
    where = f"{database.get('HOST')}:{database.get('PORT')}/{database.get('NAME')}"
    tag = hashlib.sha256(where.encode()).hexdigest()[:6]
    return f"{settings.SANDBOX_NAME_PREFIX}_{tag}_"


def new_sandbox_name() -> str:
    return f"{name_prefix()}s{secrets.token_hex(10)}"


def is_sandbox_name(name: str) -> bool:
    return bool(re.fullmatch(re.escape(name_prefix()) + r"s[0-9a-f]{20}", name))


def _provisioner_name() -> str:
    return f"{name_prefix()}provisioner"


def _group_name(purpose: str) -> str:
    """A NOLOGIN role holding one privilege that every (or some) sandbox needs: CONNECT on the
    database, or USAGE on a language. Sandboxes get it by membership, because granting the
    privilege to each new role would update the one shared pg_database or pg_language row, and
    two learners provisioned at the same moment fail with "tuple concurrently updated"."""
    return f"{name_prefix()}g{purpose}"


def _password(role: str) -> str:
    """Derived, not stored: the app can always log in as the roles it made."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"querylab-sandbox:{role}".encode(), hashlib.sha256).hexdigest()


def _checked(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not a sandbox name: {name!r}")
    return name


def _url(server: int) -> str:
    urls = sandbox_urls()
    if not urls:
        raise SandboxUnavailable("SANDBOX_DATABASE_URL names no server")
    return urls[server if server < len(urls) else 0]


def _as_role(server: int, role: str, **options: Any) -> str:
    return make_conninfo(
        _url(server), user=role, password=_password(role), connect_timeout=3, **options
    )


def _without_jit(url: str) -> str:
    """The URL's own ``options`` with JIT off, for seeding and janitor connections: their
    statements, like learners', are not worth an uninterruptible compile (see ``_options``)."""
    return " ".join(filter(None, [conninfo_to_dict(url).get("options", ""), "-c jit=off"]))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- bootstrap: the provisioning role and what PUBLIC may not do -----------------------------

# Functions PUBLIC may execute by default that a sandbox must not: they change settings without
# SET, take cluster-wide locks, create large objects that outlive DROP SCHEMA, signal other
# sessions, show other sessions, or run SQL given as text (defeating any statement checks).
_REVOKED_FUNCTIONS = """
SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p
 WHERE p.pronamespace = 'pg_catalog'::regnamespace
   AND (p.proname IN ('set_config', 'pg_notify', 'query_to_xml', 'query_to_xmlschema',
                      'query_to_xml_and_xmlschema', 'cursor_to_xml', 'cursor_to_xmlschema',
                      'database_to_xml', 'database_to_xmlschema', 'database_to_xml_and_xmlschema',
                      'ts_stat', 'ts_rewrite', 'pg_stat_get_activity', 'pg_lock_status',
                      'pg_blocking_pids', 'pg_safe_snapshot_blocking_pids', 'loread', 'lowrite',
                      'pg_stat_get_backend_activity', 'pg_stat_get_backend_userid',
                      'pg_stat_get_backend_client_addr', 'pg_stat_get_backend_pid')
        OR p.proname LIKE 'pg\\_advisory\\_%' OR p.proname LIKE 'pg\\_try\\_advisory\\_%'
        OR p.proname LIKE 'lo\\_%')
"""


@dataclass
class _Server:
    version: int
    pool: ConnectionPool


_servers: dict[tuple[str, str], _Server] = {}
_servers_lock = threading.Lock()


def _server(server: int) -> _Server:
    """The provisioning pool of a server, bootstrapping the server on first use in a process."""
    key = (_url(server), name_prefix())
    found = _servers.get(key)
    if found is not None:
        return found
    with _servers_lock:
        found = _servers.get(key)
        if found is None:
            version = bootstrap(server)
            provisioner = _provisioner_name()
            pool = ConnectionPool(
                _as_role(
                    server,
                    provisioner,
                    application_name="querylab-provisioner",
                    options=_without_jit(_url(server)),
                ),
                min_size=0,
                max_size=settings.SANDBOX_PROVISIONER_POOL_SIZE,
                kwargs={"autocommit": True},
                # After the server restarts, pooled connections are dead: test each as it is
                # handed out, so the first sandbox made after a restart does not fail.
                check=ConnectionPool.check_connection,
                configure=functools.partial(_nice_backend, server),
                open=True,
                timeout=10,
                name=f"sandbox-provisioner-{server}",
            )
            found = _servers[key] = _Server(version=version, pool=pool)
    return found


def bootstrap(server: int = 0) -> int:
    """Create or repair the provisioning role and revoke PUBLIC's defaults; return the server
    version number. Idempotent, serialised across processes by an advisory lock, and run with
    the superuser URL, which nothing else uses."""
    provisioner = _checked(_provisioner_name())
    role = sql.Identifier(provisioner)
    try:
        admin = psycopg.connect(_url(server), connect_timeout=3, autocommit=True)
    except psycopg.OperationalError as exc:
        raise SandboxUnavailable(_first_line(exc)) from exc
    with admin:
        version = admin.info.server_version
        database = sql.Identifier(admin.info.dbname)
        with admin.transaction():
            admin.execute("SELECT pg_advisory_xact_lock(hashtext('querylab-sandbox-bootstrap'))")
            exists = admin.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", [provisioner]
            ).fetchone()
            if not exists:
                admin.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE").format(role))
            admin.execute(
                sql.SQL("ALTER ROLE {} LOGIN CREATEROLE NOSUPERUSER PASSWORD {}").format(
                    role, sql.Literal(_password(provisioner))
                )
            )
            if version >= 160000:
                # Without it a CREATEROLE role cannot use or drop what its roles own (16+).
                admin.execute(
                    sql.SQL("ALTER ROLE {} SET createrole_self_grant = 'set, inherit'").format(role)
                )
            admin.execute(sql.SQL("GRANT pg_signal_backend TO {}").format(role))
            # Every database of the cluster: no CONNECT, no TEMPORARY for PUBLIC. Only where
            # PUBLIC still has something: a GRANT or REVOKE rewrites the database's shared row
            # even when nothing changes, and a concurrent GRANT on the same row (another
            # process bootstrapping, on a cluster shared with other installations) then fails
            # with "tuple concurrently updated".
            for (name,) in admin.execute(
                "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate"
                " AND (datacl IS NULL"
                "      OR EXISTS (SELECT 1 FROM aclexplode(datacl) WHERE grantee = 0))"
            ).fetchall():
                admin.execute(
                    sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name))
                )
            if not admin.execute(
                "SELECT has_database_privilege(%s, current_database(), 'CONNECT WITH GRANT OPTION')"
                " AND has_database_privilege(%s, current_database(), 'CREATE WITH GRANT OPTION')",
                [provisioner, provisioner],
            ).fetchone()[0]:
                admin.execute(
                    sql.SQL("GRANT CONNECT, CREATE ON DATABASE {} TO {} WITH GRANT OPTION").format(
                        database, role
                    )
                )
            # temp_file_limit is superuser-only, so learners cannot raise it; this lets the
            # provisioner set it on each sandbox role (ALTER ROLE … SET; PostgreSQL 15+).
            admin.execute(sql.SQL("GRANT SET ON PARAMETER temp_file_limit TO {}").format(role))
            admin.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
            admin.execute("REVOKE UPDATE ON pg_catalog.pg_settings FROM PUBLIC")
            admin.execute(
                "REVOKE SELECT ON pg_catalog.pg_stat_activity, pg_catalog.pg_locks FROM PUBLIC"
            )
            for (function,) in admin.execute(_REVOKED_FUNCTIONS).fetchall():
                admin.execute(
                    sql.SQL("REVOKE EXECUTE ON FUNCTION {} FROM PUBLIC").format(sql.SQL(function))
                )
            # The provisioner finds a sandbox's sessions to end them before dropping it.
            admin.execute(sql.SQL("GRANT SELECT ON pg_catalog.pg_stat_activity TO {}").format(role))
            admin.execute(
                sql.SQL(
                    "GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_get_activity(integer) TO {}"
                ).format(role)
            )
            installed = {
                name
                for (name,) in admin.execute(
                    "SELECT lanname FROM pg_language WHERE lanname = ANY(%s)", [list(LANGUAGES)]
                ).fetchall()
            }
            for language in sorted(installed):
                language_id = sql.Identifier(language)
                admin.execute(
                    sql.SQL("REVOKE USAGE ON LANGUAGE {} FROM PUBLIC").format(language_id)
                )
                admin.execute(
                    sql.SQL("GRANT USAGE ON LANGUAGE {} TO {} WITH GRANT OPTION").format(
                        language_id, role
                    )
                )
            groups = {"connect": ("CONNECT ON DATABASE", database)}
            for language in sorted(installed):
                groups[f"lang_{language}"] = ("USAGE ON LANGUAGE", sql.Identifier(language))
            for purpose, (privilege, target) in groups.items():
                group = _checked(_group_name(purpose))
                if not admin.execute(
                    "SELECT 1 FROM pg_roles WHERE rolname = %s", [group]
                ).fetchone():
                    admin.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(group)))
                check, thing = privilege.split(" ON ")
                has = "has_database_privilege" if thing == "DATABASE" else "has_language_privilege"
                name_of_target = admin.info.dbname if thing == "DATABASE" else purpose[5:]
                if not admin.execute(
                    sql.SQL("SELECT {}(%s, %s, %s)").format(sql.Identifier(has)),
                    [group, name_of_target, check],
                ).fetchone()[0]:
                    admin.execute(
                        sql.SQL("GRANT {} {} TO {}").format(
                            sql.SQL(privilege), target, sql.Identifier(group)
                        )
                    )
                admin.execute(
                    sql.SQL("GRANT {} TO {} WITH ADMIN OPTION").format(sql.Identifier(group), role)
                )
    return version


# -- provisioning ----------------------------------------------------------------------------


def provision(server: int, name: str, fixture_sql: str, languages: Iterable[str] = ()) -> None:
    """Create the sandbox ``name`` (role and schema) and seed it. The fixture is trusted
    content (reviewed in git) and runs through the provisioning connection, under ``SET ROLE``
    so that the learner owns what it creates.

    Two transactions. The first makes the role and its group memberships and commits at
    once: on PostgreSQL 16+ a GRANT of a group locks that group until commit, so group changes
    inside the long seeding transaction would make every concurrent provisioning wait for the
    one before it. The second makes and seeds the schema; its own group changes (the
    languages) come last, just before its commit. A crash between the two leaves a role that
    its Sandbox row (still "provisioning") or, without one, the janitor's orphan sweep drops."""
    name = _checked(name)
    target = _server(server)
    role = sql.Identifier(name)
    needs_languages = bool(fixture_sql.strip()) and bool(_MAKES_CODE.search(fixture_sql))
    seeding_groups = [f"lang_{language}" for language in LANGUAGES] if needs_languages else []
    try:
        with target.pool.connection() as conn:
            with conn.transaction():
                _cheap_scram(conn, target.version)
                conn.execute(
                    sql.SQL(
                        # INHERIT: the role's only memberships are this installation's groups
                        # (CONNECT, and a language where the lesson grants one).
                        "CREATE ROLE {} LOGIN INHERIT NOCREATEDB NOCREATEROLE "
                        "CONNECTION LIMIT {} PASSWORD {}"
                    ).format(
                        role,
                        sql.Literal(settings.SANDBOX_ROLE_CONNECTION_LIMIT),
                        sql.Literal(_password(name)),
                    )
                )
                conn.execute(
                    sql.SQL("ALTER ROLE {} SET temp_file_limit = {}").format(
                        role, sql.Literal(f"{settings.SANDBOX_TEMP_FILE_LIMIT_KB}kB")
                    )
                )
                if target.version < 160000:
                    # PostgreSQL 15: CREATEROLE may administer any role, but DROP OWNED and SET
                    # ROLE need membership, which 16+ grants through createrole_self_grant.
                    conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(role))
                _join_groups(conn, name, ["connect", *seeding_groups])
            with conn.transaction():
                _make_schema(conn, name, fixture_sql, languages, seeding_groups)
    except psycopg.OperationalError as exc:
        raise SandboxUnavailable(_first_line(exc)) from exc


def _make_schema(
    conn: psycopg.Connection,
    name: str,
    fixture_sql: str,
    languages: Iterable[str],
    seeding_groups: list[str],
) -> None:
    """The schema of a role that exists and is in its groups; ``seeding_groups`` are the
    language groups it was given only for seeding (fixtures that make functions), taken back
    here. Group changes come last (see ``provision``)."""
    role = sql.Identifier(name)
    conn.execute(sql.SQL("CREATE SCHEMA {} AUTHORIZATION CURRENT_USER").format(role))
    conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(role, role))
    if fixture_sql.strip():
        conn.execute("SET LOCAL statement_timeout = '120s'")
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(role))
        conn.execute(sql.SQL("SET LOCAL search_path = {}").format(role))
        seed, analyze = without_bare_analyze(fixture_sql)
        # Several statements in one string: the simple protocol, deliberately (trusted text).
        conn.execute(seed.encode())
        if analyze:
            _analyze_schema(conn, name)
        conn.execute("RESET ROLE")
        conn.execute("SET LOCAL search_path = pg_catalog")
    if seeding_groups:
        # The learner keeps only the languages their lesson grants (below).
        conn.execute(
            sql.SQL("REVOKE {} FROM {}").format(
                sql.SQL(", ").join(sql.Identifier(_group_name(p)) for p in seeding_groups), role
            )
        )
    grant_languages_on(conn, name, languages)


_MAKES_CODE = re.compile(r"(?i)\bLANGUAGE\b|\bDO\b|\bBEGIN\s+ATOMIC\b")
_BARE_ANALYZE = re.compile(r"(?is)(?:^|;)(?:\s|--[^\n]*)*(ANALYZE\s*;?)(?:\s|--[^\n]*)*\Z")


def without_bare_analyze(fixture_sql: str) -> tuple[str, bool]:
    """The fixture without a trailing bare ``ANALYZE;`` and whether it had one.

    Run as the sandbox's role, a bare ANALYZE visits every table of the database and warns about
    each one it does not own (every other sandbox's), slower as sandboxes accumulate; the seeding
    path analyzes the sandbox's own tables instead (``_analyze_schema``)."""
    found = _BARE_ANALYZE.search(fixture_sql)
    if not found:
        return fixture_sql, False
    return fixture_sql[: found.start(1)], True


def _analyze_schema(conn: psycopg.Connection, schema: str) -> None:
    tables = conn.execute(
        "SELECT c.relname FROM pg_catalog.pg_class c "
        "WHERE c.relnamespace OPERATOR(pg_catalog.=) %s::pg_catalog.regnamespace "
        "AND c.relkind IN ('r', 'm', 'p') ORDER BY 1",
        [schema],
    ).fetchall()
    if tables:
        listed = sql.SQL(", ").join(sql.Identifier(schema, table) for (table,) in tables)
        conn.execute(sql.SQL("ANALYZE {}").format(listed))


def _join_groups(conn: psycopg.Connection, name: str, purposes: Iterable[str]) -> None:
    """Make sandbox ``name`` a member of this installation's groups (see _group_name)."""
    groups = sql.SQL(", ").join(sql.Identifier(_group_name(p)) for p in purposes)
    # 16+: the member inherits the group's privilege but cannot SET ROLE to it.
    options = sql.SQL(" WITH INHERIT TRUE, SET FALSE" if conn.info.server_version >= 160000 else "")
    conn.execute(sql.SQL("GRANT {} TO {}{}").format(groups, sql.Identifier(name), options))


def grant_languages_on(conn: psycopg.Connection, name: str, languages: Iterable[str]) -> None:
    wanted = [language for language in LANGUAGES if language in set(languages)]
    if wanted:
        _join_groups(conn, name, [f"lang_{language}" for language in wanted])


def grant_languages(server: int, name: str, languages: Iterable[str]) -> None:
    """Let a (pooled, pre-seeded) sandbox use the procedural languages its lesson needs."""
    if not set(languages) & set(LANGUAGES):
        return
    try:
        with _server(server).pool.connection() as conn:
            grant_languages_on(conn, _checked(name), languages)
    except psycopg.OperationalError as exc:
        raise SandboxUnavailable(_first_line(exc)) from exc


def drop(server: int, names: list[str]) -> int:
    """Drop sandboxes (ending their sessions first). Missing ones are skipped. Returns how many
    roles were dropped. Only names of this installation are accepted."""
    names = [_checked(name) for name in names if is_sandbox_name(name)]
    if not names:
        return 0
    dropped = 0
    try:
        with _server(server).pool.connection() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ANY(%s)",
                [names],
            )
            with conn.transaction():
                schemas = [
                    row[0]
                    for row in conn.execute(
                        "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", [names]
                    ).fetchall()
                ]
                roles = [
                    row[0]
                    for row in conn.execute(
                        "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", [names]
                    ).fetchall()
                ]
                if schemas:
                    conn.execute(
                        sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                            sql.SQL(", ").join(map(sql.Identifier, schemas))
                        )
                    )
                if roles:
                    listed = sql.SQL(", ").join(map(sql.Identifier, roles))
                    # Removes whatever else they own (large objects too) and their grants.
                    conn.execute(sql.SQL("DROP OWNED BY {}").format(listed))
            if roles:
                # DROP ROLE itself goes through the superuser connection. By the provisioner it
                # costs O(live sandboxes) per role on PostgreSQL 16+: each membership change
                # makes the server re-derive the provisioner's memberships (one per sandbox)
                # for the next ADMIN check. Measured: 74 ms per role with 8,700 sandboxes,
                # against 0.07 ms as superuser. The names were checked above, and the roles
                # own nothing any more.
                with _superuser(server) as admin:
                    admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(listed))
                dropped = len(roles)
    except psycopg.OperationalError as exc:
        raise SandboxUnavailable(_first_line(exc)) from exc
    _forget_connections(names)
    return dropped


@contextlib.contextmanager
def _superuser(server: int):
    with _superuser_pools_lock:
        pool = _superuser_pools.get(_url(server))
        if pool is None:
            pool = _superuser_pools[_url(server)] = ConnectionPool(
                make_conninfo(
                    _url(server),
                    connect_timeout=3,
                    application_name="querylab-janitor",
                    options=_without_jit(_url(server)),
                ),
                min_size=0,
                max_size=2,
                kwargs={"autocommit": True},
                check=ConnectionPool.check_connection,
                configure=functools.partial(_nice_backend, server),
                open=True,
                timeout=10,
                name=f"sandbox-superuser-{server}",
            )
    with pool.connection() as conn:
        yield conn


_superuser_pools: dict[str, ConnectionPool] = {}
_superuser_pools_lock = threading.Lock()


def remove_installation(server: int = 0) -> None:
    """Drop every sandbox of this installation and its provisioning role (tests, uninstall)."""
    drop(server, sorted(existing_names(server)))
    close_idle_connections()
    with _servers_lock:
        found = _servers.pop((_url(server), name_prefix()), None)
    if found is not None:
        found.pool.close()
    groups = [_group_name(p) for p in ["connect", *(f"lang_{x}" for x in LANGUAGES)]]
    with psycopg.connect(_url(server), connect_timeout=3, autocommit=True) as admin:
        for name in [_provisioner_name(), *groups]:
            role = sql.Identifier(_checked(name))
            if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone():
                admin.execute(sql.SQL("DROP OWNED BY {}").format(role))
                admin.execute(sql.SQL("DROP ROLE {}").format(role))


def existing_names(server: int) -> set[str]:
    """Sandbox roles and schemas of this installation present on a server."""
    pattern = name_prefix().replace("_", r"\_") + "s%"
    with _server(server).pool.connection() as conn:
        rows = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE %(p)s "
            "UNION SELECT nspname FROM pg_namespace WHERE nspname LIKE %(p)s",
            {"p": pattern},
        ).fetchall()
    return {row[0] for row in rows if is_sandbox_name(row[0])}


def disk_usage(server: int, names: list[str]) -> dict[str, int]:
    """Bytes used by each sandbox's tables, indexes and TOAST."""
    with _server(server).pool.connection() as conn:
        rows = conn.execute(_DISK_USAGE_BY_SCHEMA, [names]).fetchall()
    return {name: int(size) for name, size in rows}


_DISK_USAGE_BY_SCHEMA = """
SELECT n.nspname, pg_catalog.sum(pg_catalog.pg_total_relation_size(c.oid))
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname OPERATOR(pg_catalog.=) ANY(%s) AND c.relkind IN ('r', 'm')
 GROUP BY n.nspname
"""
_DISK_USAGE = """
SELECT COALESCE(pg_catalog.sum(pg_catalog.pg_total_relation_size(c.oid)), 0)::pg_catalog.int8
  FROM pg_catalog.pg_class c
 WHERE c.relnamespace OPERATOR(pg_catalog.=) %s::pg_catalog.regnamespace
   AND c.relkind IN ('r', 'm')
"""


# -- learner connections ----------------------------------------------------------------------


def _text_loaders(conn: psycopg.Connection) -> None:
    """Everything but booleans and numbers arrives as PostgreSQL's own text form (JSON-safe)."""
    keep = {"bool", "int2", "int4", "int8", "oid", "float4", "float8"}
    for info in psycopg.postgres.types:
        if info.name not in keep:
            conn.adapters.register_loader(info.oid, TextLoader)
        if info.array_oid:
            conn.adapters.register_loader(info.array_oid, TextLoader)


@dataclass
class _Learner:
    conn: psycopg.Connection
    server: int
    name: str
    notices: list[str] = field(default_factory=list)
    last_used: float = 0.0


_idle: dict[str, list[_Learner]] = {}
_idle_lock = threading.Lock()


def _options(server: int, limits: Limits, name: str) -> str:
    options = {
        "statement_timeout": limits.statement_timeout_ms,
        "lock_timeout": limits.lock_timeout_ms,
        "idle_in_transaction_session_timeout": limits.idle_in_transaction_timeout_ms,
        "work_mem": f"{limits.work_mem_kb}kB",
        "max_parallel_workers_per_gather": 0,
        # JIT compilation cannot be interrupted: statement_timeout and cancels wait until it
        # ends. On a server built with JIT (distribution and Docker packages are), a plan that
        # merely looks expensive paid 90 ms of compiling before its first row, 0.3-0.7 s with
        # libLLVM paged out on a busy machine, during which no limit could stop it. Sandbox
        # queries are small; the plans learners read are clearer without a JIT section too.
        "jit": "off",
        "search_path": name,
    }
    if _server(server).version >= 170000:
        # A backstop behind the watchdog (it ends the session, so it comes second).
        options["transaction_timeout"] = limits.run_timeout_ms + 2 * limits.cancel_grace_ms
    return " ".join(f"-c {key}={value}" for key, value in options.items())


def _connect(server: int, name: str, limits: Limits) -> _Learner:
    options = _options(server, limits, name)
    for attempt in range(2):
        try:
            conn = psycopg.connect(
                _as_role(server, name, application_name="querylab-sandbox", options=options),
                autocommit=True,
                prepare_threshold=None,
            )
            break
        except psycopg.OperationalError as exc:
            text = str(exc)
            if "too many connections for role" in text:
                raise SandboxBusy(
                    "Connections per sandbox limit: this sandbox already has "
                    f"{settings.SANDBOX_ROLE_CONNECTION_LIMIT} runs open; try again shortly."
                ) from exc
            if attempt == 0 and "password authentication failed" in text:
                # A learner changed their role's password (any role may): take it back.
                _reset_password(server, name)
                continue
            raise SandboxUnavailable(_first_line(exc)) from exc
    _text_loaders(conn)
    _nice_backend(server, conn)
    learner = _Learner(conn=conn, server=server, name=name)

    def keep_notice(diagnostic: psycopg.errors.Diagnostic) -> None:
        if len(learner.notices) < 20:
            text = f"{diagnostic.severity}: {diagnostic.message_primary}"
            learner.notices.append(text[:500])

    conn.add_notice_handler(keep_notice)
    return learner


def _nice_backend(server: int, conn: psycopg.Connection) -> None:
    """Learner SQL, seeding and dropping run at SANDBOX_SERVER_NICE on the embedded sandbox
    server, backend and session (config/infra/priority.py explains why both)."""
    if settings.SANDBOX_SERVER_NICE and settings.SANDBOX_SERVER_IS_EMBEDDED:
        priority.lower(conn.info.backend_pid, settings.SANDBOX_SERVER_NICE)


def _cheap_scram(conn: psycopg.Connection, version: int) -> None:
    """Hash sandbox passwords with one SCRAM iteration (PostgreSQL 16+): they are 256-bit
    random secrets, so iterations add nothing against guessing, and 4096 of them cost a few
    milliseconds of CPU on both sides of every new connection."""
    if version >= 160000:
        conn.execute("SET LOCAL scram_iterations = 1")


def _reset_password(server: int, name: str) -> None:
    target = _server(server)
    with target.pool.connection() as conn, conn.transaction():
        _cheap_scram(conn, target.version)
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(_checked(name)), sql.Literal(_password(name))
            )
        )


def _checkout(server: int, name: str, limits: Limits) -> _Learner:
    now = time.monotonic()
    with _idle_lock:
        stack = _idle.get(name)
        while stack:
            learner = stack.pop()
            fresh = now - learner.last_used < settings.SANDBOX_IDLE_CONNECTION_SECONDS
            if fresh and not learner.conn.closed:
                return learner
            _close_quietly(learner)
    return _connect(server, name, limits)


def _checkin(learner: _Learner, clean: bool = True) -> None:
    conn = learner.conn
    if conn.closed or conn.broken:
        return
    try:
        if conn.info.transaction_status != TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        if clean:
            # Settings, prepared statements, cursors: nothing survives into the next run.
            conn.execute("DISCARD ALL")
    except psycopg.Error:
        _close_quietly(learner)
        return
    learner.notices.clear()
    learner.last_used = time.monotonic()
    to_close = []
    with _idle_lock:
        _idle.setdefault(learner.name, []).append(learner)
        total = sum(len(stack) for stack in _idle.values())
        if total > settings.SANDBOX_IDLE_CONNECTIONS:
            oldest = sorted(
                ((other.last_used, key) for key, stack in _idle.items() for other in stack)
            )[: total - settings.SANDBOX_IDLE_CONNECTIONS]
            for _, key in oldest:
                if _idle.get(key):
                    to_close.append(_idle[key].pop(0))
                if not _idle.get(key):
                    _idle.pop(key, None)
    for other in to_close:
        _close_quietly(other)


def _forget_connections(names: Iterable[str]) -> None:
    with _idle_lock:
        gone = [learner for name in names for learner in _idle.pop(name, [])]
    for learner in gone:
        _close_quietly(learner)


def close_idle_connections() -> None:
    """Close every cached learner connection of this process (tests, shutdown)."""
    with _idle_lock:
        gone = [learner for stack in _idle.values() for learner in stack]
        _idle.clear()
    for learner in gone:
        _close_quietly(learner)


def close_pools() -> None:
    """Close every connection this process holds to sandbox servers: cached learner
    connections and the provisioning and superuser pools (made again when next needed)."""
    close_idle_connections()
    with _servers_lock:
        pools = [found.pool for found in _servers.values()]
        _servers.clear()
    with _superuser_pools_lock:
        pools += list(_superuser_pools.values())
        _superuser_pools.clear()
    for pool in pools:
        with contextlib.suppress(Exception):
            pool.close()


def _close_quietly(learner: _Learner) -> None:
    # Closing a dead connection may fail in many ways; it is gone either way.
    with contextlib.suppress(Exception):
        learner.conn.close()


# -- the watchdog ------------------------------------------------------------------------------


@dataclass
class _Ticket:
    learner: _Learner
    deadline: float
    done: bool = False
    cancelled: bool = False
    terminated: bool = False


class _Watchdog:
    """One thread per process that cancels runs past their deadline from outside, then ends
    the backend if it is still running after a grace period."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str, _Ticket]] = []
        self._counter = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, learner: _Learner, seconds: float, grace: float) -> _Ticket:
        ticket = _Ticket(learner=learner, deadline=time.monotonic() + seconds)
        with self._wake:
            heapq.heappush(self._heap, (ticket.deadline, next(self._counter), "cancel", ticket))
            heapq.heappush(
                self._heap, (ticket.deadline + grace, next(self._counter), "terminate", ticket)
            )
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="sandbox-watchdog", daemon=True
                )
                self._thread.start()
            self._wake.notify()
        return ticket

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    # Drop finished runs from the top so the heap does not grow without end.
                    while self._heap and self._heap[0][3].done:
                        heapq.heappop(self._heap)
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._wake.wait(timeout)
                _, _, action, ticket = heapq.heappop(self._heap)
            if ticket.done:
                continue
            try:
                if action == "cancel":
                    ticket.cancelled = True
                    ticket.learner.conn.cancel_safe(timeout=1)
                else:
                    ticket.terminated = True
                    _terminate(ticket.learner.server, ticket.learner.conn.info.backend_pid)
            except Exception:
                log.exception("sandbox watchdog could not %s a run", action)


_watchdog = _Watchdog()


def _terminate(server: int, pid: int) -> None:
    with _server(server).pool.connection() as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", [pid])


# -- runs --------------------------------------------------------------------------------------


@dataclass
class StatementResult:
    statement: str
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    rowcount: int
    truncated: bool
    elapsed_ms: float

    def as_json(self) -> dict:
        return {
            "statement": self.statement,
            "columns": self.columns,
            "types": self.types,
            "rows": self.rows,
            "rowcount": self.rowcount,
            "truncated": self.truncated,
            "elapsed_ms": self.elapsed_ms,
        }


@dataclass
class RunError:
    sqlstate: str
    message: str
    statement_index: int
    position: int | None = None
    bound: str | None = None  # which limit stopped the run, if one did

    def as_json(self) -> dict:
        return {
            "sqlstate": self.sqlstate,
            "message": self.message,
            "statement_index": self.statement_index,
            "position": self.position,
        }


@dataclass
class RunOutcome:
    results: list[StatementResult] = field(default_factory=list)
    error: RunError | None = None
    notices: list[str] = field(default_factory=list)
    disk_bytes: int | None = None


class _RunCursor(psycopg.Cursor):
    """``stream()`` that also accepts statements returning no rows and keeps the final result,
    so an empty SELECT still has column names and every statement has its command tag."""

    def _stream_fetchone_gen(self, first: bool):  # type: ignore[override]
        res = yield from fetch(self._pgconn)
        if res is None:
            return None
        status = res.status
        if status in (ExecStatus.SINGLE_TUPLE, ExecStatus.TUPLES_CHUNK):
            self.pgresult = res
            self._tx.set_pgresult(res, set_loaders=first)
            if first:
                self._make_row = self._make_row_maker()
            return res
        if status in (ExecStatus.TUPLES_OK, ExecStatus.COMMAND_OK):
            self.pgresult = res
            while res:
                res = yield from fetch(self._pgconn)
            return None
        return self._raise_for_result(res)


class _Budget:
    def __init__(self, limits: Limits):
        self.rows = limits.max_rows
        self.bytes = limits.max_bytes


def _cell(value: Any, budget: _Budget) -> tuple[Any, bool]:
    """A JSON-safe value and whether it had to be cut to fit the bytes budget."""
    if isinstance(value, str):
        if len(value) > budget.bytes:
            cut = value[: max(budget.bytes, 0)]
            budget.bytes = -1
            return cut, True
        budget.bytes -= len(value) + 1
        return value, False
    budget.bytes -= 8
    if isinstance(value, float) and not math.isfinite(value):
        return ("NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")), False
    return value, False


def _execute(learner: _Learner, statement: Statement, budget: _Budget) -> StatementResult:
    started = time.perf_counter()
    cur = _RunCursor(learner.conn)
    rows: list[list[Any]] = []
    truncated = False
    counted = 0
    if statement.returns_rows:
        for row in cur.stream(statement.text, size=100):
            if budget.rows <= 0 or budget.bytes <= 0:
                truncated = True
                break  # psycopg cancels the rest of the statement
            cells = []
            for value in row:
                cell, cut = _cell(value, budget)
                truncated = truncated or cut
                cells.append(cell)
            rows.append(cells)
            budget.rows -= 1
            counted += 1
    else:
        cur.execute(statement.text)
    elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
    columns = [column.name for column in cur.description or ()]
    types = [_type_name(learner.conn, column) for column in cur.description or ()]
    rowcount = counted if statement.returns_rows and cur.description else _tag_count(cur)
    return StatementResult(
        statement=statement.text,
        columns=columns,
        types=types,
        rows=rows,
        rowcount=rowcount,
        truncated=truncated,
        elapsed_ms=elapsed_ms,
    )


def _tag_count(cur: psycopg.Cursor) -> int:
    """The row count from a command tag ("INSERT 0 5" is 5), or -1 when it has none."""
    tag = cur.statusmessage or ""
    last = tag.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else -1


def _type_name(conn: psycopg.Connection, column: psycopg.Column) -> str:
    shown = column.type_display
    if shown.isdigit():
        return _user_type_name(conn, int(shown))
    return shown


# Types psycopg does not know (void, pg_lsn, …): built-in ones (OIDs below 16384) are named
# the same on every server, so they cost one round trip per process, not one per run.
_FIRST_NORMAL_OID = 16384
_builtin_type_names: dict[int, str] = {}


def _user_type_name(conn: psycopg.Connection, oid: int) -> str:
    known = _builtin_type_names.get(oid)
    if known is not None:
        return known
    row = conn.execute("SELECT pg_catalog.format_type(%s, NULL)", [oid]).fetchone()
    name = row[0] if row and row[0] else str(oid)
    if oid < _FIRST_NORMAL_OID and row and row[0]:
        _builtin_type_names[oid] = name
    return name


def _bound_message(exc: psycopg.Error, ticket: _Ticket, limits: Limits) -> tuple[str, str | None]:
    """The learner-facing message, naming the limit when one stopped the statement."""
    original = _first_line(exc)
    state = exc.sqlstate or ""
    run_seconds = limits.run_timeout_ms / 1000
    if ticket.terminated or (ticket.cancelled and state in ("57014", "57P01", "")):
        return (
            f"Run time limit: a run may take at most {run_seconds:g} s, so it was stopped "
            f"from outside. (PostgreSQL: {original})",
            "run_timeout",
        )
    if state == "57014" and "statement timeout" in original:
        return (
            f"Statement timeout: a statement may run for at most "
            f"{limits.statement_timeout_ms / 1000:g} s. (PostgreSQL: {original})",
            "statement_timeout",
        )
    if state == "25P04" or "transaction timeout" in original:
        return (f"Run time limit: {run_seconds:g} s. (PostgreSQL: {original})", "run_timeout")
    if state == "55P03":
        return (
            f"Lock timeout: a statement may wait at most {limits.lock_timeout_ms} ms for a "
            f"lock. (PostgreSQL: {original})",
            "lock_timeout",
        )
    if state == "25P03":
        return (
            "Idle-in-transaction timeout: a transaction may sit idle for at most "
            f"{limits.idle_in_transaction_timeout_ms} ms. (PostgreSQL: {original})",
            "idle_in_transaction_timeout",
        )
    if state == "53400" and "temp_file_limit" in original:
        return (
            f"Temp file limit: a statement may spill at most "
            f"{limits.temp_file_limit_kb // 1024} MB to disk. (PostgreSQL: {original})",
            "temp_file_limit",
        )
    if state == "42501":
        return (f"Not allowed in the sandbox: {original}", None)
    return (original, None)


def _error_from(
    exc: psycopg.Error, index: int, statement: Statement, ticket: _Ticket, limits: Limits
) -> RunError:
    message, bound = _bound_message(exc, ticket, limits)
    position = None
    diag = getattr(exc, "diag", None)
    if diag is not None and diag.statement_position:
        try:
            position = statement.offset + int(diag.statement_position)
        except ValueError:
            position = None
    return RunError(
        sqlstate=exc.sqlstate or "57P01",
        message=message,
        statement_index=index,
        position=position,
        bound=bound,
    )


def run(
    server: int,
    name: str,
    statements: list[Statement],
    limits: Limits | None = None,
    languages: Iterable[str] = (),
) -> RunOutcome:
    """Run parsed statements in sandbox ``name`` as its own role, within every limit.

    ``languages`` are those the sandbox was granted: with none, only statements that say so
    (``Statement.touches_session``) can leave state in the session, so the DISCARD ALL after
    a plain query is skipped; the learner's own code (functions, triggers) needs a language,
    and set_config and the advisory locks are revoked."""
    limits = limits or Limits.from_settings()
    learner = _checkout(server, _checked(name), limits)
    outcome = RunOutcome()
    budget = _Budget(limits)
    ticket = _watchdog.watch(learner, limits.run_timeout_ms / 1000, limits.cancel_grace_ms / 1000)
    wrote = False
    try:
        for index, statement in enumerate(statements):
            try:
                outcome.results.append(_execute(learner, statement, budget))
            except psycopg.Error as exc:
                outcome.error = _error_from(exc, index, statement, ticket, limits)
                break
            wrote = wrote or statement.changes_disk
            if ticket.cancelled:
                outcome.error = RunError(
                    "57014",
                    f"Run time limit: a run may take at most {limits.run_timeout_ms / 1000:g} s.",
                    index + 1,
                    bound="run_timeout",
                )
                break
    finally:
        ticket.done = True
    outcome.notices = list(learner.notices)
    conn = learner.conn
    if not conn.closed and not conn.broken:
        if conn.info.transaction_status != TransactionStatus.IDLE:
            try:
                conn.execute("ROLLBACK")
                outcome.notices.append(
                    "NOTICE: the transaction left open at the end of the run was rolled back "
                    "(a run is one session; COMMIT inside it to keep changes)."
                )
            except psycopg.Error:
                pass
        if wrote:
            try:
                row = conn.execute(_DISK_USAGE, [name]).fetchone()
                outcome.disk_bytes = int(row[0]) if row else 0
            except psycopg.Error:
                outcome.disk_bytes = None
    clean = bool(set(languages)) or any(statement.touches_session for statement in statements)
    _checkin(learner, clean=clean or outcome.error is not None)
    return outcome


@dataclass
class ExplainOutcome:
    plan: Any = None
    text: str = ""
    elapsed_ms: float = 0.0
    error: RunError | None = None
    notices: list[str] = field(default_factory=list)


_EXPLAIN_JSON = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "
_EXPLAIN_TEXT = "EXPLAIN (ANALYZE, BUFFERS) "


def explain(
    server: int, name: str, statement: Statement, limits: Limits | None = None
) -> ExplainOutcome:
    """EXPLAIN ANALYZE one statement, in JSON and text, inside a transaction that is rolled
    back: the statement really runs (that is what ANALYZE means) but changes nothing."""
    limits = limits or Limits.from_settings()
    learner = _checkout(server, _checked(name), limits)
    outcome = ExplainOutcome()
    ticket = _watchdog.watch(learner, limits.run_timeout_ms / 1000, limits.cancel_grace_ms / 1000)
    conn = learner.conn
    prefix = ""
    try:
        conn.execute("BEGIN")
        conn.execute("SAVEPOINT before_explain")
        prefix = _EXPLAIN_JSON
        started = time.perf_counter()
        row = conn.execute(prefix + statement.text).fetchone()
        outcome.elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
        plan = row[0] if row else None
        outcome.plan = json.loads(plan) if isinstance(plan, str) else plan
        conn.execute("ROLLBACK TO SAVEPOINT before_explain")
        prefix = _EXPLAIN_TEXT
        lines = conn.execute(prefix + statement.text).fetchall()
        outcome.text = "\n".join(line[0] for line in lines)
    except psycopg.Error as exc:
        shifted = Statement(
            text=statement.text,
            offset=statement.offset - len(prefix),
            kind=statement.kind,
            returns_rows=True,
            modifies_data=statement.modifies_data,
            changes_disk=False,
            explainable=True,
        )
        outcome.error = _error_from(exc, 0, shifted, ticket, limits)
    finally:
        ticket.done = True
    outcome.notices = list(learner.notices)
    if not conn.closed and not conn.broken:
        with contextlib.suppress(psycopg.Error):
            conn.execute("ROLLBACK")
    _checkin(learner)
    return outcome


# -- scratch runs (graded exercises, content check) ---------------------------------------------


@dataclass
class ScratchOutcome:
    results: list[StatementResult] = field(default_factory=list)
    error: RunError | None = None
    plan: Any = None  # EXPLAIN (ANALYZE, FORMAT JSON) of the last statement, when asked


def run_scratch(
    server: int,
    name: str,
    setups: list[str],
    runs: list[list[Statement]],
    explain_last_of: int | None = None,
    limits: Limits | None = None,
) -> list[list[ScratchOutcome]]:
    """For each trusted ``setup`` SQL (a data variant; "" for the fixture as it is), run each
    list of statements of ``runs`` on a fresh copy of sandbox ``name``'s data: everything
    happens in one transaction, with a savepoint after each setup that every run rolls back
    to, and the transaction is rolled back at the end, so the sandbox never changes. Returns
    outcomes[setup][run]. ``explain_last_of`` names a run whose last statement is also
    EXPLAINed (ANALYZE) on the first setup. Transaction control must be refused beforehand."""
    limits = limits or Limits.from_settings()
    learner = _checkout(server, _checked(name), limits)
    conn = learner.conn
    outcomes: list[list[ScratchOutcome]] = []
    seconds = limits.run_timeout_ms / 1000 * max(1, len(setups) * len(runs))
    ticket = _watchdog.watch(learner, seconds, limits.cancel_grace_ms / 1000)
    try:
        conn.execute("BEGIN")
        for position, setup in enumerate(setups):
            if position:
                conn.execute("ROLLBACK TO SAVEPOINT fresh")
            else:
                conn.execute("SAVEPOINT fresh")
            if setup.strip():
                # Several statements in one string: the simple protocol (trusted text).
                conn.execute(setup.encode())
            conn.execute("SAVEPOINT seeded")
            row: list[ScratchOutcome] = []
            for number, statements in enumerate(runs):
                conn.execute("ROLLBACK TO SAVEPOINT seeded")
                outcome = ScratchOutcome()
                budget = _Budget(limits)
                for index, statement in enumerate(statements):
                    last = index == len(statements) - 1
                    try:
                        if last and position == 0 and number == explain_last_of:
                            conn.execute("SAVEPOINT explain")
                            found = conn.execute(_EXPLAIN_JSON + statement.text).fetchone()
                            plan = found[0] if found else None
                            outcome.plan = json.loads(plan) if isinstance(plan, str) else plan
                            conn.execute("ROLLBACK TO SAVEPOINT explain")
                        outcome.results.append(_execute(learner, statement, budget))
                    except psycopg.Error as exc:
                        outcome.error = _error_from(exc, index, statement, ticket, limits)
                        if conn.closed or conn.broken:
                            raise
                        break
                row.append(outcome)
            outcomes.append(row)
    except psycopg.Error as exc:
        message, bound = _bound_message(exc, ticket, limits)
        raise ScratchFailed(message) from exc
    finally:
        ticket.done = True
        if not conn.closed and not conn.broken:
            with contextlib.suppress(psycopg.Error):
                conn.execute("ROLLBACK")
        _checkin(learner)
    return outcomes


class ScratchFailed(RuntimeError):
    """A scratch run could not go on (a variant's setup failed, or the run was stopped)."""


# -- the Django ORM lab ----------------------------------------------------------------------------


def lab_connection(server: int, name: str, limits: Limits | None = None) -> tuple[dict, str]:
    """What a lab run needs to connect as sandbox ``name`` (sandbox/lab/worker.py): the role's
    own connection parameters and the same startup options as SQL runs (statement, lock and
    idle timeouts, work_mem, jit off, search_path). Only that role: the worker never sees the
    provisioning or superuser URLs, nor SECRET_KEY (passwords are derived from it here)."""
    limits = limits or Limits.from_settings()
    params = conninfo_to_dict(_as_role(server, _checked(name)))
    wanted = ("host", "port", "dbname", "user", "password", "hostaddr", "sslmode")
    return {key: params[key] for key in wanted if params.get(key)}, _options(server, limits, name)


def reset_password(server: int, name: str) -> None:
    """Set a sandbox role's password back to the derived one (a learner changed it)."""
    _reset_password(server, _checked(name))
