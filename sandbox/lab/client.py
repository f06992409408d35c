"""The web process's side of the lab worker's socket (sandbox/lab/worker.py)."""

from __future__ import annotations

import functools
import itertools
import json
import socket

from django.conf import settings

from sandbox import runner, servers
from sandbox.lab.frames import HEADER, frame

_next = itertools.count()


class LabUnavailable(runner.SandboxUnavailable):
    """No lab worker answers (the API answers 503, like an unavailable sandbox server)."""


class LabBusy(runner.SandboxBusy):
    """Every run slot of every worker is taken."""


def sockets() -> list[str]:
    return [path.strip() for path in str(settings.LAB_WORKER_SOCKET).split(",") if path.strip()]


def limits() -> dict:
    """The bounds of one run, sent with it (the worker has no settings of its own)."""
    return {
        "wall_seconds": settings.LAB_RUN_TIMEOUT_MS / 1000,
        "cpu_seconds": settings.LAB_CPU_SECONDS,
        "memory_mb": settings.LAB_MEMORY_MB,
        "open_files": settings.LAB_OPEN_FILES,
        "max_queries": settings.LAB_MAX_QUERIES,
        "max_output": settings.LAB_MAX_OUTPUT,
        "max_rows": settings.SANDBOX_MAX_ROWS,
        "check_max_rows": settings.SANDBOX_CHECK_MAX_ROWS,
        "recursion": settings.LAB_RECURSION_LIMIT,
        "statement_timeout_ms": settings.SANDBOX_STATEMENT_TIMEOUT_MS,
    }


def call(request: dict, wall_seconds: float | None = None) -> dict:
    """Send one request to a worker and return its answer. Workers are tried in turn from a
    rotating start (more workers, more runs at once); a busy one passes to the next."""
    paths = sockets()
    if not paths:
        raise LabUnavailable("LAB_WORKER_SOCKET names no worker")
    wait = (wall_seconds or settings.LAB_RUN_TIMEOUT_MS / 1000) + 5
    start = next(_next)
    # Two frames: what the worker itself reads (no secret), then the request for the child.
    # "key" (the role's name, not secret) lets the worker give the run to that role's keeper.
    head = json.dumps(
        {
            "op": request.get("op"),
            "limits": request.get("limits") or {},
            "key": (request.get("db") or {}).get("user"),
        }
    ).encode()
    body = HEADER.pack(len(head)) + head + frame(json.dumps(request).encode())
    busy = False
    for offset in range(len(paths)):
        path = paths[(start + offset) % len(paths)]
        try:
            answer = _exchange(path, body, wait)
        except (FileNotFoundError, ConnectionRefusedError):
            continue
        if answer.get("busy"):
            busy = True
            continue
        return answer
    if busy:
        raise LabBusy("Lab busy: every run slot is taken; try again in a moment.")
    raise LabUnavailable("no lab worker answers")


def _exchange(path: str, body: bytes, wait: float) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(wait)
        try:
            sock.connect(path)
            sock.sendall(body)
            header = _read(sock, 4)
            (size,) = HEADER.unpack(header)
            return json.loads(_read(sock, size))
        except (FileNotFoundError, ConnectionRefusedError):
            raise
        except (OSError, ValueError) as exc:
            raise LabUnavailable(f"the lab worker did not answer: {exc}") from exc


def _read(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            raise OSError("connection closed")
        chunks += chunk
    return bytes(chunks)


def ping(path: str, timeout: float = 1.0) -> bool:
    try:
        return bool(_exchange(path, frame(json.dumps({"op": "ping"}).encode()), timeout).get("ok"))
    except (OSError, LabUnavailable):
        return False


def call_as(server: int, name: str, request: dict, wall_seconds: float | None = None) -> dict:
    """``call`` with sandbox ``name``'s connection filled in (``db``, ``options``). A learner may
    have changed their role's password (any role may, with ALTER ROLE): then it is set back
    and the request sent once more, as SQL runs do."""
    for attempt in range(2):
        db, options = connection_of(server, name)
        answer = call({**request, "db": db, "options": options}, wall_seconds)
        message = ((answer.get("error") or {}).get("message") or "") if not answer.get("ok") else ""
        if attempt == 0 and "password authentication failed" in message:
            runner.reset_password(server, name)
            continue
        return answer
    return answer


def connection_of(server: int, name: str) -> tuple[dict, str]:
    """``runner.lab_connection(server, name)``, kept per sandbox in this process: the role's
    password is derived and its startup options come from settings, so the answer changes only
    with the server's URL and the limits (part of the key); building it (two trips through
    libpq's conninfo parser) cost 0.3-0.6 ms of the web process per run."""
    db, options = _connection_of(
        server, name, servers.server_url(server), servers.Limits.from_settings()
    )
    return dict(db), options


@functools.lru_cache(maxsize=4096)
def _connection_of(server: int, name: str, url: str, limits: servers.Limits) -> tuple[dict, str]:
    return runner.lab_connection(server, name, limits)
