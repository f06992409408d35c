"""The staff pages "Where learners struggle" (lessons/analytics_views.py): who may see them,
what they count, their CSV exports, and their fixed number of queries."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lessons.models import Exercise, Lesson
from tests.analytics_seed import (
    COUNT_FEEDBACK,
    WHERE_FEEDBACK,
    WHERE_MISTAKES,
    exercise_attempt,
    learners,
    small_lesson,
    struggle,
)

pytestmark = pytest.mark.django_db

LESSON_URL = "/staff/analytics/pg/joins/"
URLS = [
    "/staff/analytics/",
    "/staff/analytics/pg/",
    "/staff/analytics/pg/analytics.csv",
    LESSON_URL,
    LESSON_URL + "analytics.csv",
]


@pytest.fixture
def lesson() -> Lesson:
    return small_lesson()


@pytest.fixture
def seeded(lesson) -> Lesson:
    struggle(lesson, learners(6))
    return lesson


def read_csv(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.mark.parametrize("url", URLS)
def test_it_sends_visitors_to_log_in(client, lesson, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


@pytest.mark.parametrize("url", URLS)
def test_it_refuses_learners_who_are_not_staff(client, lesson, learner, url):
    client.force_login(learner)
    assert client.get(url).status_code == 403


def test_it_answers_404_for_an_unknown_lesson(client, lesson, staff):
    client.force_login(staff)
    assert client.get("/staff/analytics/pg/no-such-lesson/").status_code == 404


def test_it_shows_first_tries_and_the_spread_of_wrong_answers(client, seeded, staff):
    client.force_login(staff)
    page = client.get(LESSON_URL).content.decode()
    assert "<strong>33%</strong> right at the first try" in page
    assert "(2 of 6)" in page
    assert "Where the 4 learners who answered wrong went" in page
    # "Kept with NULLs" caught all four, "An error" one of them.
    kept = page.index("Kept with NULLs")
    assert '<td class="num">4</td>' in page[kept : kept + 300]
    assert "100%" in page[kept : kept + 700]
    error = page.index("An error")
    assert '<td class="num">1</td>' in page[error : error + 300]
    assert "25%" in page[error : error + 700]


def test_it_counts_who_opened_finished_and_how_sure_they_are(client, seeded, staff):
    client.force_login(staff)
    page = client.get(LESSON_URL).content.decode()
    assert '<dt>Opened</dt><dd><span class="stat-number">6</span>' in page
    assert "50% of those who opened it" in page
    sure = '<span class="stat-number">50%</span> <span class="muted">“Mostly” or “Yes, easily”'
    assert sure + ", of 6" in page
    notes = page.index("Only with my notes</th>")
    assert '<td class="num">2</td>' in page[notes : notes + 100]


def test_it_groups_failing_answers_of_one_shape_with_other_constants(client, seeded, staff):
    client.force_login(staff)
    page = client.get(LESSON_URL).content.decode()
    assert '<span class="stat-number">10</span> <span class="muted">by 6 learners' in page
    assert "1 of 6" in page  # passed at the first check
    assert "1 of 4 who passed · 2 saw it in all" in page
    table = page[page.index("Most common failing answers") :]
    rows = table.split("<tr>")[2:]  # after the header row
    assert len(rows) == 2, "three dates in WHERE are one mistake, count(*) another"
    assert "<strong>3</strong>" in rows[0] and '<td class="num">4</td>' in rows[0]
    assert WHERE_FEEDBACK[0] in rows[0]
    assert "<strong>2</strong>" in rows[1] and COUNT_FEEDBACK[0] in rows[1]
    # The shape's most common text stands for it: learner 2 sent it twice.
    assert "date &#x27;2026-03-01&#x27;" in rows[0]
    assert "2026-03-02" not in rows[0] and "2026-02-28" not in rows[0]


def test_it_names_no_learner(client, seeded, staff):
    client.force_login(staff)
    for url in (LESSON_URL, LESSON_URL + "analytics.csv", "/staff/analytics/pg/"):
        assert "learner-" not in client.get(url).content.decode()


def test_the_lesson_csv_has_the_same_numbers(client, seeded, staff):
    client.force_login(staff)
    response = client.get(LESSON_URL + "analytics.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="pg-joins-analytics.csv"'
    rows = read_csv(response)
    assert {row["lesson"] for row in rows} == {"pg/joins"}
    numbers = {
        (row["part"], row["item"], row["measure"]): row["value"]
        for row in rows
        if row["part"] != "failing_answer"
    }
    assert numbers[("lesson", "", "opened")] == "6"
    assert numbers[("lesson", "", "finished")] == "3"
    assert numbers[("confidence", "Only with my notes", "learners")] == "2"
    assert numbers[("quiz", "on-vs-where", "answered")] == "6"
    assert numbers[("quiz", "on-vs-where", "right_first_try")] == "2"
    assert numbers[("quiz", "on-vs-where/b", "picked_in_wrong_answer")] == "4"
    assert numbers[("quiz", "on-vs-where/c", "picked_in_wrong_answer")] == "1"
    assert numbers[("quiz", "on-vs-where/a", "picked_in_wrong_answer")] == "0"
    assert numbers[("self_check", "explain", "got_it")] == "1"
    assert numbers[("exercise", "march", "attempts")] == "10"
    assert numbers[("exercise", "march", "passed_first_try")] == "1"
    assert numbers[("exercise", "march", "passed")] == "4"
    assert numbers[("exercise", "march", "saw_solution_before_passing")] == "1"
    failing = [row for row in rows if row["part"] == "failing_answer"]
    assert [(row["measure"], row["value"]) for row in failing] == [
        ("attempts", "4"),
        ("learners", "3"),
        ("attempts", "2"),
        ("learners", "2"),
    ]
    assert failing[0]["answer"] == WHERE_MISTAKES[0]
    assert failing[0]["feedback"] == WHERE_FEEDBACK[0]


def test_the_csv_keeps_a_spreadsheet_from_running_an_answer(client, lesson, staff):
    exercise = Exercise.objects.get(lesson=lesson)
    (person,) = learners(1)
    exercise_attempt(person, exercise, 1, sql='=HYPERLINK("http://evil.example")', feedback=[])
    client.force_login(staff)
    (failing, _) = [
        row
        for row in read_csv(client.get(LESSON_URL + "analytics.csv"))
        if row["part"] == "failing_answer"
    ]
    assert failing["answer"] == '\'=HYPERLINK("http://evil.example")'


def test_the_track_summary_and_its_csv_cover_every_lesson(client, seeded, staff):
    other = Lesson.objects.create(
        track=seeded.track, slug="empty", step=2, title="Nobody came", mode="reading"
    )
    client.force_login(staff)
    page = client.get("/staff/analytics/pg/").content.decode()
    assert f'href="/staff/analytics/pg/{seeded.slug}/">Joins</a>' in page
    assert f'href="/staff/analytics/pg/{other.slug}/">Nobody came</a>' in page
    joins_row = page[page.index(">Joins</a>") :].split("</tr>")[0]
    cells = [cell.split(">", 1)[1].split("<", 1)[0] for cell in joins_row.split("<td")[1:]]
    assert cells == ["6", "3", "50%", "33%", "10", "17%", "25%"]
    rows = read_csv(client.get("/staff/analytics/pg/analytics.csv"))
    assert {row["lesson"] for row in rows} == {"pg/joins", "pg/empty"}
    assert ("pg/empty", "opened", "0") in {(r["lesson"], r["measure"], r["value"]) for r in rows}
    assert sum(row["part"] == "failing_answer" for row in rows) == 4


def test_its_number_of_queries_does_not_grow_with_learners(client, lesson, staff):
    client.force_login(staff)

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    struggle(lesson, learners(6, "first"))
    few = [queries(url) for url in URLS]
    struggle(lesson, learners(6, "second"))
    struggle(lesson, learners(6, "third"))
    assert [queries(url) for url in URLS] == few
    assert max(few) <= 20  # 14 for a lesson's page on 2026-12-06, its session and user included


def test_staff_find_it_from_the_lesson_page_and_the_admin(client, seeded, learner, staff):
    seeded.body_html = "<p>Body</p>"
    seeded.save()
    client.force_login(learner)
    assert "Where learners struggle" not in client.get("/learn/pg/joins/").content.decode()
    client.force_login(staff)
    assert (
        f'href="{LESSON_URL}">Where learners struggle'
        in client.get("/learn/pg/joins/").content.decode()
    )
    staff.is_superuser = True
    staff.save()
    assert (
        'href="/staff/analytics/">Where learners struggle' in client.get("/admin/").content.decode()
    )


def test_lab_answers_are_grouped_by_their_code_not_their_layout(client, staff):
    lesson = small_lesson(mode=Lesson.Mode.DJANGO_LAB, slug="orm")
    exercise = Exercise.objects.get(lesson=lesson)
    people = learners(3)
    answers = [
        "for b in Book.objects.all():\n    print(b.author.name)",
        "# loop\nfor b in Book.objects.all():  # every book\n\n    print( b.author.name )",
        "Book.objects.count()",
    ]
    for person, code in zip(people, answers, strict=True):
        exercise_attempt(person, exercise, 1, sql=code, feedback=["Too many queries: 21."])
    client.force_login(staff)
    page = client.get("/staff/analytics/pg/orm/").content.decode()
    table = page[page.index("Most common failing answers") :]
    rows = table.split("<tr>")[2:]
    assert len(rows) == 2
    assert "<strong>2</strong>" in rows[0] and "for b in Book.objects.all()" in rows[0]


def test_it_shows_answers_and_feedback_as_text(client, lesson, staff):
    exercise = Exercise.objects.get(lesson=lesson)
    (person,) = learners(1)
    exercise_attempt(
        person, exercise, 1, sql="SELECT '<script>alert(1)</script>'", feedback=["<b>bold</b>"]
    )
    client.force_login(staff)
    page = client.get(LESSON_URL).content.decode()
    assert "<script>alert(1)" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
