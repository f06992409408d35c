"""Where `manage.py serve` listens: --host/--port, else GUNICORN_BIND, else HOST and PORT; and
that stopping it stops the web server it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from django.core.management import CommandError, call_command

from config.management.commands.serve import Command, is_loopback
from tests.servers import ROOT


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


# Stands in for `serve` once the database is ready: runs a "web server" that writes its pid
# and waits, as run_until_stopped runs gunicorn.
SERVE = """
import sys
from config.management.commands.serve import run_until_stopped
server = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(60)"
sys.exit(run_until_stopped([sys.executable, "-c", server, sys.argv[1]], {}) != -15)
"""


def test_stopping_serve_with_sigterm_stops_the_web_server(tmp_path):
    pid_file = tmp_path / "server.pid"
    serve = subprocess.Popen([sys.executable, "-c", SERVE, str(pid_file)], cwd=ROOT)
    deadline = time.monotonic() + 20
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the web server did not start"
        time.sleep(0.05)
    server = int(pid_file.read_text())
    serve.send_signal(signal.SIGTERM)  # what systemd or supervisord sends
    assert serve.wait(timeout=20) == 0  # it saw the server end from that SIGTERM
    try:
        os.kill(server, 0)
    except ProcessLookupError:
        return
    raise AssertionError(f"the web server (pid {server}) outlived serve")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "querylab.example"])
def test_with_debug_on_it_refuses_to_listen_beyond_this_machine(settings, host):
    settings.DEBUG = True
    with pytest.raises(CommandError, match="set DEBUG=0") as refused:
        call_command("serve", "--host", host)
    assert f"Refusing to serve on {host} with DEBUG on" in str(refused.value)
    assert "SECRET_KEY" in str(refused.value) and "ALLOWED_HOSTS" in str(refused.value)


def test_with_debug_on_it_refuses_a_public_gunicorn_bind(settings, monkeypatch):
    settings.DEBUG = True
    monkeypatch.setenv("GUNICORN_BIND", "0.0.0.0:8000")
    with pytest.raises(CommandError, match="Refusing to serve on 0.0.0.0"):
        call_command("serve")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.3", "localhost", "::1", "[::1]"])
def test_loopback_addresses_are_this_machine_only(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.1", "example.org", ""])
def test_other_addresses_are_not(host):
    assert not is_loopback(host)
