# ruff: noqa: F811 (pytest fixtures imported from lab_support are arguments here)
"""The django track's graded ORM exercises, published and checked through /api/lab/check as a
learner would: each one refuses the plausible wrong answer it was written against (too many
queries, wrong rows on the data or on a hidden variant, a plan that misses the index), and passes
its own solution. `content check` (test_lesson_checks.py) only proves the solutions pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from config import settings as base_settings
from lessons.models import Exercise
from lessons.sync import sync_content
from sandbox.tests.lab_support import (  # noqa: F401
    lab_check,
    lab_client,
    lab_settings,
    lab_worker,
)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

CONTENT = Path(settings.BASE_DIR) / "content"

WRONG_ANSWERS = [
    (
        "seeing-the-sql",
        "count-then-list",
        'books = Book.objects.filter(published_year=2020).order_by("id")\n'
        "print(books.count())\n"
        "for book in books:\n"
        "    print(book.title)\n",
        "Too many queries: your code sent 2 queries; at most 1 is allowed.",
    ),
    (
        "seeing-the-sql",
        "latest-reviews-of-a-book",
        '[(r.id, r.rating, r.created) for r in Review.objects.order_by("-created", "-id")'
        " if r.book_id == 42][:2]",
        "The plan reads all of lab_review with a Seq Scan; it must not.",
    ),
    (
        "seeing-the-sql",
        "recent-books-of-japanese-authors",
        '[(a.name, ", ".join(a.books.filter(published_year__gte=2010).order_by("title")'
        '.values_list("title", flat=True))) for a in Author.objects.filter(country="JP")'
        '.order_by("id")]',
        "Too many queries: your code sent 7 queries; at most 2 are allowed.",
    ),
    (
        "seeing-the-sql",
        "books-by-id-in-one-query",
        'books = dict(Book.objects.filter(id__in=[42, 5, 17]).values_list("id", "title"))\n'
        "[(i, books.get(i)) for i in [42, 5, 404, 17]]\n",
        "Wrong rows. On hidden data set 1 of 1",
    ),
    (
        "aggregation-beyond-the-basics",
        "publisher-report",
        'Publisher.objects.order_by("name").annotate(n_books=Count("books"),'
        ' n_reviews=Count("books__reviews"),'
        ' n_five=Count("books__reviews", filter=Q(books__reviews__rating=5)))'
        '.values_list("name", "n_books", "n_reviews", "n_five")',
        "Wrong rows. On the lesson's data",
    ),
    (
        "aggregation-beyond-the-basics",
        "latest-rating-of-2020-books",
        'Book.objects.filter(published_year=2020).order_by("id")'
        '.annotate(r=Max("reviews__rating")).values_list("title", "r")',
        "Wrong rows.",
    ),
    (
        "aggregation-beyond-the-basics",
        "five-star-never-one-star",
        'Book.objects.filter(reviews__rating=5).exclude(reviews__rating=1).order_by("id")'
        '.values_list("id")',
        "Wrong rows.",
    ),
    (
        "aggregation-beyond-the-basics",
        "dearest-book-of-each-year",
        "Book.objects.filter(published_year__gte=2015, published_year__lte=2024)"
        '.order_by("published_year", "-price").distinct("published_year")'
        '.values_list("published_year", "id", "title", "price")',
        "Wrong rows. On hidden data set 1 of 1",
    ),
    (
        "aggregation-beyond-the-basics",
        "running-total-of-pages",
        'Book.objects.filter(author_id__in=[13, 14]).annotate(t=Window(Sum("pages"),'
        ' partition_by="author_id", order_by="published_year"))'
        '.order_by("author_id", "published_year", "id")'
        '.values_list("author_id", "id", "published_year", "pages", "t")',
        "Wrong rows. On the lesson's data",
    ),
    (
        "postgresql-fields",
        "refurbished-products",
        'Gadget.objects.filter(attributes__refurbished=True).order_by("id")'
        '.values_list("id", "name")',
        "gadget_attributes_gin",
    ),
    (
        "postgresql-fields",
        "clearance-or-discontinued",
        'Gadget.objects.filter(labels__contains=["clearance", "discontinued"]).order_by("id")'
        '.values_list("id")',
        "Wrong rows.",
    ),
    (
        "postgresql-fields",
        "room-seven-first-week-of-june",
        "Stay.objects.filter(room=7, during__startswith__lt=date(2025, 6, 8),"
        ' during__endswith__gt=date(2025, 6, 1)).order_by("id").values_list("id", "guest")',
        "stay_during_gist",
    ),
    (
        "postgresql-fields",
        "brand-seventeen-from-ninety",
        'Gadget.objects.filter(attributes__contains={"brand": "brand-17"})'
        '.annotate(p=KT("attributes__price")).filter(p__gte="90")'
        '.order_by("-attributes__price", "id").values_list("id", "attributes__price")',
        "Wrong rows. On hidden data set 1 of 1",
    ),
    (
        "postgresql-fields",
        "room-twelve-stays-within-june",
        "Stay.objects.filter(room=12, during__startswith__gte=date(2025, 6, 1),"
        ' during__endswith__lte=date(2025, 7, 1)).order_by("id").values_list("id", "guest")',
        "stay_during_gist",
    ),
    (
        "indexes-from-meta",
        "member-by-email-any-case",
        'Member.objects.filter(email__iexact="USER4242@EXAMPLE.COM").values_list("id", "name")',
        "member_email_lower_idx",
    ),
    (
        "indexes-from-meta",
        "active-members-of-december",
        'Member.objects.exclude(status="closed").filter(joined__gte=date(2024, 12, 1),'
        ' joined__lt=date(2025, 1, 1)).order_by("id").values_list("id")',
        "member_active_joined_idx",
    ),
    (
        "indexes-from-meta",
        "newest-active-members",
        'Member.objects.filter(status="active").order_by("-joined")'
        '.values_list("id", "joined")[:8]',
        "the right rows, in the wrong order",
    ),
    (
        "indexes-from-meta",
        "top-scorers-from-the-covering-index",
        "sorted(((m.points, m.name) for m in Member.objects.all() if m.points >= 998),"
        " key=lambda t: (-t[0], t[1]))",
        "member_points_cover_idx",
    ),
    (
        "full-text-search",
        "best-lemon-ginger",
        'Recipe.objects.filter(body__search="lemon ginger").order_by("id").values_list("id")[:10]',
        "recipe_search_gin",
    ),
    (
        "full-text-search",
        "spinach-coriander-per-cuisine",
        'q = SearchQuery("spinach coriander", search_type="websearch", config="english")\n'
        'Recipe.objects.filter(search=q).values("cuisine").annotate(n=Count("id"))'
        '.order_by("cuisine")\n',
        "Wrong rows.",
    ),
    (
        "full-text-search",
        "chickpeas-spinach-headlines",
        'q = SearchQuery("chickpeas spinach", search_type="websearch", config="english")\n'
        'Recipe.objects.filter(search=q).order_by("minutes", "id").annotate(h=SearchHeadline('
        '"body", q, start_sel="[", stop_sel="]")).values_list("id", "h")[:5]\n',
        "Wrong rows. On hidden data set 1 of 2",
    ),
    (
        "full-text-search",
        "lemon-chicken-as-a-phrase",
        'q = SearchQuery("lemon chicken", config="english")\n'
        'Recipe.objects.filter(search=q, minutes__lte=12).order_by("id")'
        '.values_list("id", "title")\n',
        "Wrong rows. On hidden data set 1 of 1",
    ),
    (
        "writing-efficiently",
        "price-rise-one-statement",
        'for book in Book.objects.filter(publisher_id=6).order_by("id"):\n'
        '    book.price = book.price * Decimal("1.10")\n'
        "    book.save()\n"
        'Book.objects.filter(publisher_id=6).order_by("id").values_list("id", "price")\n',
        "Too many queries",
    ),
    (
        "writing-efficiently",
        "upsert-publisher-list",
        'rows = [("Faber & Faber", "Bristol"), ("Verso", "London"), ("Suhrkamp", "Frankfurt")]\n'
        "for name, city in rows:\n"
        '    Publisher.objects.update_or_create(name=name, defaults={"city": city})\n'
        'Publisher.objects.order_by("name").values_list("name", "city")\n',
        "Too many queries",
    ),
    (
        "writing-efficiently",
        "set-page-counts",
        "for i, p in {1: 100, 2: 200, 3: 300, 4: 400, 5: 500}.items():\n"
        "    Book.objects.filter(id=i).update(pages=p)\n"
        'Book.objects.filter(id__lte=5).order_by("id").values_list("id", "pages")\n',
        "Too many queries: your code sent 6 queries",
    ),
    (
        "writing-efficiently",
        "ensure-tags-and-get-their-ids",
        'names = ["postgres", "fiction", "django"]\n'
        "tags = Tag.objects.bulk_create([Tag(name=n) for n in names], ignore_conflicts=True)\n"
        'Tag.objects.filter(id__in=[t.id for t in tags]).annotate(n=Count("books"))'
        '.order_by("name").values_list("name", "n")\n',
        "Wrong rows. On the lesson's data",
    ),
    (
        "writing-efficiently",
        "price-correction-in-one-update",
        'Book.objects.filter(publisher_id=5).update(price=Case(When(price__lte=Decimal("10.00"),'
        ' then=F("price") + Decimal("1.00")), default=F("price") * Decimal("0.90")))\n'
        'Book.objects.filter(publisher_id=5).order_by("id").values_list("id", "price")\n',
        "Wrong rows. On hidden data set 1 of 1",
    ),
]


@pytest.fixture
def django_track(lab_settings):
    # The real limits: the checks seed 20,000-row fixtures and run the reference solutions.
    for name in (
        "SANDBOX_STATEMENT_TIMEOUT_MS",
        "SANDBOX_RUN_TIMEOUT_MS",
        "SANDBOX_MAX_ROWS",
        "SANDBOX_DISK_LIMIT_MB",
        "SANDBOX_TEMP_FILE_LIMIT_KB",
    ):
        setattr(lab_settings, name, getattr(base_settings, name))
    lab_settings.LAB_CPU_SECONDS = base_settings.LAB_CPU_SECONDS
    lab_settings.LAB_RUN_TIMEOUT_MS = base_settings.LAB_RUN_TIMEOUT_MS
    # Published from content/ itself (the django lessons link to the postgresql track's).
    report = sync_content(CONTENT)
    assert not report.errors, report.errors
    assert any(path.startswith("django/") for path in report.published)


@pytest.mark.parametrize(
    ("lesson", "key", "code", "expected"),
    WRONG_ANSWERS,
    ids=[f"{lesson}/{key}" for lesson, key, _, _ in WRONG_ANSWERS],
)
def test_an_exercise_refuses_its_wrong_answer_and_passes_its_solution(
    django_track, lab_client, lesson, key, code, expected
):
    exercise = Exercise.objects.get(lesson__track__slug="django", lesson__slug=lesson, key=key)
    answer = lab_check(lab_client, exercise, code)
    said = " ".join(answer["problems"] + answer["plan_problems"])
    assert answer["passed"] is False, code
    assert expected in said, said
    right = lab_check(lab_client, exercise, exercise.solution_sql)
    assert right["passed"] is True, right["problems"] + right["plan_problems"]


def test_the_track_page_lists_the_lessons_in_step_order_and_each_page_has_the_lab(client):
    # The track's checks run in test_lesson_checks.py; here only the published pages matter.
    assert not sync_content(CONTENT, run_checks=False).errors
    page = client.get("/learn/django/").content.decode()
    titles = [
        "Seeing the SQL",
        "Aggregation beyond the basics",
        "PostgreSQL fields in Django",
        "Indexes from Meta",
        "Full-text search in Django",
        "Writing efficiently",
    ]
    positions = [page.find(title) for title in titles]
    assert -1 not in positions and positions == sorted(positions), positions
    for slug in (
        "seeing-the-sql",
        "aggregation-beyond-the-basics",
        "postgresql-fields",
        "indexes-from-meta",
        "full-text-search",
        "writing-efficiently",
    ):
        response = client.get(f"/learn/django/{slug}/")
        assert response.status_code == 200
        assert "Run in lab" in response.content.decode(), slug
