"""Provisioning and dropping sandboxes on a server: one LOGIN role and one schema per
sandbox, seeded from the lesson's fixture, with the languages its lesson grants (the layout
is described in ``sandbox/servers.py``)."""

from __future__ import annotations

import re
from collections.abc import Iterable

import psycopg
from django.conf import settings
from psycopg import sql

from sandbox.connections import close_idle_connections, forget_connections
from sandbox.servers import (
    LANGUAGES,
    SandboxUnavailable,
    cheap_scram,
    checked_name,
    first_line,
    forget_provisioning,
    group_name,
    is_sandbox_name,
    name_prefix,
    provisioner_name,
    provisioning,
    role_password,
    server_url,
    superuser,
)

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
    name = checked_name(name)
    target = provisioning(server)
    role = sql.Identifier(name)
    needs_languages = bool(fixture_sql.strip()) and bool(_MAKES_CODE.search(fixture_sql))
    seeding_groups = [f"lang_{language}" for language in LANGUAGES] if needs_languages else []
    try:
        with target.pool.connection() as conn:
            with conn.transaction():
                cheap_scram(conn, target.version)
                conn.execute(
                    sql.SQL(
                        # INHERIT: the role's only memberships are this installation's groups
                        # (CONNECT, and a language where the lesson grants one).
                        "CREATE ROLE {} LOGIN INHERIT NOCREATEDB NOCREATEROLE "
                        "CONNECTION LIMIT {} PASSWORD {}"
                    ).format(
                        role,
                        sql.Literal(settings.SANDBOX_ROLE_CONNECTION_LIMIT),
                        sql.Literal(role_password(name)),
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
    except psycopg.errors.QueryCanceled as exc:
        # An OperationalError too, but the server is fine: the fixture is too slow.
        raise FixtureTooSlow(
            f"a statement of the fixture ran past the seeding limit of "
            f"{settings.SANDBOX_FIXTURE_SEED_LIMIT_MS / 1000:g} s (SANDBOX_FIXTURE_SEED_LIMIT_MS) "
            f"and was stopped ({first_line(exc)})"
        ) from exc
    except psycopg.OperationalError as exc:
        raise SandboxUnavailable(first_line(exc)) from exc


class FixtureTooSlow(SandboxUnavailable):
    """A statement of a fixture ran past SANDBOX_FIXTURE_SEED_LIMIT_MS while seeding: the
    server is fine, the fixture is not (``content check`` and ``sync`` refuse it)."""


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
        limit = sql.Literal(f"{settings.SANDBOX_FIXTURE_SEED_LIMIT_MS}ms")
        conn.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(limit))
        conn.execute("SET LOCAL TimeZone = 'UTC'")  # as learner runs (connections.py)
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
                sql.SQL(", ").join(sql.Identifier(group_name(p)) for p in seeding_groups), role
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
    """Make sandbox ``name`` a member of this installation's groups (see group_name)."""
    groups = sql.SQL(", ").join(sql.Identifier(group_name(p)) for p in purposes)
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
        with provisioning(server).pool.connection() as conn:
            grant_languages_on(conn, checked_name(name), languages)
    except psycopg.OperationalError as exc:
        raise SandboxUnavailable(first_line(exc)) from exc


def drop(server: int, names: list[str]) -> int:
    """Drop sandboxes (ending their sessions first). Missing ones are skipped. Returns how many
    roles were dropped. Only names of this installation are accepted."""
    names = [checked_name(name) for name in names if is_sandbox_name(name)]
    if not names:
        return 0
    dropped = 0
    try:
        with provisioning(server).pool.connection() as conn:
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
                with superuser(server) as admin:
                    admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(listed))
                dropped = len(roles)
    except psycopg.OperationalError as exc:
        raise SandboxUnavailable(first_line(exc)) from exc
    forget_connections(names)
    return dropped


def remove_installation(server: int = 0) -> None:
    """Drop every sandbox of this installation and its provisioning role (tests, uninstall)."""
    drop(server, sorted(existing_names(server)))
    close_idle_connections()
    forget_provisioning(server)
    groups = [group_name(p) for p in ["connect", *(f"lang_{x}" for x in LANGUAGES)]]
    with psycopg.connect(server_url(server), connect_timeout=3, autocommit=True) as admin:
        for name in [provisioner_name(), *groups]:
            role = sql.Identifier(checked_name(name))
            if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone():
                admin.execute(sql.SQL("DROP OWNED BY {}").format(role))
                admin.execute(sql.SQL("DROP ROLE {}").format(role))


def existing_names(server: int) -> set[str]:
    """Sandbox roles and schemas of this installation present on a server."""
    pattern = name_prefix().replace("_", r"\_") + "s%"
    with provisioning(server).pool.connection() as conn:
        rows = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE %(p)s "
            "UNION SELECT nspname FROM pg_namespace WHERE nspname LIKE %(p)s",
            {"p": pattern},
        ).fetchall()
    return {row[0] for row in rows if is_sandbox_name(row[0])}


def disk_usage(server: int, names: list[str]) -> dict[str, int]:
    """Bytes used by each sandbox's tables, indexes and TOAST."""
    with provisioning(server).pool.connection() as conn:
        rows = conn.execute(_DISK_USAGE_BY_SCHEMA, [names]).fetchall()
    return {name: int(size) for name, size in rows}


_DISK_USAGE_BY_SCHEMA = """
SELECT n.nspname, pg_catalog.sum(pg_catalog.pg_total_relation_size(c.oid))
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname OPERATOR(pg_catalog.=) ANY(%s) AND c.relkind IN ('r', 'm')
 GROUP BY n.nspname
"""
