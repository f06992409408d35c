"""Wall 2, the process (LAB.md): the lab worker.

``python -m sandbox.lab.worker --socket PATH --models-dir content/models``

A warm process with the lab's own Django (``djangoenv``) and every lesson model module loaded.
It holds no secret: it never reads config.settings, the environment's SECRET_KEY or
DATABASE_URL; each request brings one learner's sandbox role, schema and code. It listens on a
unix socket created with mode 0600 (only the web process's user can connect), reads one
length-prefixed JSON request per connection and forks a child per run. The child

- closes every descriptor but its own connection (the listening socket above all),
- drops to an unprivileged uid of its own (``LAB_UID_BASE`` + slot, so concurrent runs cannot
  signal or trace each other) when the worker runs as root,
- sets RLIMIT_CPU, RLIMIT_AS, RLIMIT_FSIZE=0, RLIMIT_NPROC, RLIMIT_NOFILE and RLIMIT_CORE=0,
- connects as the learner's role with the sandbox's startup options, runs the code
  (``execution``), writes the answer on its connection and exits.

The parent kills a child at its wall-clock deadline and answers for it, naming the bound; the
same when the kernel ends it (SIGXCPU for CPU time). The next run is a fresh child.

Framing, both ways: 4-byte big-endian length, then UTF-8 JSON. A request is two frames: the
first (``op`` and ``limits``) is read by the worker, the second (the whole request: the
learner's role and password, the code) only by the child forked for it.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import json
import os
import secrets
import selectors
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sandbox.lab.answers import death_answer, failure, timeout_answer
from sandbox.lab.frames import HEADER, MAX_HEADER_BYTES, MAX_REQUEST_BYTES, read_frame, send_frame
from sandbox.lab.keeper import ANSWERED, keeper_life
from sandbox.lab.oslimits import close_other_descriptors, limit_process


@dataclass
class Child:
    pid: int
    sock: socket.socket
    deadline: float
    slot: int
    limits: dict
    started: float
    killed: bool = False
    # A keeper (see ``_keeper``): the learner role it serves, its control socket, and whether
    # a run of it is under way (``sock`` is then that run's client, ``deadline`` its wall clock).
    key: str | None = None
    ctrl: socket.socket | None = None
    busy: bool = False
    last_used: float = 0.0
    # The same learner's next request, come while the keeper was still ending its last run
    # (its answer reaches the client a moment before the keeper says it is done): the client,
    # its limits, and until when it waits for the keeper before a plain child takes it.
    queued: tuple[socket.socket, dict, float] | None = None


class Worker:
    def __init__(
        self,
        socket_path: Path,
        models_dir: Path,
        uid_base: int,
        slots: int,
        socket_owner: str | None = None,
    ):
        self.socket_owner = socket_owner
        self.socket_path = socket_path
        self.models_dir = models_dir
        self.uid_base = uid_base
        self.uid = uid_base
        # From a random point: several workers on one host (scaled out, or other checkouts)
        # rarely hand out the same uid at the same time.
        self._uids = itertools.count(secrets.randbelow(UID_RANGE))
        self.slots = slots
        self.free_slots = list(range(slots))
        self.children: dict[int, Child] = {}
        self.pending: dict[socket.socket, bytearray] = {}
        self.selector = selectors.DefaultSelector()
        self.drop_privileges = os.geteuid() == 0
        # Keepers need a uid of their own (their runs' process count is bounded per uid).
        self.use_keepers = self.drop_privileges and os.environ.get("LAB_KEEPERS", "1") == "1"
        self.keepers: dict[str, Child] = {}

    # -- start-up ---------------------------------------------------------------------------

    def prepare(self) -> None:
        # Everything a child runs is imported here: a child that dropped privileges may not be
        # able to read the files any more.
        from sandbox.lab import djangoenv, execution, warm  # noqa: F401

        djangoenv.configure()
        for path in sorted(self.models_dir.glob("*.py")):
            if path.stem.startswith("_"):
                continue
            try:
                djangoenv.load_models(self.models_dir, path.stem)
            except Exception as exc:  # one broken module must not stop the others
                print(f"lab worker: {path.name} does not load: {exc}", file=sys.stderr)
        warm.warm_up()
        # Children share the warm worker's memory copy-on-write; a collection in a child would
        # touch (and so copy) every page holding an object. Frozen here, never collected there.
        gc.collect()
        gc.freeze()

    def listen(self) -> socket.socket:
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # the socket file is 0600 from the start
        try:
            server.bind(str(self.socket_path))
        finally:
            os.umask(old)
        os.chmod(self.socket_path, 0o600)
        if self.socket_owner:
            # The web tier's user (another container): the only other one that may connect.
            import pwd

            entry = pwd.getpwnam(self.socket_owner)
            os.chown(self.socket_path, entry.pw_uid, entry.pw_gid)
        server.listen(256)
        server.setblocking(False)
        return server

    # -- the loop ---------------------------------------------------------------------------

    def serve(self) -> None:
        self.prepare()
        server = self.listen()
        self.server = server
        wake_read, wake_write = socket.socketpair()
        wake_read.setblocking(False)
        wake_write.setblocking(False)
        self.wake = (wake_read, wake_write)
        signal.set_wakeup_fd(wake_write.fileno())
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.selector.register(server, selectors.EVENT_READ, "accept")
        self.selector.register(wake_read, selectors.EVENT_READ, "wake")
        print(f"lab worker listening on {self.socket_path}", file=sys.stderr, flush=True)
        while True:
            waiting = [
                c.deadline
                for c in self.children.values()
                if not c.killed and c.deadline != float("inf")
            ] + [k.queued[2] for k in self.keepers.values() if k.queued is not None]
            if waiting:
                timeout: float | None = max(0.0, min(waiting) - time.monotonic())
            else:
                timeout = 1.0 if self.children else None  # killed children not yet reaped
            try:
                self._turn(timeout)
            except Exception as exc:  # one bad request must not end the worker
                print(f"lab worker: {exc!r}", file=sys.stderr, flush=True)

    def _turn(self, timeout: float | None) -> None:
        wake_read = self.wake[0]
        for key, _ in self.selector.select(timeout):
            if key.data == "accept":
                self._accept(self.server)
            elif key.data == "wake":
                with contextlib.suppress(BlockingIOError):
                    while wake_read.recv(4096):
                        pass
            elif key.data == "keeper":
                self._keeper_said(key.fileobj)
            else:
                self._read(key.fileobj)
        self._reap()
        self._enforce_deadlines()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                conn, _ = server.accept()
            except BlockingIOError:
                return
            conn.setblocking(False)
            self.pending[conn] = bytearray()
            self.selector.register(conn, selectors.EVENT_READ, "client")

    def _read(self, conn: socket.socket) -> None:
        buffer = self.pending[conn]
        # Exactly the first frame (op and limits), never more: the second frame carries the
        # learner's role password and code, and is read by the child alone, so that the warm
        # worker's memory (which every child inherits) never holds another learner's secret.
        wanted = (
            4 - len(buffer) if len(buffer) < 4 else 4 + HEADER.unpack(buffer[:4])[0] - len(buffer)
        )
        try:
            chunk = conn.recv(max(1, min(wanted, MAX_HEADER_BYTES)))
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._drop(conn)
            return
        buffer += chunk
        if len(buffer) < 4:
            return
        (size,) = HEADER.unpack(buffer[:4])
        if size > MAX_HEADER_BYTES:
            self._answer_and_drop(conn, failure("request", "The request is too large."))
            return
        if len(buffer) - 4 < size:
            return
        self.selector.unregister(conn)
        del self.pending[conn]
        try:
            request = json.loads(buffer[4 : 4 + size])
        except ValueError:
            self._answer_and_drop(conn, failure("request", "The request is not JSON."))
            return
        if request.get("op") == "ping":
            self._answer_and_drop(conn, {"ok": True, "pid": os.getpid()})
            return
        limits = request.get("limits") or {}
        key = request.get("key")
        if self.use_keepers and request.get("op") == "run" and isinstance(key, str) and key:
            keeper = self.keepers.get(key)
            if keeper is not None and not keeper.killed:
                if not keeper.busy:
                    self._give_to_keeper(keeper, conn, limits)
                    return
                if keeper.queued is None:
                    keeper.queued = (conn, limits, time.monotonic() + QUEUE_SECONDS)
                    return
            if keeper is None and len(self.free_slots) > self.slots // 4:
                self._fork_keeper(conn, key, limits)
                return
        self._fork_or_refuse(conn, limits)

    def _fork_or_refuse(self, conn: socket.socket, limits: dict) -> None:
        if not self.free_slots:
            self._answer_and_drop(
                conn,
                failure("busy", "Lab busy: every run slot of this worker is taken.", busy=True),
            )
            return
        self._fork(conn, limits)

    def _drop(self, conn: socket.socket) -> None:
        _debug("drop", conn)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(conn)
        self.pending.pop(conn, None)
        conn.close()

    def _answer_and_drop(self, conn: socket.socket, payload: dict) -> None:
        conn.setblocking(True)
        conn.settimeout(2)
        with contextlib.suppress(OSError):
            send_frame(conn, payload)
        conn.close()

    # -- children ---------------------------------------------------------------------------

    def _fork(self, conn: socket.socket, limits: dict) -> None:
        slot = self.free_slots.pop()
        self._next_uid()
        pid = os.fork()
        if pid == 0:  # the child
            try:
                self._become_child(conn, slot, limits)
                from sandbox.lab import execution

                conn.setblocking(True)
                conn.settimeout(5)
                request = read_frame(conn, MAX_REQUEST_BYTES)
                conn.settimeout(None)
                answer = execution.handle(request, lambda answer: send_frame(conn, answer))
                send_frame(conn, answer)
                os._exit(0)  # the connection dies with this child
            except BaseException:
                with contextlib.suppress(BaseException):
                    import traceback

                    detail = traceback.format_exc(limit=-3) if os.environ.get("LAB_DEBUG") else ""
                    conn.setblocking(True)
                    send_frame(conn, failure("InternalError", f"The lab failed. {detail}"))
                os._exit(70)
        wall = float(limits.get("wall_seconds", 5))
        self.children[pid] = Child(
            pid=pid,
            sock=conn,
            deadline=time.monotonic() + wall,
            slot=slot,
            limits=limits,
            started=time.monotonic(),
        )

    def _become_child(
        self, conn: socket.socket, slot: int, limits: dict, keep: tuple = (), nproc: int = 1
    ) -> None:
        # A run is short and its memory bounded by RLIMIT_AS: no cyclic collection (see prepare).
        gc.disable()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        close_other_descriptors({conn.fileno(), *(s.fileno() for s in keep)})
        limit_process(limits, self.uid if self.drop_privileges else None, nproc)

    # -- keepers ------------------------------------------------------------------------------
    #
    # A fresh PostgreSQL connection per run (a backend started, authenticated, its caches
    # filled) cost more than everything else in a run. A keeper is a child for ONE learner role:
    # limited and under a uid of its own like any child, it holds that role's connection (and
    # that learner's password; never another's: the worker itself never reads a password) and
    # forks a grandchild per run, which inherits the open connection, starts with DISCARD ALL
    # (nothing of the previous run's session survives: settings, prepared statements, temp
    # state) and exits when the run ends. A grandchild that ends uncleanly takes the
    # connection with it. A keeper idle for LAB_KEEPER_IDLE_SECONDS exits; at the wall clock the
    # worker kills the keeper's whole process group.

    def _next_uid(self) -> None:
        """A uid no process has had for a long while: a run's uid is its own even if a
        process of an earlier run (a killed keeper's run, not yet released by the kernel)
        lingers, and RLIMIT_NPROC, counted per uid, is this run's alone."""
        self.uid = self.uid_base + next(self._uids) % UID_RANGE

    def _fork_keeper(self, conn: socket.socket, key: str, limits: dict) -> None:
        slot = self.free_slots.pop()
        self._next_uid()
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            try:
                os.setpgid(0, 0)
                ours.close()
                # The keeper's own CPU over its life; each run gets the run's limit (below).
                keeper_limits = {**limits, "cpu_seconds": KEEPER_CPU_SECONDS}
                self._become_child(conn, slot, keeper_limits, keep=(theirs,), nproc=4)
                keeper_life(theirs, conn, limits)
            except BaseException:
                with contextlib.suppress(BaseException):
                    import traceback

                    detail = traceback.format_exc(limit=-3) if os.environ.get("LAB_DEBUG") else ""
                    conn.setblocking(True)
                    send_frame(conn, failure("InternalError", f"The lab failed. {detail}"))
                os._exit(70)
            os._exit(0)
        theirs.close()
        ours.setblocking(False)
        now = time.monotonic()
        keeper = Child(
            pid=pid,
            sock=conn,
            deadline=now + float(limits.get("wall_seconds", 5)),
            slot=slot,
            limits=limits,
            started=now,
            key=key,
            ctrl=ours,
            busy=True,
            last_used=now,
        )
        self.children[pid] = keeper
        self.keepers[key] = keeper
        self.selector.register(ours, selectors.EVENT_READ, "keeper")

    def _give_to_keeper(self, keeper: Child, conn: socket.socket, limits: dict) -> None:
        try:
            socket.send_fds(keeper.ctrl, [b"j"], [conn.fileno()])
        except OSError:
            self._retire(keeper)
            self._fork_or_refuse(conn, limits)
            return
        keeper.sock = conn
        keeper.limits = limits
        keeper.busy = True
        keeper.deadline = time.monotonic() + float(limits.get("wall_seconds", 5))

    def _keeper_said(self, ctrl: socket.socket) -> None:
        keeper = next((k for k in self.keepers.values() if k.ctrl is ctrl), None)
        try:
            said = ctrl.recv(64)
        except BlockingIOError:
            return
        except OSError:
            said = b""
        if keeper is None:
            return
        if not said:
            self._retire(keeper)
            return
        # The keeper answered its client: this worker's copy of the connection goes.
        keeper.sock.close()
        keeper.sock = _Closed()  # type: ignore[assignment]
        keeper.busy = False
        keeper.deadline = float("inf")
        keeper.last_used = time.monotonic()
        if keeper.queued is not None:
            conn, limits, _ = keeper.queued
            keeper.queued = None
            self._give_to_keeper(keeper, conn, limits)

    def _retire(self, keeper: Child) -> None:
        """Forget a keeper (it exited or is being ended); the reaper frees its slot. A request
        waiting for it gets a plain child."""
        if self.keepers.get(keeper.key) is keeper:
            del self.keepers[keeper.key]
        if keeper.queued is not None:
            conn, limits, _ = keeper.queued
            keeper.queued = None
            self._fork_or_refuse(conn, limits)
        if keeper.ctrl is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(keeper.ctrl)
            keeper.ctrl.close()
            keeper.ctrl = None

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self.children.pop(pid, None)
            _debug("reaped", pid, status, child)
            if child is None:
                continue
            self.free_slots.append(child.slot)
            if child.key is not None:
                self._retire(child)
                if not child.busy:
                    child.sock.close()
                    continue
            if os.WIFEXITED(status) and os.WEXITSTATUS(status) in ANSWERED:
                child.sock.close()
                continue
            self._answer_and_drop(child.sock, death_answer(status, child.limits))

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for keeper in list(self.keepers.values()):
            if keeper.queued is not None and keeper.queued[2] <= now:
                # The keeper's run is a long one: the learner's next run goes to a plain child.
                conn, limits, _ = keeper.queued
                keeper.queued = None
                self._fork_or_refuse(conn, limits)
        for child in list(self.children.values()):
            if child.deadline <= now and not child.killed:
                _debug("deadline", child)
                child.killed = True
                with contextlib.suppress(ProcessLookupError):
                    if child.key is not None:
                        self._retire(child)
                        os.killpg(child.pid, signal.SIGKILL)  # the keeper and its run
                    else:
                        os.kill(child.pid, signal.SIGKILL)
                # Answer at once; the reaper frees the slot when the kernel is done with it.
                self._answer_and_drop(child.sock, timeout_answer(child.limits))
                child.sock = _Closed()  # type: ignore[assignment]


def _debug(*what) -> None:
    if os.environ.get("LAB_DEBUG"):
        print("lab worker:", *what, file=sys.stderr, flush=True)


class _Closed:
    def close(self) -> None:
        pass

    def setblocking(self, flag: bool) -> None:
        pass

    def settimeout(self, value) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        pass

    def fileno(self) -> int:
        return -1


KEEPER_CPU_SECONDS = 600
# How long a learner's request waits for their keeper to finish its last run (see
# Child.queued) before it goes to a plain child with a connection of its own.
QUEUE_SECONDS = 0.2
UID_RANGE = 20_000  # uids LAB_UID_BASE … LAB_UID_BASE + 19,999, one per run or keeper


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", required=True, type=Path)
    parser.add_argument("--models-dir", required=True, type=Path)
    parser.add_argument("--uid-base", type=int, default=int(os.environ.get("LAB_UID_BASE", 61000)))
    parser.add_argument("--slots", type=int, default=int(os.environ.get("LAB_WORKER_SLOTS", 32)))
    parser.add_argument("--socket-owner", default=os.environ.get("LAB_SOCKET_OWNER") or None)
    args = parser.parse_args(argv)
    isolation_problem = refuse_reason()
    if isolation_problem:
        print(f"lab worker: {isolation_problem}", file=sys.stderr)
        sys.exit(2)
    Worker(
        args.socket, args.models_dir.resolve(), args.uid_base, args.slots, args.socket_owner
    ).serve()


def refuse_reason() -> str | None:
    """Why the worker must not start (LAB.md): with DEBUG=0 it needs OS isolation (root to drop
    privileges to, or bubblewrap around it), or LAB_ISOLATED_BY_OPERATOR=1."""
    debug = os.environ.get("DEBUG", "1").strip().lower() not in ("0", "false", "no", "off", "")
    operator = os.environ.get("LAB_ISOLATED_BY_OPERATOR", "").strip() == "1"
    in_bwrap = os.environ.get("QUERYLAB_LAB_BWRAP") == "1"
    if debug or operator or in_bwrap or os.geteuid() == 0:
        return None
    return (
        "refusing to start: DEBUG=0, not root (cannot drop privileges per run) and not under "
        "bubblewrap. Isolate the worker and set LAB_ISOLATED_BY_OPERATOR=1."
    )


if __name__ == "__main__":
    main()
