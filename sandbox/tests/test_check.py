"""POST /api/sandbox/check and /api/sandbox/solution: graded exercises."""

from __future__ import annotations

import pytest

from lessons.models import Exercise, Lesson
from sandbox.models import ExerciseAttempt


@pytest.fixture
def grading_lesson(track):
    return Lesson.objects.create(
        track=track,
        slug="grading",
        step=5,
        title="Grading",
        mode=Lesson.Mode.SQL_SANDBOX,
        fixture="grading.sql",
        sandbox_languages=["plpgsql"],
    )


@pytest.fixture
def big_spenders(grading_lesson):
    return Exercise.objects.create(
        lesson=grading_lesson,
        key="big-spenders",
        prompt_html="<p>Names of customers with an order over 6.</p>",
        solution_sql=(
            "SELECT DISTINCT c.name FROM customers c JOIN orders o ON o.customer_id = c.id "
            "WHERE o.amount > 6;"
        ),
        variants=[
            {"id": "second-order", "setup": "INSERT INTO orders VALUES (4, 1, 20, now());"},
            {
                "id": "new-customer",
                "setup": "INSERT INTO customers VALUES (4, 'Di', 'FR');"
                "INSERT INTO orders VALUES (5, 4, 9.99, now());",
            },
        ],
    )


@pytest.fixture
def order_counts(grading_lesson):
    return Exercise.objects.create(
        lesson=grading_lesson,
        key="order-counts",
        prompt_html="<p>Every customer's name and number of orders, most first.</p>",
        solution_sql=(
            "SELECT c.name, count(o.id) AS orders FROM customers c "
            "LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id, c.name "
            "ORDER BY orders DESC, c.name;"
        ),
        order_matters=True,
        variants=[{"id": "no-orders", "setup": "INSERT INTO customers VALUES (9, 'Zed', NULL);"}],
    )


def check(client, exercise: Exercise, sql: str, **extra) -> dict:
    response = client.post(
        "/api/sandbox/check",
        {"lesson": exercise.lesson.ref, "exercise": exercise.key, "sql": sql},
        content_type="application/json",
        **extra,
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_it_passes_the_reference_solution_and_a_differently_written_correct_query(
    client, big_spenders
):
    assert check(client, big_spenders, big_spenders.solution_sql)["passed"] is True
    other = (
        "SELECT name FROM customers c WHERE EXISTS "
        "(SELECT 1 FROM orders WHERE customer_id = c.id AND amount > 6.0)"
    )
    body = check(client, big_spenders, other)
    assert body["passed"] is True and body["problems"] == []
    assert "DISTINCT" in body["solution"]  # shown once passed


def test_it_fails_a_missing_distinct_on_hidden_data_with_the_reason(client, big_spenders):
    body = check(
        client,
        big_spenders,
        "SELECT c.name FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.amount > 6",
    )
    assert body["passed"] is False
    assert body["problems"][0] == (
        "On hidden data set 1 of 2: your query returns 3 rows; 2 are expected."
    )
    assert "1 row should not be there" in body["problems"][1]
    assert body["rows"][0]["rows"] == [["extra", ["Ada"]]]
    assert "solution" not in body


def test_it_fails_a_hard_coded_id_on_hidden_data(client, big_spenders):
    body = check(client, big_spenders, "SELECT name FROM customers WHERE id IN (1, 3)")
    assert body["passed"] is False
    assert body["problems"] == [
        "On hidden data set 2 of 2: your query returns 2 rows; 3 are expected.",
        "On hidden data set 2 of 2: 1 expected row is missing.",
    ]
    assert body["rows"][0]["rows"] == [["missing", ["Di"]]]


def test_it_fails_an_inner_join_where_a_left_join_is_needed(client, order_counts):
    inner = (
        "SELECT c.name, count(*) FROM customers c JOIN orders o ON o.customer_id = c.id "
        "GROUP BY c.name ORDER BY 2 DESC, 1"
    )
    body = check(client, order_counts, inner)
    assert body["passed"] is False
    assert body["problems"][0].startswith("On hidden data set 1 of 1: your query returns 3 rows")
    assert body["rows"][0]["rows"] == [["missing", ["Zed", 0]]]
    left = (
        "SELECT name, (SELECT count(*) FROM orders WHERE customer_id = c.id)::numeric(5,2) "
        "FROM customers c ORDER BY 2 DESC, name"
    )
    assert check(client, order_counts, left)["passed"] is True  # 1 equals 1.00


def test_it_says_when_only_the_order_is_wrong(client, order_counts):
    body = check(
        client,
        order_counts,
        "SELECT c.name, count(o.id) FROM customers c LEFT JOIN orders o ON o.customer_id = c.id "
        "GROUP BY c.name ORDER BY c.name DESC",
    )
    assert body["passed"] is False
    assert "the right rows, in the wrong order" in body["problems"][0]


def test_it_says_when_the_columns_differ(client, big_spenders):
    body = check(client, big_spenders, "SELECT name, id FROM customers")
    assert body["problems"] == [
        "On the lesson's data: your query returns 2 columns (name, id); 1 is expected."
    ]


def test_it_runs_a_function_then_a_query_in_a_scratch_copy(client, grading_lesson, learner):
    exercise = Exercise.objects.create(
        lesson=grading_lesson,
        key="spend",
        prompt_html="<p>Write spend(id) and use it.</p>",
        solution_sql="SELECT c.name, sum(o.amount) FROM customers c JOIN orders o "
        "ON o.customer_id = c.id GROUP BY c.name",
    )
    answer = (
        "CREATE FUNCTION spend(who integer) RETURNS numeric LANGUAGE plpgsql AS $$\n"
        "BEGIN RETURN (SELECT sum(amount) FROM orders WHERE customer_id = who); END $$;\n"
        "SELECT name, spend(id) FROM customers"
    )
    client.force_login(learner)
    assert check(client, exercise, answer)["passed"] is True
    # The function was made in a rolled-back scratch copy: it is nowhere now, so again works.
    assert check(client, exercise, answer)["passed"] is True


def test_it_records_attempts(client, learner, big_spenders):
    client.force_login(learner)
    check(client, big_spenders, "SELECT 1")
    check(client, big_spenders, big_spenders.solution_sql)
    attempts = ExerciseAttempt.objects.filter(exercise=big_spenders).order_by("pk")
    assert [attempt.passed for attempt in attempts] == [False, True]
    assert ExerciseAttempt.passed_by(learner.learner.pk, big_spenders)


def test_it_shows_the_solution_to_a_learner_who_gives_up_and_records_it(
    client, learner, big_spenders
):
    client.force_login(learner)
    response = client.post(
        "/api/sandbox/solution",
        {"lesson": big_spenders.lesson.ref, "exercise": big_spenders.key, "give_up": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "DISTINCT" in response.content.decode()
    assert ExerciseAttempt.solution_seen(learner.learner.pk, big_spenders)


def test_it_refuses_transaction_control_in_an_answer(client, big_spenders):
    body = check(client, big_spenders, "COMMIT; SELECT 1")
    assert body["ok"] is False and "COMMIT" in body["error"]


def test_it_checks_the_learners_plan(client, shop_lesson):
    exercise = Exercise.objects.create(
        lesson=shop_lesson,
        key="one-item",
        prompt_html="<p>Item 5's name, by its key.</p>",
        solution_sql="SELECT name FROM items WHERE id = 5",
        plan_checks=[{"check": "no_seq_scan", "value": "items"}],
    )
    assert check(client, exercise, "SELECT name FROM items WHERE id = 5")["passed"] is True
    body = check(client, exercise, "SELECT name FROM items WHERE id + 0 = 5")
    assert body["passed"] is False and body["problems"] == []
    assert body["plan_problems"] == ["The plan reads all of items with a Seq Scan; it must not."]


def test_it_renders_the_verdict_for_htmx(client, big_spenders):
    response = client.post(
        "/api/sandbox/check",
        {"lesson": big_spenders.lesson.ref, "exercise": big_spenders.key, "sql": "SELECT 'x<b>'"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert "Not yet." in html and "x&lt;b&gt;" in html


def test_it_drops_a_grader_whose_fixture_changed(client, big_spenders, settings, tmp_path):
    from sandbox.models import Sandbox

    check(client, big_spenders, big_spenders.solution_sql)
    grader = Sandbox.objects.get(state=Sandbox.State.GRADER)
    assert not Sandbox.objects.stale_graders().exists()
    changed = tmp_path / "grading.sql"
    changed.write_text("CREATE TABLE customers (id int);\n")
    settings.SANDBOX_FIXTURES_DIR = tmp_path
    assert list(Sandbox.objects.stale_graders()) == [grader]
    Sandbox.objects.sweep()
    assert not Sandbox.objects.filter(pk=grader.pk).exists()


def test_passing_every_exercise_completes_the_lesson(client, learner, big_spenders, order_counts):
    from lessons.models import LessonProgress

    client.force_login(learner)
    assert check(client, big_spenders, big_spenders.solution_sql)["passed"] is True
    progress = LessonProgress.objects.get(learner__user=learner, lesson=big_spenders.lesson)
    assert progress.status == LessonProgress.Status.STARTED  # one of two exercises passed
    assert check(client, order_counts, order_counts.solution_sql)["passed"] is True
    progress.refresh_from_db()
    assert progress.status == LessonProgress.Status.COMPLETED


def test_a_wrong_answer_does_not_complete_the_lesson(client, learner, big_spenders):
    from lessons.models import LessonProgress

    client.force_login(learner)
    assert check(client, big_spenders, "SELECT 'nobody' AS name")["passed"] is False
    assert not LessonProgress.objects.filter(lesson=big_spenders.lesson).exists()
