"""The benches' HTTP client: a learner's browser on one keep-alive connection to 127.0.0.1."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections import Counter
from http.cookies import SimpleCookie
from urllib.parse import urlencode


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of the values, in their unit."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def line(label: str, values: list[float]) -> str:
    """One figure line of a bench's output: p50 and p99 in milliseconds."""
    return f"  {label:<34} p50 {pct(values, 50):7.2f} ms   p99 {pct(values, 99):7.2f} ms"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Browser:
    """One learner's browser: a keep-alive connection, cookies and the CSRF token."""

    def __init__(self, port: int, timeout: float = 60):
        self.port = port
        self.cookies: dict[str, str] = {}
        self.timeout = timeout
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str = ""
    ) -> tuple[int, bytes]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = content_type
            headers["X-CSRFToken"] = self.cookies.get("csrftoken", "")
            headers["Referer"] = f"http://127.0.0.1:{self.port}/"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                break
            except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                if attempt:
                    raise
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            for key, morsel in SimpleCookie(header).items():
                self.cookies[key] = morsel.value
        return response.status, data

    def form(self, path: str, fields: dict | list) -> tuple[int, bytes]:
        body = urlencode(fields, doseq=True).encode()
        return self.request("POST", path, body, "application/x-www-form-urlencoded")


class RawJsonPoster:
    """POSTs JSON on a keep-alive socket of its own, with the cookies and CSRF token of a
    ``Browser``, and as little client work as an HTTP request allows: the request head is built
    once, and the answer is read by its Content-Length. ``http.client`` parses every response's
    headers with the email package and builds each request anew; measured here that costs
    0.3-0.6 ms of this process's CPU per request, which would count as the server's time.
    (The floor it is compared with is libpq, a C client.)"""

    def __init__(self, browser: Browser, path: str, timeout: float = 60):
        self.port = browser.port
        self.timeout = timeout
        cookies = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
        self.head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Cookie: {cookies}\r\nX-CSRFToken: {browser.cookies.get('csrftoken', '')}\r\n"
            f"Referer: http://127.0.0.1:{self.port}/\r\nContent-Type: application/json\r\n"
        ).encode("latin-1")
        self.sock: socket.socket | None = None
        self.buffer = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        return sock

    def post(self, body: bytes) -> tuple[int, bytes]:
        """Status and body of one POST. The server may close a keep-alive connection between
        requests (it says so, or the socket shows it): then once more on a new one."""
        request = self.head + b"Content-Length: %d\r\n\r\n" % len(body) + body
        for attempt in range(2):
            if self.sock is None:
                self.sock = self._connect()
            try:
                self.sock.sendall(request)
                return self._answer()
            except (ConnectionError, EOFError):
                self.sock.close()
                self.sock = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _read(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("the server closed the connection")
        return chunk

    def _answer(self) -> tuple[int, bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._read()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, close = 0, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        while len(rest) < length:
            rest += self._read()
        self.buffer = rest[length:]
        if close:
            self.sock.close()
            self.sock = None
        return status, rest[:length]


def concurrent_runs(
    people: list, seconds: float, one_run, error_kinds: Counter
) -> tuple[float, int, int]:
    """Each of ``people`` calls ``one_run(person)`` (→ HTTP status, JSON answer) as fast as it
    can for ``seconds``, all starting together: (successful runs a second, runs, errors), and
    what went wrong counted in ``error_kinds``."""
    done = [0] * len(people)
    errors = [0] * len(people)
    stop = time.monotonic() + seconds
    start_line = threading.Barrier(len(people) + 1)

    def work(index: int) -> None:
        start_line.wait()
        while time.monotonic() < stop:
            try:
                status, answer = one_run(people[index])
                if status == 200 and answer.get("ok"):
                    done[index] += 1
                else:
                    errors[index] += 1
                    error_kinds[f"{status} {str(answer.get('error'))[:100]}"] += 1
            except Exception as exc:
                errors[index] += 1
                error_kinds[repr(exc)[:100]] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(people))]
    for thread in threads:
        thread.start()
    start_line.wait()
    started = time.monotonic()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return sum(done) / elapsed, sum(done), sum(errors)
