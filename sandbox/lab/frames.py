"""The lab's wire format between the web process (``client``) and the worker: frames of JSON,
each after its length as a 4-byte big-endian integer."""

from __future__ import annotations

import json
import socket
import struct

MAX_REQUEST_BYTES = 1_000_000
MAX_HEADER_BYTES = 4096
HEADER = struct.Struct(">I")


def read_frame(sock: socket.socket, limit: int) -> dict:
    """One length-prefixed JSON frame from a blocking socket."""
    (size,) = HEADER.unpack(_read_exactly(sock, 4))
    if size > limit:
        raise ValueError("frame too large")
    return json.loads(_read_exactly(sock, size))


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
    return bytes(data)


def send_frame(sock: socket.socket, payload: dict) -> None:
    body = json.dumps(payload, default=str).encode()
    sock.sendall(HEADER.pack(len(body)) + body)


def frame(data: bytes) -> bytes:
    """``data`` as one frame."""
    return HEADER.pack(len(data)) + data
