"""The complete example of content/README.md works when copied: its files, taken from the guide's
fenced blocks, pass `content check` and publish with `content sync`; a learner then meets its
hidden plan check; its fixture gives the same rows in every sandbox (setseed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from lessons.models import Exercise, Lesson
from sandbox import roles, runner, servers, statements

pytestmark = pytest.mark.django_db

GUIDE = Path(settings.BASE_DIR) / "content" / "README.md"

# "`content/<path>`:", a blank line, then a fenced block (``` or ````) holding the file.
FILE_BLOCK = re.compile(
    r"^`content/(?P<path>[^`]+)`:\n\n(?P<fence>`{3,})[a-z]*\n(?P<text>.*?\n)(?P=fence)$",
    re.MULTILINE | re.DOTALL,
)


def example_files() -> dict[str, str]:
    guide = GUIDE.read_text(encoding="utf-8")
    section = guide.split("\n## A complete example lesson\n", 1)[1]
    return {match["path"]: match["text"] for match in FILE_BLOCK.finditer(section)}


@pytest.fixture
def copied(tmp_path, settings):
    files = example_files()
    assert sorted(files) == [
        "example/01-vacuum.md",
        "example/track.yml",
        "fixtures/vacuum_demo.sql",
    ]
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    settings.CONTENT_DIR = tmp_path
    settings.SANDBOX_FIXTURES_DIR = tmp_path / "fixtures"
    settings.SANDBOX_MAX_ROWS = 1000
    return tmp_path


def test_the_example_checks_and_publishes(copied, capsys):
    call_command("content", "check", str(copied))
    assert "OK: 1 lesson(s) in 1 track(s)" in capsys.readouterr().out
    call_command("content", "sync")
    assert "published example/01-vacuum.md" in capsys.readouterr().out
    lesson = Lesson.objects.published().get(track__slug="example", slug="vacuum")
    assert lesson.fixture == "vacuum_demo.sql"
    keys = set(Exercise.objects.filter(lesson=lesson).values_list("key", flat=True))
    assert keys == {"dead-share", "one-customers-orders"}


def test_a_hidden_plan_check_is_shown_only_once_the_answer_passes(copied, client, capsys):
    call_command("content", "sync")
    page = client.get("/learn/example/vacuum/").content.decode()
    assert "it uses a particular index" in page
    assert "orders_customer_id_idx" not in page

    def check(sql: str) -> str:
        response = client.post(
            "/api/sandbox/check",
            {"lesson": "example/vacuum", "exercise": "one-customers-orders", "sql": sql},
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 200
        return response.content.decode()

    # Right rows, but `customer_id + 0` hides the column from the index: every row is read.
    failed = check("SELECT id, amount FROM orders WHERE customer_id + 0 = 42 ORDER BY id")
    assert "Not yet." in failed
    assert "The plan does not pass a hidden check: it must use a particular index." in failed
    assert (
        "The plan reads 5000 rows of the lesson&#x27;s tables; at most 100 are allowed." in failed
    )
    assert "orders_customer_id_idx" not in failed
    passed = check("SELECT id, amount FROM orders WHERE customer_id = 42 ORDER BY id")
    assert "Correct." in passed
    assert "it uses the index <code>orders_customer_id_idx</code>" in passed


def test_the_fixture_gives_every_sandbox_the_same_rows(copied):
    fixture = (copied / "fixtures" / "vacuum_demo.sql").read_text()
    digests = []
    for _ in range(2):
        name = servers.new_sandbox_name()
        roles.provision(0, name, fixture)
        outcome = runner.run(
            0,
            name,
            statements.split("SELECT md5(string_agg(o::text, ',' ORDER BY id)) FROM orders o"),
        )
        assert outcome.error is None, outcome.error
        digests.append(outcome.results[0].rows[0][0])
    assert digests[0] == digests[1]
