"""A keeper's life (``worker.Worker._fork_keeper`` makes them): one learner role's
connection, kept between that learner's runs; each run in a grandchild of its own, forked per
job and gone when it ends. The worker hands a job over as the client's socket (``j``); the
keeper says ``d`` when the run is over and its connection ready for the next."""

from __future__ import annotations

import contextlib
import os
import resource
import socket

from sandbox.lab.answers import death_answer, failure
from sandbox.lab.frames import MAX_REQUEST_BYTES, read_frame, send_frame

# Exit statuses of a run that answered its client itself: 0 (its connection may be kept),
# DIRTY (it must not be), 70 (the lab's own failure, answered as such).
DIRTY = 3
ANSWERED = (0, DIRTY, 70)


def keeper_life(ctrl: socket.socket, first: socket.socket, limits: dict) -> None:
    """A keeper's life (see Worker._fork_keeper): one run per job, each in a grandchild."""
    import select

    from sandbox.lab import execution, warm

    idle = float(os.environ.get("LAB_KEEPER_IDLE_SECONDS", 60))
    job: socket.socket | None = first
    while True:
        if job is None:
            ready, _, _ = select.select([ctrl], [], [], idle)
            if not ready:
                return
            message, fds, _, _ = socket.recv_fds(ctrl, 16, 1)
            if not message or not fds:
                return
            job = socket.socket(fileno=fds[0])
        job.setblocking(True)
        job.settimeout(5)
        try:
            request = read_frame(job, MAX_REQUEST_BYTES)
            reused = execution.keep_connection(request)
            warm.precompile(request)
        except Exception as exc:
            with contextlib.suppress(OSError):
                send_frame(job, failure("Unavailable", f"The lab could not connect: {exc}"))
            job.close()
            job = None
            ctrl.send(b"d")
            continue
        job.settimeout(None)
        pid = os.fork()
        if pid == 0:
            ctrl.close()  # a run cannot talk to the worker
            cpu = int(limits.get("cpu_seconds", 2))
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
            # The uid's processes are the keeper and this run: no room for a third.
            resource.setrlimit(resource.RLIMIT_NPROC, (1, 1))
            _run_and_exit(job, request, reused)
        _, status = os.waitpid(pid, 0)
        clean = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) in ANSWERED):
            with contextlib.suppress(OSError):
                send_frame(job, death_answer(status, limits))
        if not clean:
            execution.drop_connection()
        job.close()
        job = None
        ctrl.send(b"d")


def _run_and_exit(conn: socket.socket, request: dict, reused: bool) -> None:
    from sandbox.lab import execution

    try:
        answer = execution.handle(request, lambda answer: send_frame(conn, answer), reused=reused)
        send_frame(conn, answer)
        os._exit(0 if execution.connection_clean() else DIRTY)
    except BaseException:
        with contextlib.suppress(BaseException):
            send_frame(conn, failure("InternalError", "The lab failed."))
        os._exit(70)
