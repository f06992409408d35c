"""`manage.py serve`: database, migrations, content and the web server, in one command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand

from config.gunicorn import __file__ as GUNICORN_CONFIG


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
        # Settings have already started the embedded databases if no URL is configured.
        self.stdout.write("Preparing the database…")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        if "content" in get_commands():
            self.stdout.write("Loading lessons…")
            call_command("content", "sync")
        url = f"http://{host}:{port}/"
        if "sandbox" in get_commands():
            _start_sandbox_janitor()
        lab_worker = _start_lab_worker(self.stdout)
        try:
            self._serve(host, port, dev, url)
        finally:
            if lab_worker is not None:
                lab_worker.stop()

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
        if not settings.DEBUG:
            env.setdefault("GUNICORN_ACCESSLOG", "-")
        command = [sys.executable, "-m", "gunicorn", "-c", GUNICORN_CONFIG]
        returncode = run_until_stopped(command, env)
        if returncode not in (0, -signal.SIGTERM, -signal.SIGINT):
            sys.exit(returncode)


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


def _start_sandbox_janitor() -> None:
    """Sweep expired sandboxes and refill the warm pool now and then, beside the web server."""

    def sweep_forever() -> None:
        from django.db import connection

        from sandbox.models import Sandbox

        while True:
            try:
                Sandbox.objects.sweep()
            except Exception as exc:  # the site must not go down with its janitor
                print(f"sandbox janitor: {exc}", file=sys.stderr)
            finally:
                connection.close()
            threading.Event().wait(settings.SANDBOX_JANITOR_INTERVAL_SECONDS)

    threading.Thread(target=sweep_forever, name="sandbox-janitor", daemon=True).start()


def _start_lab_worker(stdout):
    """The Django ORM lab's worker (sandbox/lab/worker.py) beside the site: a process of its
    own that holds no secret, under bubblewrap where installed, started again if it dies.
    LAB_START_WORKER=0 when the operator runs workers elsewhere (docker-compose.yml's ``lab``
    service)."""
    if not settings.LAB_START_WORKER:
        return None
    from sandbox.lab import launch

    keeper = _LabWorker(launch)
    if not keeper.start():
        return None
    isolation = "bubblewrap" if launch.bwrap_available() else "no bubblewrap"
    stdout.write(f"Django ORM lab worker started ({isolation}).")
    threading.Thread(target=keeper.watch, name="lab-worker-watch", daemon=True).start()
    return keeper


class _LabWorker:
    """The worker process, restarted when it exits (lab runs answer 503 meanwhile)."""

    def __init__(self, launch):
        self.launch = launch
        self.process = None
        self.stopping = threading.Event()

    def start(self) -> bool:
        try:
            self.process = self.launch.start_worker()
        except RuntimeError as exc:  # the site serves everything else without it
            print(f"lab worker: {exc}", file=sys.stderr)
            return False
        return True

    def watch(self) -> None:
        while not self.stopping.wait(5):
            if self.process is not None and self.process.poll() is not None:
                print("lab worker: it exited; starting it again", file=sys.stderr)
                self.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.process is not None:
            self.launch.stop_worker(self.process)
