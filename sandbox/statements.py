"""Splitting and classifying learner SQL with the real PostgreSQL parser (pglast).

This is a courtesy layer: it refuses, with a message that says what and why, statements that have
no place in a lesson sandbox, so the learner learns something instead of reading "permission
denied". The wall is the sandbox database's own privileges (see ``sandbox/servers.py``); nothing
here is trusted to stop an attack on its own.

Pure functions, no database.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

import pglast
from pglast import ast, enums
from pglast.parser import ParseError

# Statements that may produce rows, so they are streamed (and capped) rather than executed.
_ROW_RETURNING = (
    ast.SelectStmt,
    ast.VariableShowStmt,
    ast.ExplainStmt,
    ast.FetchStmt,
    ast.ExecuteStmt,
    ast.CallStmt,
)
_MODIFYING = (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)

# What a lesson may do: queries, data changes, and DDL inside the learner's own schema.
_ALLOWED = (
    ast.SelectStmt,
    ast.InsertStmt,
    ast.UpdateStmt,
    ast.DeleteStmt,
    ast.MergeStmt,
    ast.CreateStmt,
    ast.CreateTableAsStmt,
    ast.ViewStmt,
    ast.IndexStmt,
    ast.AlterTableStmt,
    ast.DropStmt,
    ast.TruncateStmt,
    ast.CreateSeqStmt,
    ast.AlterSeqStmt,
    ast.CreateEnumStmt,
    ast.AlterEnumStmt,
    ast.CompositeTypeStmt,
    ast.CreateRangeStmt,
    ast.CreateDomainStmt,
    ast.AlterDomainStmt,
    ast.CommentStmt,
    ast.RenameStmt,
    ast.ExplainStmt,
    ast.VacuumStmt,
    ast.ClusterStmt,
    ast.ReindexStmt,
    ast.RefreshMatViewStmt,
    ast.CreateTrigStmt,
    ast.CreateFunctionStmt,
    ast.AlterFunctionStmt,
    ast.DoStmt,
    ast.CallStmt,
    ast.TransactionStmt,
    ast.LockStmt,
    ast.CreateStatsStmt,
    ast.AlterStatsStmt,
    ast.RuleStmt,
    ast.CreatePolicyStmt,
    ast.AlterPolicyStmt,
    ast.DeclareCursorStmt,
    ast.FetchStmt,
    ast.ClosePortalStmt,
    ast.PrepareStmt,
    ast.ExecuteStmt,
    ast.DeallocateStmt,
    ast.VariableShowStmt,
    ast.VariableSetStmt,
)

# Settings a lesson may change for the length of one run: the planner's switches and costs, and
# how values are displayed. Every limit is a setting too, which is why this is a short list.
_SETTABLE_PREFIXES = ("enable_", "jit")
_SETTABLE = {
    "random_page_cost",
    "seq_page_cost",
    "cpu_tuple_cost",
    "cpu_index_tuple_cost",
    "cpu_operator_cost",
    "effective_cache_size",
    "default_statistics_target",
    "plan_cache_mode",
    "from_collapse_limit",
    "join_collapse_limit",
    "timezone",
    "datestyle",
    "intervalstyle",
    "extra_float_digits",
    "constraint_exclusion",
    "cursor_tuple_fraction",
    "geqo",
    "default_transaction_isolation",
    "transaction_isolation",
}

# work_mem may change too, within bounds: it is how a lesson shows a sort that spills to disk
# and one that fits in memory. PostgreSQL's own minimum, and at most SANDBOX_MAX_WORK_MEM.
WORK_MEM_MIN_KB = 64
# PostgreSQL's memory units (case-sensitive, as PostgreSQL reads them), in kB.
_MEMORY_UNITS = {
    "B": Fraction(1, 1024),
    "kB": Fraction(1),
    "MB": Fraction(1024),
    "GB": Fraction(1024**2),
    "TB": Fraction(1024**3),
}
# A plain decimal number and an optional unit: no sign, exponent, hex ('0x…', which PostgreSQL
# reads), or octal (PostgreSQL reads '010' as 8): whatever this cannot read is refused.
_MEMORY_VALUE = re.compile(r"\s*(0|[1-9][0-9]{0,14})(\.[0-9]{1,6})?\s*([A-Za-z]*)\s*")
# Settings a function may pin with its own SET clause besides the ones above: a SECURITY
# DEFINER function must pin its search_path (the privileges are the wall either way).
_FUNCTION_SETTABLE = {"search_path"}

_REFUSED_BECAUSE = {
    ast.CopyStmt: (
        "COPY reads and writes files, programs or the client connection, none of which a "
        "sandbox has; use INSERT … SELECT or a SELECT instead"
    ),
    ast.CreateExtensionStmt: "extensions change the whole database, not just your sandbox",
    ast.AlterExtensionStmt: "extensions change the whole database, not just your sandbox",
    ast.AlterExtensionContentsStmt: "extensions change the whole database, not just your sandbox",
    ast.ListenStmt: "LISTEN/NOTIFY talk across sessions, and your runs share nothing",
    ast.NotifyStmt: "LISTEN/NOTIFY talk across sessions, and your runs share nothing",
    ast.UnlistenStmt: "LISTEN/NOTIFY talk across sessions, and your runs share nothing",
    ast.CreateRoleStmt: "roles are managed by Querylab; your sandbox has exactly one",
    ast.AlterRoleStmt: "roles are managed by Querylab; your sandbox has exactly one",
    ast.AlterRoleSetStmt: "roles are managed by Querylab; your sandbox has exactly one",
    ast.DropRoleStmt: "roles are managed by Querylab; your sandbox has exactly one",
    ast.GrantStmt: "privileges are managed by Querylab: your sandbox is private to you",
    ast.GrantRoleStmt: "roles are managed by Querylab; your sandbox has exactly one",
    ast.AlterDefaultPrivilegesStmt: "privileges are managed by Querylab",
    ast.AlterOwnerStmt: "ownership is managed by Querylab",
    ast.ReassignOwnedStmt: "ownership is managed by Querylab",
    ast.DropOwnedStmt: "ownership is managed by Querylab; use Reset to start over",
    ast.CreateSchemaStmt: "your sandbox is one schema; create tables in it directly",
    ast.CreatedbStmt: "your sandbox is one schema in a shared database",
    ast.DropdbStmt: "your sandbox is one schema in a shared database",
    ast.AlterDatabaseStmt: "your sandbox is one schema in a shared database",
    ast.AlterDatabaseSetStmt: "your sandbox is one schema in a shared database",
    ast.AlterSystemStmt: "server settings belong to the server, not to a lesson",
    ast.LoadStmt: "loading server libraries is for administrators",
    ast.CheckPointStmt: "checkpoints are the server's business",
    ast.DiscardStmt: "each run already starts with a clean session",
    ast.CreateTableSpaceStmt: "tablespaces are directories on the server",
    ast.DropTableSpaceStmt: "tablespaces are directories on the server",
    ast.AlterTableSpaceOptionsStmt: "tablespaces are directories on the server",
    ast.CreateFdwStmt: "foreign data wrappers reach other servers over the network",
    ast.CreateForeignServerStmt: "foreign servers are reached over the network",
    ast.CreateForeignTableStmt: "foreign tables are reached over the network",
    ast.CreateUserMappingStmt: "foreign servers are reached over the network",
    ast.ImportForeignSchemaStmt: "foreign servers are reached over the network",
    ast.CreateSubscriptionStmt: "replication connects to other servers",
    ast.CreatePublicationStmt: "replication is the server's business",
    ast.CreateEventTrigStmt: "event triggers act on the whole database",
    ast.SecLabelStmt: "security labels are for administrators",
    ast.DefineStmt: "defining operators, aggregates and base types is not part of the lessons",
}


class StatementRefused(ValueError):
    """The SQL cannot run in a sandbox. ``message`` says what and why; ``position`` is 1-based."""

    def __init__(self, message: str, statement_index: int, position: int | None = None):
        super().__init__(message)
        self.message = message
        self.statement_index = statement_index
        self.position = position


class SyntaxProblem(StatementRefused):
    """PostgreSQL's parser could not read the SQL."""


@dataclass(frozen=True)
class Statement:
    """One statement of a run: its text as the learner wrote it, and what it is."""

    text: str
    offset: int  # where ``text`` starts in the submitted SQL, in characters
    kind: str  # the parse node's name, for example "SelectStmt"
    returns_rows: bool
    modifies_data: bool
    changes_disk: bool  # may grow the sandbox on disk: worth measuring its size afterwards
    explainable: bool
    # May leave state in the session (settings, prepared statements, cursors, code that could
    # do either): the connection is cleaned with DISCARD ALL before its next run.
    touches_session: bool = True


def split(
    sql: str,
    *,
    languages: Iterable[str] = (),
    max_statements: int = 50,
    max_work_mem: str | None = None,
) -> list[Statement]:
    """Parse ``sql`` into statements, refusing what a sandbox does not allow.

    ``languages`` are the procedural languages the lesson grants (for example ``["plpgsql"]``);
    ``max_work_mem`` the most ``SET work_mem`` may ask for (default SANDBOX_MAX_WORK_MEM).
    Raises ``SyntaxProblem`` or ``StatementRefused``.
    """
    granted = frozenset(language.lower() for language in languages)
    if max_work_mem is None:
        from django.conf import settings

        max_work_mem = settings.SANDBOX_MAX_WORK_MEM
    return list(_split_cached(sql, granted, max_statements, max_work_mem))


@functools.lru_cache(maxsize=8)
def work_mem_cap(text: str) -> tuple[int, str]:
    """The cap on ``SET work_mem`` in kB, and as written (SANDBOX_MAX_WORK_MEM, '16MB')."""
    kb = memory_kb(text)
    if kb is None or kb < WORK_MEM_MIN_KB:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"SANDBOX_MAX_WORK_MEM = {text!r}: write a whole amount of memory of at least "
            f"{WORK_MEM_MIN_KB}kB, such as '16MB'."
        )
    return int(kb), text.strip()


def memory_kb(value: str | int) -> Fraction | None:
    """An amount of memory as PostgreSQL reads a memory setting, in kB (a bare number is kB), or
    None when it is not a plain literal this reads exactly the way PostgreSQL does."""
    if isinstance(value, int):
        return Fraction(value)
    match = _MEMORY_VALUE.fullmatch(value)
    if match is None or match.group(3) not in ("", *_MEMORY_UNITS):
        return None
    number = Fraction(match.group(1) + (match.group(2) or ""))
    return number * _MEMORY_UNITS.get(match.group(3), Fraction(1))


# Learners run the same few queries over and over (lesson examples, edits re-run): parsing is a
# good part of a run's CPU. Statements are immutable, the answer depends only on the arguments,
# and refusals are not cached (they raise). At most SANDBOX_MAX_SQL_LENGTH characters a key.
@functools.lru_cache(maxsize=256)
def _split_cached(
    sql: str, granted: frozenset[str], max_statements: int, max_work_mem: str
) -> tuple[Statement, ...]:
    cap = work_mem_cap(max_work_mem)
    try:
        raws = pglast.parse_sql(sql)
    except ParseError as exc:
        message, index = (exc.args + (None,))[:2] if exc.args else (str(exc), None)
        message = str(message).split(", at index")[0]
        raise SyntaxProblem(
            f"Syntax error: {message}", 0, index + 1 if isinstance(index, int) else None
        ) from None
    if not raws:
        # Nothing a privilege could refuse: said as a problem of the input (42601), not 42501.
        raise SyntaxProblem(
            "There is no SQL statement to run: write one in the editor (for example "
            "SELECT 1) and press Run.",
            0,
        )
    if len(raws) > max_statements:
        raise StatementRefused(
            f"Statements per run limit: a run may have at most {max_statements} statements "
            f"(this one has {len(raws)}).",
            max_statements,
        )
    statements = []
    for index, raw in enumerate(raws):
        start = raw.stmt_location or 0
        end = start + raw.stmt_len if raw.stmt_len else len(sql)
        text = sql[start:end]
        # Keep the learner's text, but start at the statement, not at the comments before it.
        stripped = text.lstrip()
        offset = start + (len(text) - len(stripped))
        node = raw.stmt
        try:
            _check(node, index, granted, cap)
        except StatementRefused as exc:
            exc.position = exc.position or offset + 1
            raise
        statements.append(_describe(node, stripped.rstrip().rstrip(";").rstrip(), offset))
    return tuple(statements)


def _describe(node: ast.Node, text: str, offset: int) -> Statement:
    returns_rows = isinstance(node, _ROW_RETURNING) or bool(
        isinstance(node, _MODIFYING)
        and (getattr(node, "returningClause", None) or getattr(node, "returningList", None))
    )
    if isinstance(node, ast.SelectStmt) and node.intoClause is not None:
        returns_rows = False  # SELECT … INTO creates a table
    modifies_data = isinstance(node, _MODIFYING) or (
        isinstance(node, ast.SelectStmt) and node.intoClause is not None
    )
    explainable = isinstance(
        node,
        (
            ast.SelectStmt,
            ast.CreateTableAsStmt,
            ast.ExecuteStmt,
            ast.DeclareCursorStmt,
            *_MODIFYING,
        ),
    )
    read_only = isinstance(
        node,
        ast.SelectStmt
        | ast.VariableShowStmt
        | ast.VariableSetStmt
        | ast.TransactionStmt
        | ast.FetchStmt
        | ast.ClosePortalStmt
        | ast.DeallocateStmt
        | ast.PrepareStmt,
    ) and not (isinstance(node, ast.SelectStmt) and node.intoClause is not None)
    touches_session = isinstance(
        node,
        ast.VariableSetStmt
        | ast.PrepareStmt
        | ast.DeclareCursorStmt
        | ast.DoStmt
        | ast.CallStmt
        | ast.TransactionStmt
        | ast.ExplainStmt,
    )
    return Statement(
        text=text,
        offset=offset,
        kind=type(node).__name__,
        returns_rows=returns_rows,
        modifies_data=modifies_data,
        changes_disk=not read_only,
        explainable=explainable,
        touches_session=touches_session,
    )


def _refuse(what: str, why: str, index: int, location: int | None = None) -> StatementRefused:
    return StatementRefused(f"Not allowed in the sandbox: {what} — {why}.", index, location)


def _check(node: ast.Node, index: int, languages: frozenset[str], cap: tuple[int, str]) -> None:
    kind = type(node)
    if kind in _REFUSED_BECAUSE:
        raise _refuse(_name_of(node), _REFUSED_BECAUSE[kind], index)
    if not isinstance(node, _ALLOWED):
        raise _refuse(_name_of(node), "it has no place in a lesson sandbox", index)
    if isinstance(node, ast.VariableSetStmt):
        _check_setting(node, index, cap)
    elif isinstance(node, ast.TransactionStmt):
        if node.kind in (
            enums.TransactionStmtKind.TRANS_STMT_PREPARE,
            enums.TransactionStmtKind.TRANS_STMT_COMMIT_PREPARED,
            enums.TransactionStmtKind.TRANS_STMT_ROLLBACK_PREPARED,
        ):
            raise _refuse(
                "Two-phase commit (PREPARE TRANSACTION)",
                "a prepared transaction outlives the run and holds its locks",
                index,
            )
    elif isinstance(node, ast.CreateStmt | ast.ViewStmt | ast.CreateSeqStmt):
        relation = node.view if isinstance(node, ast.ViewStmt) else getattr(node, "relation", None)
        if relation is None and isinstance(node, ast.CreateSeqStmt):
            relation = node.sequence
        _check_persistence(relation, index)
    elif isinstance(node, ast.CreateTableAsStmt):
        _check_persistence(node.into.rel, index)
    elif isinstance(node, ast.SelectStmt) and node.intoClause is not None:
        _check_persistence(node.intoClause.rel, index)
    elif isinstance(node, ast.VacuumStmt) and not node.rels:
        command = "VACUUM" if node.is_vacuumcmd else "ANALYZE"
        raise _refuse(
            f"{command} without a table name",
            f"it would visit every table of every sandbox; name yours ({command} my_table)",
            index,
        )
    elif isinstance(node, ast.DoStmt):
        language = _option(node.args, "language") or "plpgsql"
        _check_language(language, "DO blocks", index, languages)
    elif isinstance(node, ast.CreateFunctionStmt):
        language = _option(node.options, "language") or "sql"
        what = "Procedures" if node.is_procedure else "Functions"
        _check_language(language, f"{what} in {language}", index, languages)
        _check_function_settings(node.options, index, cap)
    elif isinstance(node, ast.AlterFunctionStmt):
        _check_function_settings(node.actions, index, cap)
    elif isinstance(node, ast.ExplainStmt):
        _check(node.query, index, languages, cap)


def _check_function_settings(options: tuple | None, index: int, cap: tuple[int, str]) -> None:
    """A function's own SET clauses (``CREATE FUNCTION … SET work_mem = '1GB'``) change the
    setting for every call: they obey the same rules as SET, so they cannot lift a limit."""
    for option in options or ():
        if isinstance(option, ast.DefElem) and option.defname == "set":
            setting = option.arg
            if (setting.name or "").lower() not in _FUNCTION_SETTABLE:
                _check_setting(setting, index, cap)


def _check_setting(node: ast.VariableSetStmt, index: int, cap: tuple[int, str]) -> None:
    name = (node.name or "").lower()
    if node.kind == enums.VariableSetKind.VAR_RESET_ALL:
        return
    if name == "work_mem":
        _check_work_mem(node, index, cap)
        return
    if name in _SETTABLE or name.startswith(_SETTABLE_PREFIXES):
        return
    if name in ("transaction", "session characteristics"):
        return  # SET TRANSACTION ISOLATION LEVEL …, READ ONLY …
    raise _refuse(
        f"SET {name or '…'}",
        "the sandbox's limits are settings, so only planner and display settings "
        "(enable_*, *_cost, TimeZone, DateStyle, …) and work_mem can change, and only for one run",
        index,
    )


def _check_work_mem(node: ast.VariableSetStmt, index: int, cap: tuple[int, str]) -> None:
    """``SET [LOCAL] work_mem`` to a literal from 64kB up to the cap; DEFAULT, RESET and FROM
    CURRENT go back to (or keep) a value already within it."""
    if node.kind != enums.VariableSetKind.VAR_SET_VALUE:
        return
    cap_kb, cap_text = cap
    bounds = f"work_mem can be from {WORK_MEM_MIN_KB}kB to {cap_text} in the sandbox"
    args = node.args or ()
    value = None
    if len(args) == 1 and isinstance(args[0], ast.A_Const) and not args[0].isnull:
        literal = args[0].val
        if isinstance(literal, ast.Integer):
            value = memory_kb(literal.ival)
        elif isinstance(literal, ast.Float):
            value = memory_kb(literal.fval)
        elif isinstance(literal, ast.String):
            value = memory_kb(literal.sval)
    if value is None:
        raise _refuse(
            "SET work_mem to that value",
            f"{bounds}, written as a number of kB (4096) or with a unit, in quotes: "
            f"'{WORK_MEM_MIN_KB}kB', '8MB', '{cap_text}'",
            index,
        )
    if value > cap_kb:
        raise _refuse(
            f"SET work_mem above {cap_text}",
            f"{bounds} (each sort or hash of a query may use that much, on a shared server); "
            f"ask for at most '{cap_text}'",
            index,
        )
    if value < WORK_MEM_MIN_KB:
        raise _refuse(
            f"SET work_mem below {WORK_MEM_MIN_KB}kB",
            f"{bounds}; {WORK_MEM_MIN_KB}kB is PostgreSQL's own minimum",
            index,
        )


def _check_persistence(relation: ast.RangeVar | None, index: int) -> None:
    if relation is not None and relation.relpersistence == "t":
        raise _refuse(
            "A temporary table",
            "temporary objects escape the sandbox's disk limit; create an ordinary table — "
            "it stays in your sandbox until you reset it",
            index,
        )


def _check_language(language: str, what: str, index: int, languages: frozenset[str]) -> None:
    if language.lower() not in languages:
        raise _refuse(
            what,
            f"this lesson does not use the {language} language",
            index,
        )


def _option(options: tuple | None, name: str) -> str | None:
    for option in options or ():
        if isinstance(option, ast.DefElem) and option.defname == name:
            value = option.arg
            return getattr(value, "sval", None) if value is not None else None
    return None


def _name_of(node: ast.Node) -> str:
    """A readable name for a statement: "CopyStmt" becomes "COPY", and so on."""
    names = {
        "CopyStmt": "COPY",
        "CreateExtensionStmt": "CREATE EXTENSION",
        "AlterExtensionStmt": "ALTER EXTENSION",
        "AlterExtensionContentsStmt": "ALTER EXTENSION",
        "ListenStmt": "LISTEN",
        "NotifyStmt": "NOTIFY",
        "UnlistenStmt": "UNLISTEN",
        "CreateRoleStmt": "CREATE ROLE",
        "AlterRoleStmt": "ALTER ROLE",
        "AlterRoleSetStmt": "ALTER ROLE … SET",
        "DropRoleStmt": "DROP ROLE",
        "GrantStmt": "GRANT/REVOKE",
        "GrantRoleStmt": "GRANT/REVOKE role",
        "AlterDefaultPrivilegesStmt": "ALTER DEFAULT PRIVILEGES",
        "AlterOwnerStmt": "ALTER … OWNER TO",
        "ReassignOwnedStmt": "REASSIGN OWNED",
        "DropOwnedStmt": "DROP OWNED",
        "CreateSchemaStmt": "CREATE SCHEMA",
        "CreatedbStmt": "CREATE DATABASE",
        "DropdbStmt": "DROP DATABASE",
        "AlterDatabaseStmt": "ALTER DATABASE",
        "AlterDatabaseSetStmt": "ALTER DATABASE",
        "AlterSystemStmt": "ALTER SYSTEM",
        "LoadStmt": "LOAD",
        "CheckPointStmt": "CHECKPOINT",
        "DiscardStmt": "DISCARD",
        "CreateTableSpaceStmt": "CREATE TABLESPACE",
        "DropTableSpaceStmt": "DROP TABLESPACE",
        "AlterTableSpaceOptionsStmt": "ALTER TABLESPACE",
        "CreateEventTrigStmt": "CREATE EVENT TRIGGER",
        "DefineStmt": "CREATE AGGREGATE/OPERATOR/TYPE",
        "CreateSubscriptionStmt": "CREATE SUBSCRIPTION",
        "CreatePublicationStmt": "CREATE PUBLICATION",
        "SecLabelStmt": "SECURITY LABEL",
    }
    kind = type(node).__name__
    if kind in names:
        return names[kind]
    # "AlterCollationStmt" -> "ALTER COLLATION"
    words, word = [], ""
    for char in kind.removesuffix("Stmt"):
        if char.isupper() and word:
            words.append(word)
            word = ""
        word += char
    words.append(word)
    return " ".join(words).upper()
