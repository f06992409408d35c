"""The benches' HTTP client: a learner's browser on one keep-alive connection to 127.0.0.1."""

from __future__ import annotations

import http.client
import socket
from http.cookies import SimpleCookie
from urllib.parse import urlencode


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
