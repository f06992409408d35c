from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

BROKEN = Path(__file__).parent / "broken" / "broken"


def run_check(*paths: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("content", "check", *paths, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_passes_on_the_content_folder():
    out, err = run_check()
    assert "OK: " in out
    # Slow-fixture warnings depend on the machine's load; errors would fail the command.
    assert [line for line in err.splitlines() if ": warning: " not in line] == []


@pytest.mark.parametrize(
    ("name", "line", "message"),
    [
        ("01-unknown-key.md", 9, "unknown front-matter key 'reviewd'"),
        ("02-missing-key.md", 1, "missing front-matter key 'level'"),
        ("03-no-correct-choice.md", 15, "quiz question 'nothing-right' has no correct choice"),
        ("04-empty-block.md", 13, "empty selfcheck block"),
        ("05-unknown-block.md", 13, "unknown block type 'quizz'"),
        ("06-missing-fixture.md", 6, "fixture file fixtures/nowhere.sql does not exist"),
        ("07-broken-link.md", 13, "broken link to '42-missing.md': no such lesson file"),
        ("08-duplicate-step-b.md", 3, "duplicate step 8"),
        ("10-duplicate-slug.md", 1, "duplicate slug 'duplicate-slug'"),
    ],
)
def test_it_fails_on_each_broken_lesson_with_file_and_line(name, line, message):
    path = BROKEN / name
    err = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("content", "check", str(path), stdout=StringIO(), stderr=err)
    assert raised.value.returncode == 1
    [reported] = err.getvalue().splitlines()
    assert f"lessons/tests/broken/broken/{name}:{line}: {message}" in reported


def test_it_reports_every_broken_lesson_of_a_folder():
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("content", "check", str(BROKEN.parent), stdout=StringIO(), stderr=err)
    reported = {line.split(":")[0].rsplit("/", 1)[1] for line in err.getvalue().splitlines()}
    expected = {p.name for p in BROKEN.glob("*.md")} - {
        "08-duplicate-step-a.md",
        "09-duplicate-slug.md",
    }
    assert reported == expected


def test_it_says_when_a_path_does_not_exist():
    with pytest.raises(CommandError, match="no such file or folder"):
        run_check("content/nowhere")
