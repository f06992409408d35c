from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_it_says_what_querylab_is(client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Learn PostgreSQL by running it." in page
    assert 'href="/accounts/signup/?next=/"' in page


@pytest.mark.django_db
def test_it_sends_the_csrf_token_with_htmx_requests(client):
    page = client.get("/").content.decode()
    assert 'hx-headers=\'{"X-CSRFToken": "' in page
    assert "/static/django_htmx/htmx-2.min.js" in page
