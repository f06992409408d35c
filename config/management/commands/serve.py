"""`manage.py serve`: database, migrations, content and the web server, in one command."""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError

from config.gunicorn import __file__ as GUNICORN_CONFIG
from config.infra import companions


class Command(BaseCommand):
    help = "Prepare the database and content, then serve Querylab (gunicorn, or --dev)."

    def add_arguments(self, parser):
        # GUNICORN_BIND ("host:port", as config/gunicorn.py reads it) or HOST and PORT.
        bind_host, _, bind_port = os.environ.get("GUNICORN_BIND", "").rpartition(":")
        host = bind_host or os.environ.get("HOST", "127.0.0.1")
        port = bind_port if bind_port.isdigit() else os.environ.get("PORT", "8000")
        parser.add_argument("--host", default=host)
        parser.add_argument("--port", type=int, default=int(port))
        parser.add_argument(
            "--dev", action="store_true", help="Django's autoreloading runserver instead."
        )

    def handle(self, *args, host: str, port: int, dev: bool, **options):
        if settings.DEBUG and not is_loopback(host):
            raise CommandError(PUBLIC_DEBUG_REFUSED.format(host=host))
        # manage.py started the embedded databases of unset URLs before reading the settings.
        self.stdout.write("Preparing the database…")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        if "content" in get_commands():
            self.stdout.write("Loading lessons…")
            call_command("content", "sync")
        url = f"http://{host}:{port}/"
        started = companions.start_all()
        try:
            self._serve(host, port, dev, url)
        finally:
            companions.stop_all(started)

    def _serve(self, host: str, port: int, dev: bool, url: str) -> None:
        if dev:
            # Lessons edited while the dev server runs show up on the next page load.
            os.environ["CONTENT_AUTOSYNC"] = "1"
            settings.CONTENT_AUTOSYNC = True
            self.stdout.write(self.style.SUCCESS(f"Querylab (dev server) on {url}"))
            call_command("runserver", f"{host}:{port}")
            return
        call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write(self.style.SUCCESS(f"Querylab is running on {url}  (Ctrl+C stops it)"))
        self.stdout.flush()
        env = {**os.environ, "GUNICORN_BIND": f"{host}:{port}"}
        # The workers' Prometheus counters (config/gunicorn.py empties the folder at start).
        env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(settings.DATA_DIR / "metrics"))
        if not settings.DEBUG:
            env.setdefault("GUNICORN_ACCESSLOG", "-")
        command = [sys.executable, "-m", "gunicorn", "-c", GUNICORN_CONFIG]
        returncode = run_until_stopped(command, env)
        if returncode not in (0, -signal.SIGTERM, -signal.SIGINT):
            sys.exit(returncode)


PUBLIC_DEBUG_REFUSED = (
    "Refusing to serve on {host} with DEBUG on: Django's debug pages show code, settings and "
    "requests to whoever can reach them, so a debug site listens on this machine only "
    "(127.0.0.1, ::1 or localhost). To serve other machines, set DEBUG=0; that also needs "
    "SECRET_KEY, ALLOWED_HOSTS with the site's host name, and TLS in front (or "
    "SECURE_SSL_REDIRECT=0 behind a proxy that does not set X-Forwarded-Proto). See the "
    "README's Deploying section."
)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (from --host or GUNICORN_BIND) is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # another host name: it may resolve to any address
        return False


def run_until_stopped(command: list[str], env: dict[str, str]) -> int:
    """Run the web server until it exits, or until this process is stopped: Ctrl+C (SIGINT) or
    SIGTERM, which service managers send to the process they started, is passed on as SIGTERM
    (gunicorn's graceful stop). Without that, a ``serve`` stopped with SIGTERM left gunicorn
    running, still holding the port. Returns the server's exit code."""
    process = subprocess.Popen(command, env=env)
    previous = signal.signal(signal.SIGTERM, lambda *_: process.send_signal(signal.SIGTERM))
    try:
        while True:
            try:
                return process.wait()
            except KeyboardInterrupt:
                process.send_signal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, previous)
