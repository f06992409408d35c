"""axe-core in a real Chromium: run it on the open page and return the serious violations.

axe-core 4.14.1 (MPL-2.0) is vendored under tests/vendor/ from the npm registry, so the tests
need no network and no npm.
"""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1.min.js"
BLOCKING = {"serious", "critical"}


def serious_violations(page, selector: str | None = None) -> list[str]:
    """Serious and critical axe violations on the page (or in the element ``selector`` names),
    as readable one-line descriptions."""
    # Evaluated through the DevTools protocol: the page's Content-Security-Policy refuses the
    # inline <script> that add_script_tag would insert.
    page.evaluate(AXE.read_text())
    result = page.evaluate(
        "async (selector) => await axe.run(selector ? document.querySelector(selector) : document,"
        " {resultTypes: ['violations']})",
        selector,
    )
    found = []
    for violation in result["violations"]:
        if violation["impact"] in BLOCKING:
            targets = ", ".join(str(node["target"]) for node in violation["nodes"][:3])
            found.append(
                f"{violation['id']} ({violation['impact']}): {violation['help']} — {targets}"
            )
    return found
