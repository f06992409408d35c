"""Continue where you left off: the home page's next step and reviews due, and the progress
page's weekly summary (an inline SVG chart)."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from lessons.models import LessonProgress, ReviewItem, weekly_summary

pytestmark = pytest.mark.django_db

QUIZ = "/learn/sql/lesson-1/quiz/pick-one/"


def test_the_home_page_leads_with_the_next_step_and_the_reviews_due(client, course):
    client.get("/learn/sql/lesson-1/")
    client.post("/learn/sql/lesson-1/opened/")
    client.post(QUIZ, {"choice": "vacuum"})
    page = client.get("/").content.decode()
    assert "Continue where you left off" in page
    assert "review" not in page.split("Continue where you left off")[1].split("hero")[0].lower()
    ReviewItem.objects.update(due=timezone.now())
    page = client.get("/").content.decode()
    lead = page.split('class="hero"')[0]
    assert "Lesson 1" in lead
    assert "1 review due today" in lead


def test_a_new_visitor_sees_no_count(client, course):
    assert "due today" not in client.get("/").content.decode()


def test_the_weekly_summary_counts_each_week(client, course):
    client.post("/learn/sql/lesson-1/done/", {"answer": "1"})
    client.post("/learn/sql/lesson-2/done/", {"answer": "1"})
    client.post(QUIZ, {"choice": "vacuum"})
    item = ReviewItem.objects.get()
    item.grade(3)  # kept
    item.grade(1)  # forgotten: not counted
    row = LessonProgress.objects.get(lesson=course[1])
    row.completed_at = timezone.now() - datetime.timedelta(days=14)
    row.save()
    summary = weekly_summary(item.learner)
    this_week, two_ago = summary.weeks[-1], summary.weeks[-3]
    assert (this_week["lessons"], this_week["reviews"]) == (1, 1)
    assert two_ago["lessons"] == 1
    assert summary.total == {"lessons": 2, "exercises": 0, "reviews": 1}


def test_the_progress_page_draws_the_week_as_svg_without_style_attributes(client, course):
    client.post("/learn/sql/lesson-1/done/", {"answer": "1"})
    page = client.get("/progress/").content.decode()
    chart = page.split('<svg class="weekly-chart"')[1].split("</svg>")[0]
    assert chart.count("<rect") == 8 * 3
    assert "1 lesson done, 0 exercises passed, 0 reviews kept" in chart
    assert "style=" not in chart
    heights = [
        int(h) for h in re.findall(r'class="weekly-bar weekly-lessons"[^>]*height="(\d+)"', chart)
    ]
    assert heights[-1] > 0 and heights[:-1] == [0] * 7
    assert "<table" not in page.split("weekly-chart")[1].split("</section>")[0]
