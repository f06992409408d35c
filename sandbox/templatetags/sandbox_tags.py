from __future__ import annotations

import re

from django import template

register = template.Library()


@register.simple_tag
def sandbox_problem() -> str | None:
    """Why the sandbox server cannot be used right now, as this process last found it, or
    None. Never asks the server: a page does not wait on it."""
    from sandbox import servers

    return servers.known_status()


@register.filter
def marked(sql: str, position: int | None) -> dict | None:
    """The line of ``sql`` holding a 1-based error position, split around it, for marking."""
    if not isinstance(position, int) or position < 1 or position > len(sql) + 1:
        return None
    index = position - 1
    start = sql.rfind("\n", 0, index) + 1
    end = sql.find("\n", index)
    end = len(sql) if end == -1 else end
    return {
        "line": sql.count("\n", 0, index) + 1,
        "before": sql[start:index],
        "at": sql[index : index + 1] if index < end else " ",
        "after": sql[index + 1 : end],
    }


@register.filter
def node_explanation(node_type: str) -> str:
    """What a plan node of this type does, in one line (sandbox/plan_glossary.py)."""
    from sandbox.plan_glossary import explain_node

    return explain_node(node_type)


@register.filter
def shared_results(results: list[dict]) -> str:
    """The results as the page shows them, as JSON for the Share form's hidden field, already
    cut to the size a snapshot may have (so a large result does not double the page)."""
    import json

    from sandbox import shares

    try:
        return json.dumps(shares.result_snapshot(results)["results"])
    except shares.ShareRefused:
        return "[]"


_MODEL_CLASS = re.compile(r"^class (\w+)\(models\.Model\):", re.MULTILINE)


@register.filter
def lab_placeholder(lesson) -> str:
    """The lab editor's grey hint: a first query on the lesson's own first model."""
    found = _MODEL_CLASS.search(getattr(lesson, "lab_models_source", "") or "")
    return f"{found.group(1)}.objects.all()[:5]" if found else "Model.objects.all()[:5]"
