"""Starting a lab worker beside the site (``serve``, tests, the bench).

The worker's environment is built from nothing: no SECRET_KEY, no DATABASE_URL, no
SANDBOX_DATABASE_URL. Where bubblewrap is installed (and ``LAB_USE_BWRAP``), the worker runs in
it: new IPC, PID, UTS and cgroup namespaces, a read-only view of the code, the virtualenv and
the Python installation and nothing else of the file system (no ``.data`` folders, so no app
secret file, no embedded servers' state, no other worktree), a private /tmp, and only its socket
folder writable. The network namespace is shared on purpose: children reach the sandbox
PostgreSQL over TCP, and the embedded server has no unix socket. As root, children still drop to
a uid of their own per run (no user namespace, so setuid works inside bwrap).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings

from sandbox.lab import client

REPO = Path(__file__).resolve().parents[2]
BWRAP = "/usr/bin/bwrap"


def bwrap_available() -> bool:
    return bool(settings.LAB_USE_BWRAP) and Path(BWRAP).is_file() and os.access(BWRAP, os.X_OK)


def worker_command(socket_path: Path, models_dir: Path, bwrap: bool | None = None) -> list[str]:
    python = sys.executable
    command = [
        python,
        "-m",
        "sandbox.lab.worker",
        "--socket",
        str(socket_path),
        "--models-dir",
        str(models_dir),
    ]
    if bwrap is None:
        bwrap = bwrap_available()
    if not bwrap:
        return command
    return [*_bwrap_arguments(socket_path, models_dir), *command]


def _bwrap_arguments(socket_path: Path, models_dir: Path) -> list[str]:
    arguments = [
        BWRAP,
        "--die-with-parent",
        "--new-session",
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--ro-bind",
        "/usr",
        "/usr",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",  # noqa: S108 - a private, empty tmpfs inside bwrap
        "--setenv",
        "QUERYLAB_LAB_BWRAP",
        "1",
    ]
    for name in ("bin", "lib", "lib64", "sbin"):
        link = Path("/") / name
        if link.is_symlink():
            arguments += ["--symlink", os.readlink(link), str(link)]
        elif link.is_dir():
            arguments += ["--ro-bind", str(link), str(link)]
    prefix = Path(sys.base_prefix).resolve()
    if not str(prefix).startswith("/usr/"):
        arguments += ["--ro-bind", str(prefix), str(prefix)]
    arguments += ["--ro-bind", str(REPO), str(REPO)]
    venv = Path(sys.prefix).resolve()
    if not venv.is_relative_to(REPO):
        arguments += ["--ro-bind", str(venv), str(venv)]
    models = models_dir.resolve()
    if not models.is_relative_to(REPO):
        arguments += ["--ro-bind", str(models), str(models)]
    # Hide every data folder of the checkout (the app's secret key, the embedded servers'
    # passwords and files): an empty tmpfs over each.
    for hidden in sorted(REPO.glob(".data*")):
        if hidden.is_dir():
            arguments += ["--tmpfs", str(hidden)]
    data_dir = Path(settings.DATA_DIR).resolve()
    if data_dir.is_relative_to(REPO) and data_dir.is_dir():
        arguments += ["--tmpfs", str(data_dir)]
    folder = socket_path.parent.resolve()
    arguments += ["--bind", str(folder), str(folder), "--chdir", str(REPO)]
    return arguments


def worker_environment() -> dict[str, str]:
    """What the worker may know: where Python is, whether the site runs in DEBUG and whether
    the operator isolated it. Never a secret."""
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "DEBUG": "1" if settings.DEBUG else "0",
        "LANG": "C.UTF-8",
    }
    if os.environ.get("LAB_DEBUG"):
        env["LAB_DEBUG"] = "1"  # tracebacks of the lab's own failures in answers
    if settings.LAB_ISOLATED_BY_OPERATOR:
        env["LAB_ISOLATED_BY_OPERATOR"] = "1"
    return env


def start_worker(
    socket_path: Path | None = None,
    models_dir: Path | None = None,
    wait_seconds: float = 30,
    stderr=None,
) -> subprocess.Popen:
    """Start a worker and wait until it answers a ping."""
    socket_path = Path(socket_path or client.sockets()[0])
    models_dir = Path(models_dir or settings.LAB_MODELS_DIR)
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(socket_path.parent, 0o700)
    process = subprocess.Popen(
        worker_command(socket_path, models_dir),
        env=worker_environment(),
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stderr=stderr,
    )
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the lab worker exited with status {process.returncode}")
        if socket_path.exists() and client.ping(str(socket_path)):
            return process
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("the lab worker did not start in time")


def stop_worker(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_beside_the_site() -> LabWorker | None:
    """`serve`'s companion (registered in SandboxConfig.ready()): the lab's worker beside the
    site, a process of its own that holds no secret, under bubblewrap where installed, started
    again if it dies. LAB_START_WORKER=0 when the operator runs workers elsewhere
    (docker-compose.yml's ``lab`` service)."""
    if not settings.LAB_START_WORKER:
        return None
    keeper = LabWorker()
    if not keeper.start():
        return None
    isolation = "bubblewrap" if bwrap_available() else "no bubblewrap"
    print(f"Django ORM lab worker started ({isolation}).", flush=True)
    threading.Thread(target=keeper.watch, name="lab-worker-watch", daemon=True).start()
    return keeper


class LabWorker:
    """The worker process, restarted when it exits (lab runs answer 503 meanwhile)."""

    def __init__(self) -> None:
        self.process = None
        self.stopping = threading.Event()

    def start(self) -> bool:
        try:
            self.process = start_worker()
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
            stop_worker(self.process)
