"""What each plan node does, in one line: shown on hover or focus in the plan view."""

from __future__ import annotations

NODE_EXPLANATIONS = {
    "Seq Scan": "Reads every row of the table and keeps those that pass the filter.",
    "Index Scan": "Walks an index to find matching rows, then fetches each row from the table.",
    "Index Only Scan": "Answers from the index alone (the table only for pages not all-visible).",
    "Bitmap Index Scan": "Collects the locations of matching rows from an index into a bitmap.",
    "Bitmap Heap Scan": "Reads the table pages a bitmap points to, rechecking the condition.",
    "BitmapAnd": "Keeps only the row locations found by all of its bitmap index scans.",
    "BitmapOr": "Combines the row locations found by any of its bitmap index scans.",
    "Tid Scan": "Fetches rows by their physical location (ctid).",
    "Tid Range Scan": "Reads a range of physical row locations (ctid).",
    "Sample Scan": "Reads a random sample of the table (TABLESAMPLE).",
    "CTE Scan": "Reads the rows of a WITH query, computed once and stored.",
    "Function Scan": "Reads the rows a set-returning function produces.",
    "Values Scan": "Reads the rows of a VALUES list.",
    "Subquery Scan": "Reads the rows of a subquery in FROM.",
    "WorkTable Scan": "Reads the rows of the previous step of a recursive WITH query.",
    "Nested Loop": "For each row of its outer (first) input, runs its inner (second) input once.",
    "Hash Join": "Builds a hash table from its inner input, then probes it with each outer row.",
    "Merge Join": "Joins two inputs already sorted on the join key by walking them side by side.",
    "Hash": "Builds the in-memory hash table a Hash Join probes.",
    "Sort": "Sorts its input, in memory if it fits in work_mem, else on disk.",
    "Incremental Sort": "Sorts input already sorted on a prefix of the keys, one group at a time.",
    "Aggregate": "Computes aggregates (count, sum…), over all rows or per group.",
    "GroupAggregate": "Aggregates input sorted by the group key, one group at a time.",
    "HashAggregate": "Aggregates into a hash table with one entry per group.",
    "Group": "Returns one row per group of input sorted by the group key.",
    "Unique": "Removes duplicates from sorted input (DISTINCT).",
    "Limit": "Stops after the first rows it needs; the nodes below may not run to the end.",
    "Materialize": "Stores its input's rows so they can be read again without recomputing them.",
    "Memoize": "Caches the inner side's results per parameter value, so repeats are not rerun.",
    "Gather": "Collects rows from parallel worker processes.",
    "Gather Merge": "Collects sorted rows from parallel workers, keeping them sorted.",
    "Append": "Returns the rows of each of its inputs in turn (UNION ALL, partitions).",
    "Merge Append": "Merges sorted inputs into one sorted output.",
    "Result": "Computes a row without reading a table, or applies a constant condition.",
    "ProjectSet": "Runs set-returning functions in the select list.",
    "WindowAgg": "Computes window functions over partitions of sorted input.",
    "SetOp": "Computes INTERSECT or EXCEPT.",
    "Recursive Union": "Runs a recursive WITH query until it adds no rows.",
    "LockRows": "Locks the rows it returns (SELECT … FOR UPDATE / FOR SHARE).",
    "ModifyTable": "Inserts, updates or deletes the rows its input produces.",
    "Custom Scan": "A scan provided by an extension.",
    "Foreign Scan": "Reads rows from a foreign table.",
}


def explain_node(node_type: str) -> str:
    """A one-line explanation of what a plan node of this type does."""
    return NODE_EXPLANATIONS.get(node_type, "A step of the plan; see the PostgreSQL documentation.")
