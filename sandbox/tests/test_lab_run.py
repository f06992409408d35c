# ruff: noqa: F811 (pytest fixtures imported from lab_support are arguments here)
"""POST /api/lab/run: learner Python against the lesson's models, every statement shown."""

from __future__ import annotations

from lessons.models import Lesson
from sandbox.tests.lab_support import (  # noqa: F401
    lab_client,
    lab_lesson,
    lab_run,
    lab_settings,
    lab_track,
    lab_worker,
)

N_PLUS_ONE = """
for b in Book.objects.all()[:20]:
    print(b.author.name)
"""


def test_it_runs_a_query_and_shows_the_sql(lab_client, lab_lesson):
    answer = lab_run(
        lab_client, lab_lesson, "Book.objects.filter(published_year__gte=2020).count()"
    )
    assert answer["ok"], answer["error"]
    assert answer["error"] is None
    assert answer["result"]["columns"] == ["value"]
    assert len(answer["queries"]) == 1
    query = answer["queries"][0]
    assert 'FROM "lab_book"' in query["sql"] and "2020" in query["sql"]
    assert query["params"] == [2020]
    assert query["fingerprint"] and query["ms"] >= 0


def test_it_shows_an_n_plus_one_with_its_shape_and_the_fix(lab_client, lab_lesson):
    answer = lab_run(lab_client, lab_lesson, N_PLUS_ONE)
    assert answer["ok"], answer["error"]
    assert len(answer["queries"]) == 21
    assert len(answer["output"].splitlines()) == 20
    (repeated,) = answer["repeated"]
    assert repeated["count"] == 20
    assert repeated["fingerprint"] == answer["queries"][1]["fingerprint"]
    assert repeated["hint"] == (
        "The same query ran 20 times with different parameters: an N+1. "
        '`select_related("author")` would make it one.'
    )


def test_a_deferred_field_read_per_object_is_not_called_a_relation(lab_client, lab_lesson):
    for code in (
        'for b in Book.objects.only("id", "title").order_by("id")[:5]:\n    print(b.pages)',
        'for b in Book.objects.raw("SELECT id FROM lab_book ORDER BY id LIMIT 5"):\n'
        "    print(b.pages)",
    ):
        answer = lab_run(lab_client, lab_lesson, code)
        assert answer["ok"], answer["error"]
        (repeated,) = answer["repeated"]
        assert repeated["count"] == 5
        assert "select_related" not in repeated["hint"]
        assert "a field the first query left out" in repeated["hint"]


def test_select_related_makes_it_one_query(lab_client, lab_lesson):
    code = N_PLUS_ONE.replace("all()", 'select_related("author")')
    answer = lab_run(lab_client, lab_lesson, code)
    assert answer["ok"], answer["error"]
    assert len(answer["queries"]) == 1
    assert answer["repeated"] == []
    assert 'INNER JOIN "lab_author"' in answer["queries"][0]["sql"]


def test_a_reverse_relation_loop_suggests_prefetch_related(lab_client, lab_lesson):
    code = "for a in Author.objects.all()[:5]:\n    print(a.books.count())"
    answer = lab_run(lab_client, lab_lesson, code)
    assert answer["ok"], answer["error"]
    assert 'prefetch_related("books")' in answer["repeated"][0]["hint"]


def test_a_many_to_many_loop_suggests_prefetch_related(lab_client, lab_lesson):
    code = "for b in Book.objects.all()[:5]:\n    print([t.name for t in b.tags.all()])"
    answer = lab_run(lab_client, lab_lesson, code)
    assert answer["ok"], answer["error"]
    assert 'prefetch_related("tags")' in answer["repeated"][0]["hint"]


def test_the_last_expression_is_the_result_table(lab_client, lab_lesson):
    answer = lab_run(
        lab_client, lab_lesson, 'Author.objects.order_by("id").values("id", "name")[:3]'
    )
    assert answer["result"]["columns"] == ["id", "name"]
    assert [row[0] for row in answer["result"]["rows"]] == [1, 2, 3]


def test_a_queryset_of_models_is_a_table_of_their_fields(lab_client, lab_lesson):
    answer = lab_run(lab_client, lab_lesson, 'Book.objects.order_by("id")[:2]')
    assert answer["result"]["columns"][:3] == ["id", "title", "author_id"]
    assert answer["result"]["rows"][0][0] == 1


def test_print_of_query_shows_the_sql_without_running_it(lab_client, lab_lesson):
    answer = lab_run(lab_client, lab_lesson, "print(Book.objects.filter(pages__gt=500).query)")
    assert answer["ok"], answer["error"]
    assert answer["queries"] == []
    assert 'FROM "lab_book"' in answer["output"]


def test_writes_stay_in_the_learners_sandbox(lab_client, lab_lesson):
    lab_run(lab_client, lab_lesson, 'Tag.objects.create(name="graphs")')
    answer = lab_run(lab_client, lab_lesson, "Tag.objects.count()")
    assert answer["result"]["rows"] == [[13]]
    response = lab_client.post(
        "/api/sandbox/reset", {"lesson": lab_lesson.ref}, content_type="application/json"
    )
    assert response.status_code == 200
    answer = lab_run(lab_client, lab_lesson, "Tag.objects.count()")
    assert answer["result"]["rows"] == [[12]]


def test_an_error_names_its_line(lab_client, lab_lesson):
    answer = lab_run(lab_client, lab_lesson, "x = 1\nBook.objects.get(pk=99999)")
    assert not answer["ok"]
    assert answer["error"]["type"] == "DoesNotExist"
    assert answer["error"]["line"] == 2


def test_each_statement_can_be_explained(lab_client, lab_lesson):
    answer = lab_run(lab_client, lab_lesson, N_PLUS_ONE)
    sql = answer["queries"][1]["sql"]
    response = lab_client.post(
        "/api/sandbox/explain",
        {"lesson": lab_lesson.ref, "sql": sql},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    explained = response.json()
    assert explained["ok"], explained
    assert "lab_author" in explained["text"]


def test_code_must_be_a_string(lab_client, lab_lesson):
    response = lab_client.post(
        "/api/lab/run", {"lesson": lab_lesson.ref, "code": 5}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "code" in response.json()["error"]


def test_a_lesson_without_a_lab_is_refused(lab_client, lab_settings, lab_track):
    sql_lesson = Lesson.objects.create(track=lab_track, slug="sql", step=2, title="Reading")
    response = lab_client.post(
        "/api/lab/run", {"lesson": sql_lesson.ref, "code": "1"}, content_type="application/json"
    )
    assert response.status_code == 400


def test_it_needs_the_csrf_token_like_the_sql_api(learner, lab_lesson):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(learner)
    response = client.post(
        "/api/lab/run", {"lesson": lab_lesson.ref, "code": "1"}, content_type="application/json"
    )
    assert response.status_code == 403


def test_runs_per_minute_answer_429_with_retry_after(lab_client, lab_lesson, lab_settings):
    lab_settings.SANDBOX_RUNS_PER_MINUTE = 1
    lab_run(lab_client, lab_lesson, "1")
    response = lab_client.post(
        "/api/lab/run", {"lesson": lab_lesson.ref, "code": "1"}, content_type="application/json"
    )
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response.json()["ok"] is False


def test_the_answer_says_which_django_runs(lab_client, lab_lesson):
    import django

    assert lab_run(lab_client, lab_lesson, "1")["django"] == django.get_version()


def test_annotations_and_prefetch_to_attr_are_readable(lab_client, lab_lesson):
    code = (
        'a = Author.objects.annotate(n=Count("books")).prefetch_related('
        'Prefetch("books", queryset=Book.objects.filter(published_year__gte=2000), '
        'to_attr="recent")).get(pk=1)\n'
        "(a.n, len(a.recent))"
    )
    answer = lab_run(lab_client, lab_lesson, code)
    assert answer["ok"], answer["error"]
    assert answer["result"]["rows"][0][0] == 8


def test_dates_and_decimals_are_there(lab_client, lab_lesson):
    code = (
        "Review.objects.filter(created__gte=date(2024, 1, 1) - timedelta(days=1))"
        '.filter(book__price__lt=Decimal("30")).count() >= 0'
    )
    answer = lab_run(lab_client, lab_lesson, code)
    assert answer["ok"], answer["error"]
    today = lab_run(lab_client, lab_lesson, "date.today().year > 2000")
    assert today["ok"], today["error"]


def test_a_sandbox_grown_past_the_disk_limit_is_reset(lab_client, lab_lesson, lab_settings):
    lab_settings.SANDBOX_DISK_LIMIT_MB = 1
    code = (
        "for i in range(4):\n"
        '    Review.objects.bulk_create([Review(book_id=1, rating=1, body="x" * 200, '
        "created=date(2024, 1, 1)) for j in range(2000)])"
    )
    answer = lab_run(lab_client, lab_lesson, code)
    assert answer["bound"] == "disk", answer["error"]
    assert answer["error"]["message"].startswith("Disk limit")
    assert lab_run(lab_client, lab_lesson, "Review.objects.count()")["result"]["rows"] == [[1200]]


def test_a_learner_who_changes_their_roles_password_can_still_run(lab_client, lab_lesson):
    from sandbox import servers
    from sandbox.models import Sandbox

    assert lab_run(lab_client, lab_lesson, "Tag.objects.count()")["ok"]
    sandbox = Sandbox.objects.get(lesson=lab_lesson)
    with servers.provisioning(sandbox.server).pool.connection() as conn:
        conn.execute(f"ALTER ROLE {sandbox.name} PASSWORD 'changed-by-the-learner'")
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
            [sandbox.name],
        )
    for _ in range(2):
        answer = lab_run(lab_client, lab_lesson, "Tag.objects.count()")
        assert answer["ok"], answer["error"]
