"""The sandbox servers: where they are, whether they answer, the names this installation
uses on them, and the two administrative pools (provisioning, superuser).

Layout on a sandbox server (``SANDBOX_DATABASE_URL``, a superuser URL, used only to bootstrap):

- a provisioning role ``<prefix>_<tag>_provisioner``: LOGIN, CREATEROLE, not a superuser. It
  creates, seeds and drops sandboxes. On PostgreSQL 16+ a CREATEROLE role only gets rights over
  the roles it creates through ``createrole_self_grant = 'set, inherit'`` (set on the role); on
  PostgreSQL 15 it may administer every non-superuser role, but needs an explicit membership
  (``GRANT <learner> TO provisioner``) to drop what a learner owns, which ``roles.provision`` adds.
- one LOGIN role and one schema per sandbox, both named ``<prefix>_<tag>_s<20 hex>``: opaque,
  because the catalogs are readable by everyone. The schema belongs to the provisioning role;
  the learner role has USAGE and CREATE on it and owns the seeded tables.
- what PUBLIC gets by default is revoked (see ``bootstrap``).

``<tag>`` is derived from the app database, so several installations (or a test run) can share
one server and the janitor only ever touches what its own installation made.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection as app_connection
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from config.infra import priority

log = logging.getLogger(__name__)

LANGUAGES = ("plpgsql", "sql")
_NAME = re.compile(r"^[a-z0-9_]{1,63}$")


class SandboxUnavailable(RuntimeError):
    """The sandbox server cannot be reached; the rest of the site keeps working."""


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


def learner_placement(learner_id: int) -> str:
    """What ``server_for`` hashes for a learner's sandboxes: their Learner row's id (stable for
    as long as the learner exists; a visitor's sandboxes keep their server when they move to
    the account at log-in)."""
    return f"learner:{learner_id}"


def server_for(placement: str) -> int:
    """Which sandbox server a new sandbox goes to. The one place placement happens.

    ``placement`` is a learner's key (``learner_placement``) or the name of a shared use
    ("grader", "content-check"). Rendezvous (highest random weight) hashing of it against each
    server's address: a learner's sandboxes all land on the same server, and adding a server
    moves only the learners it now ranks first. When that server does not answer, the next in
    the ranking takes the new sandbox (failover). Only new sandboxes are placed: a sandbox
    stays where its record says (``Sandbox.server``), and answers "unavailable" while that
    server is down. So changing what is hashed (as when sandboxes were keyed by "user:<id>"
    or "session:<token>" strings, before the Learner row) moves no existing sandbox; it only
    sends a learner's next new sandbox to their new first choice.
    Raises SandboxUnavailable when no server answers.
    """
    urls = sandbox_urls()
    ranked = sorted(
        range(len(urls)),
        key=lambda index: hashlib.sha256(
            f"{_server_identity(urls[index])}|{placement}".encode()
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
    url = server_url(server)
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
        problem = first_line(exc)
    _answers[url] = (now, problem)
    return problem


def server_answers(server: int, fresh: bool = False) -> bool:
    """Whether a sandbox server accepts connections (``server_problem``'s cached answer)."""
    return server_problem(server, fresh) is None


def note_unavailable(server: int) -> None:
    """Remember that a server just failed, so placement skips it without waiting to ask."""
    with contextlib.suppress(SandboxUnavailable):
        _answers[server_url(server)] = (time.monotonic(), "a run found it unavailable")


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
        with provisioning(server).pool.connection() as conn:
            rows = conn.execute(
                "SELECT application_name, count(*) FROM pg_stat_activity "
                "WHERE usename LIKE %s GROUP BY 1",
                [pattern],
            ).fetchall()
    except psycopg.OperationalError as exc:
        raise SandboxUnavailable(first_line(exc)) from exc
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
        with provisioning(server).pool.connection() as conn:
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
        raise SandboxUnavailable(first_line(exc)) from exc
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


def provisioner_name() -> str:
    return f"{name_prefix()}provisioner"


def group_name(purpose: str) -> str:
    """A NOLOGIN role holding one privilege that every (or some) sandbox needs: CONNECT on the
    database, or USAGE on a language. Sandboxes get it by membership, because granting the
    privilege to each new role would update the one shared pg_database or pg_language row, and
    two learners provisioned at the same moment fail with "tuple concurrently updated"."""
    return f"{name_prefix()}g{purpose}"


def role_password(role: str) -> str:
    """Derived, not stored: the app can always log in as the roles it made."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"querylab-sandbox:{role}".encode(), hashlib.sha256).hexdigest()


def checked_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not a sandbox name: {name!r}")
    return name


def server_url(server: int) -> str:
    urls = sandbox_urls()
    if not urls:
        raise SandboxUnavailable("SANDBOX_DATABASE_URL names no server")
    return urls[server if server < len(urls) else 0]


def role_url(server: int, role: str, **options: Any) -> str:
    return make_conninfo(
        server_url(server), user=role, password=role_password(role), connect_timeout=3, **options
    )


def _without_jit(url: str) -> str:
    """The URL's own ``options`` with JIT off, for seeding and janitor connections: their
    statements, like learners', are not worth an uninterruptible compile (see
    ``connections.startup_options``)."""
    return " ".join(filter(None, [conninfo_to_dict(url).get("options", ""), "-c jit=off"]))


def first_line(exc: BaseException) -> str:
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
class Provisioning:
    version: int
    pool: ConnectionPool


_servers: dict[tuple[str, str], Provisioning] = {}
_servers_lock = threading.Lock()


def provisioning(server: int) -> Provisioning:
    """The provisioning pool of a server, bootstrapping the server on first use in a process."""
    key = (server_url(server), name_prefix())
    found = _servers.get(key)
    if found is not None:
        return found
    with _servers_lock:
        found = _servers.get(key)
        if found is None:
            version = bootstrap(server)
            provisioner = provisioner_name()
            pool = ConnectionPool(
                role_url(
                    server,
                    provisioner,
                    application_name="querylab-provisioner",
                    options=_without_jit(server_url(server)),
                ),
                min_size=0,
                max_size=settings.SANDBOX_PROVISIONER_POOL_SIZE,
                kwargs={"autocommit": True},
                # After the server restarts, pooled connections are dead: test each as it is
                # handed out, so the first sandbox made after a restart does not fail.
                check=ConnectionPool.check_connection,
                configure=functools.partial(nice_backend, server),
                open=True,
                timeout=10,
                name=f"sandbox-provisioner-{server}",
            )
            found = _servers[key] = Provisioning(version=version, pool=pool)
    return found


def forget_provisioning(server: int) -> None:
    """Close a server's provisioning pool (its role is being removed); made again on next use."""
    with _servers_lock:
        found = _servers.pop((server_url(server), name_prefix()), None)
    if found is not None:
        found.pool.close()


def close_admin_pools() -> None:
    """Close the provisioning and superuser pools of this process (made again when needed)."""
    with _servers_lock:
        pools = [found.pool for found in _servers.values()]
        _servers.clear()
    with _superuser_pools_lock:
        pools += list(_superuser_pools.values())
        _superuser_pools.clear()
    for pool in pools:
        with contextlib.suppress(Exception):
            pool.close()


def bootstrap(server: int = 0) -> int:
    """Create or repair the provisioning role and revoke PUBLIC's defaults; return the server
    version number. Idempotent, serialised across processes by an advisory lock, and run with
    the superuser URL, which nothing else uses."""
    provisioner = checked_name(provisioner_name())
    try:
        admin = psycopg.connect(server_url(server), connect_timeout=3, autocommit=True)
    except psycopg.OperationalError as exc:
        raise SandboxUnavailable(first_line(exc)) from exc
    with admin:
        version = admin.info.server_version
        with admin.transaction():
            admin.execute("SELECT pg_advisory_xact_lock(hashtext('querylab-sandbox-bootstrap'))")
            _make_provisioner(admin, provisioner, version)
            _revoke_public_defaults(admin, provisioner)
            _make_groups(admin, provisioner)
    return version


def _make_provisioner(admin: psycopg.Connection, provisioner: str, version: int) -> None:
    """The provisioning role: LOGIN, CREATEROLE, never a superuser, its password derived."""
    role = sql.Identifier(provisioner)
    exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [provisioner]).fetchone()
    if not exists:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE").format(role))
    admin.execute(
        sql.SQL("ALTER ROLE {} LOGIN CREATEROLE NOSUPERUSER PASSWORD {}").format(
            role, sql.Literal(role_password(provisioner))
        )
    )
    if version >= 160000:
        # Without it a CREATEROLE role cannot use or drop what its roles own (16+).
        admin.execute(
            sql.SQL("ALTER ROLE {} SET createrole_self_grant = 'set, inherit'").format(role)
        )
    admin.execute(sql.SQL("GRANT pg_signal_backend TO {}").format(role))


def _revoke_public_defaults(admin: psycopg.Connection, provisioner: str) -> None:
    """What PUBLIC may do by default and a sandbox must not, revoked; what the provisioner
    needs instead, granted."""
    role = sql.Identifier(provisioner)
    database = sql.Identifier(admin.info.dbname)
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
        admin.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name)))
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
    admin.execute("REVOKE SELECT ON pg_catalog.pg_stat_activity, pg_catalog.pg_locks FROM PUBLIC")
    for (function,) in admin.execute(_REVOKED_FUNCTIONS).fetchall():
        admin.execute(
            sql.SQL("REVOKE EXECUTE ON FUNCTION {} FROM PUBLIC").format(sql.SQL(function))
        )
    # The provisioner finds a sandbox's sessions to end them before dropping it.
    admin.execute(sql.SQL("GRANT SELECT ON pg_catalog.pg_stat_activity TO {}").format(role))
    admin.execute(
        sql.SQL("GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_get_activity(integer) TO {}").format(
            role
        )
    )


def _make_groups(admin: psycopg.Connection, provisioner: str) -> None:
    """The procedural languages kept from PUBLIC, and the groups that hand CONNECT and each
    language to sandboxes (see ``group_name``)."""
    role = sql.Identifier(provisioner)
    database = sql.Identifier(admin.info.dbname)
    installed = {
        name
        for (name,) in admin.execute(
            "SELECT lanname FROM pg_language WHERE lanname = ANY(%s)", [list(LANGUAGES)]
        ).fetchall()
    }
    for language in sorted(installed):
        language_id = sql.Identifier(language)
        admin.execute(sql.SQL("REVOKE USAGE ON LANGUAGE {} FROM PUBLIC").format(language_id))
        admin.execute(
            sql.SQL("GRANT USAGE ON LANGUAGE {} TO {} WITH GRANT OPTION").format(language_id, role)
        )
    groups = {"connect": ("CONNECT ON DATABASE", database)}
    for language in sorted(installed):
        groups[f"lang_{language}"] = ("USAGE ON LANGUAGE", sql.Identifier(language))
    for purpose, (privilege, target) in groups.items():
        group = checked_name(group_name(purpose))
        if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [group]).fetchone():
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


# -- the superuser pool (dropping roles) -----------------------------------------------------


@contextlib.contextmanager
def superuser(server: int):
    with _superuser_pools_lock:
        pool = _superuser_pools.get(server_url(server))
        if pool is None:
            pool = _superuser_pools[server_url(server)] = ConnectionPool(
                make_conninfo(
                    server_url(server),
                    connect_timeout=3,
                    application_name="querylab-janitor",
                    options=_without_jit(server_url(server)),
                ),
                min_size=0,
                max_size=2,
                kwargs={"autocommit": True},
                check=ConnectionPool.check_connection,
                configure=functools.partial(nice_backend, server),
                open=True,
                timeout=10,
                name=f"sandbox-superuser-{server}",
            )
    with pool.connection() as conn:
        yield conn


_superuser_pools: dict[str, ConnectionPool] = {}
_superuser_pools_lock = threading.Lock()


def nice_backend(server: int, conn: psycopg.Connection) -> None:
    """Learner SQL, seeding and dropping run at SANDBOX_SERVER_NICE on the embedded sandbox
    server, backend and session (config/infra/priority.py explains why both)."""
    if settings.SANDBOX_SERVER_NICE and settings.SANDBOX_SERVER_IS_EMBEDDED:
        priority.lower(conn.info.backend_pid, settings.SANDBOX_SERVER_NICE)


def cheap_scram(conn: psycopg.Connection, version: int) -> None:
    """Hash sandbox passwords with one SCRAM iteration (PostgreSQL 16+): they are 256-bit
    random secrets, so iterations add nothing against guessing, and 4096 of them cost a few
    milliseconds of CPU on both sides of every new connection."""
    if version >= 160000:
        conn.execute("SET LOCAL scram_iterations = 1")
