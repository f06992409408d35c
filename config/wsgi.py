"""WSGI entry point for gunicorn (see config/gunicorn.py)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from config.infra import embedded

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Start the embedded servers of any database URL that is not set (gunicorn started by
# `manage.py serve` finds them running), before the settings read where they listen.
embedded.prepare()
application = get_wsgi_application()
