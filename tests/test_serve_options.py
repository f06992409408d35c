"""Where `manage.py serve` listens: --host/--port, else GUNICORN_BIND, else HOST and PORT."""

from __future__ import annotations

from config.management.commands.serve import Command


def options(*argv: str):
    return Command().create_parser("manage.py", "serve").parse_args(list(argv))


def test_it_listens_where_gunicorn_bind_says(monkeypatch):
    monkeypatch.setenv("GUNICORN_BIND", "127.0.0.3:8765")
    parsed = options()
    assert (parsed.host, parsed.port) == ("127.0.0.3", 8765)


def test_its_own_options_come_first(monkeypatch):
    monkeypatch.setenv("GUNICORN_BIND", "127.0.0.3:8765")
    parsed = options("--port", "9000")
    assert (parsed.host, parsed.port) == ("127.0.0.3", 9000)


def test_without_gunicorn_bind_it_reads_host_and_port(monkeypatch):
    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    monkeypatch.setenv("HOST", "127.0.0.2")
    monkeypatch.setenv("PORT", "8123")
    parsed = options()
    assert (parsed.host, parsed.port) == ("127.0.0.2", 8123)
