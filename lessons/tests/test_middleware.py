from __future__ import annotations

import os
import shutil

import pytest
from django.test import Client

from lessons.sync import sync_content
from lessons.tests.conftest import SAMPLE_CONTENT


@pytest.fixture
def dev_content(settings, tmp_path, db):
    content = tmp_path / "content"
    shutil.copytree(SAMPLE_CONTENT, content)
    settings.CONTENT_DIR = content
    settings.CONTENT_AUTOSYNC = True
    sync_content(content)
    return content


def test_it_picks_up_an_edited_file_on_the_next_page_load(dev_content):
    client = Client()
    assert (
        "<h1>Your first queries</h1>"
        in client.get("/learn/postgresql/first-queries/").content.decode()
    )
    path = dev_content / "postgresql" / "01-first-queries.md"
    path.write_text(path.read_text().replace("title: Your first queries", "title: First queries"))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert (
        "<h1>First queries</h1>" in client.get("/learn/postgresql/first-queries/").content.decode()
    )


def test_it_is_off_outside_dev_mode(settings, dev_content):
    settings.CONTENT_AUTOSYNC = False
    client = Client()
    client.get("/")
    path = dev_content / "postgresql" / "01-first-queries.md"
    path.write_text(path.read_text().replace("title: Your first queries", "title: First queries"))
    page = client.get("/learn/postgresql/first-queries/").content.decode()
    assert "<h1>Your first queries</h1>" in page
