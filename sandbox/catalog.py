"""The learner's own tables and columns, for the editor's completion (``POST /api/sandbox/schema``).

Read from the sandbox's catalog over the learner's own connection (logged in as the sandbox's
role, with the run limits as startup options), scoped to the sandbox's schema: nothing of
another learner, of the lesson's fixture in another schema, or of PostgreSQL's own catalogs.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from sandbox.connections import checkin, checkout
from sandbox.servers import Limits, SandboxUnavailable, checked_name

# Tables, views, materialized views, foreign and partitioned tables of one schema, each with its
# columns in their order, one row a column (the learner's connection reads arrays as text); at
# most MAX_TABLES tables and MAX_COLUMNS columns a table.
MAX_TABLES = 200
MAX_COLUMNS = 100
_COLUMNS = """
SELECT c.relname::pg_catalog.text, a.attname::pg_catalog.text
  FROM (SELECT oid, relname FROM pg_catalog.pg_class
         WHERE relnamespace OPERATOR(pg_catalog.=) %s::pg_catalog.regnamespace
           AND relkind IN ('r', 'v', 'm', 'f', 'p')
         ORDER BY relname LIMIT %s) c
  LEFT JOIN pg_catalog.pg_attribute a
    ON a.attrelid OPERATOR(pg_catalog.=) c.oid
   AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
   AND a.attnum OPERATOR(pg_catalog.<=) %s
 ORDER BY c.relname, a.attnum
"""


@dataclass
class Table:
    name: str
    columns: list[str]

    def as_json(self) -> dict:
        return {"name": self.name, "columns": self.columns}


def tables(server: int, name: str, limits: Limits | None = None) -> list[Table]:
    """The tables of sandbox ``name``'s own schema with their columns, read as its own role.
    Raises SandboxUnavailable if the catalog cannot be read."""
    learner = checkout(server, checked_name(name), limits or Limits.from_settings())
    try:
        rows = learner.conn.execute(_COLUMNS, [name, MAX_TABLES, MAX_COLUMNS]).fetchall()
    except psycopg.Error as exc:
        raise SandboxUnavailable(f"your tables could not be read ({exc.sqlstate})") from exc
    finally:
        checkin(learner)
    found: dict[str, Table] = {}
    for table, column in rows:
        entry = found.setdefault(table, Table(table, []))
        if column is not None:
            entry.columns.append(column)
    return list(found.values())
