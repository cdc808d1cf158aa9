"""The wire format between device and edge: length-prefixed binary messages over TCP (never pickle).

Every message is an 8-byte header, ``!4sI`` = magic ``b"E3V"`` + one kind byte, then the body
length, followed by the body. Bodies are fixed ``struct`` layouts, raw bytes (JPEG, float32
tensors, top-5) or UTF-8 JSON for the few control messages (hello, errors): all of it is data,
nothing received is ever executed. A peer that closes the connection inside a message raises
:class:`PeerClosed`; a malformed header raises :class:`FramingError`.
"""
from __future__ import annotations

import json
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any

from e3gym.errors import E3GymError

MAGIC = b"E3V"
HEADER = struct.Struct("!4sI")
MAX_BODY_BYTES = 64 << 20  # a float32 activation of a 224x224 CNN is a few MB at most

# kinds
HELLO, HELLO_OK, CLOCK, REQUEST, RESULT, ERROR, BYE = range(1, 8)
KIND_NAMES = {HELLO: "hello", HELLO_OK: "hello-ok", CLOCK: "clock", REQUEST: "request", RESULT: "result",
              ERROR: "error", BYE: "bye"}

REQUEST_HEAD = struct.Struct("!IH")  # request id, cut
CLOCK_BODY = struct.Struct("!dd")  # the client's send time (echoed), the server's clock (0 in the request)
TOP5 = struct.Struct("!5q5f")  # torch.topk's int64 indices and float32 scores: the 60 B result
# request id, then the server's monotonic stamps: first byte, last byte, delivered (after the
# propagation delay), job start, decode done, compute done, then the top-5
RESULT_HEAD = struct.Struct("!I6d")
SERVER_STAMPS = ("recv_first", "recv_done", "delivered", "start", "decoded", "computed")


class FramingError(E3GymError):
    """Bytes that are not an e3gym validate message (wrong magic, unknown kind, oversized body)."""


class PeerClosed(ConnectionError):
    """The peer closed the connection (cleanly between messages when ``between`` is True)."""

    def __init__(self, message: str, between: bool):
        super().__init__(message)
        self.between = between


@dataclass
class Message:
    """One received message and when its first and last bytes arrived (``time.monotonic``)."""

    kind: int
    body: bytes
    first_s: float = 0.0
    done_s: float = 0.0


def encode(kind: int, body: bytes = b"") -> bytes:
    """Header + body, ready for ``sendall``."""
    if kind not in KIND_NAMES:
        raise FramingError(f"unknown message kind {kind}")
    if len(body) > MAX_BODY_BYTES:
        raise FramingError(f"message body of {len(body)} bytes exceeds {MAX_BODY_BYTES}")
    return HEADER.pack(MAGIC + bytes([kind]), len(body)) + body


def decode_header(header: bytes) -> tuple[int, int]:
    """(kind, body length) of an 8-byte header."""
    tag, length = HEADER.unpack(header)
    if tag[:3] != MAGIC:
        raise FramingError(f"not an e3gym validate peer (got bytes {tag!r}); check --host/--port")
    kind = tag[3]
    if kind not in KIND_NAMES:
        raise FramingError(f"unknown message kind {kind}")
    if length > MAX_BODY_BYTES:
        raise FramingError(f"message body of {length} bytes exceeds {MAX_BODY_BYTES}")
    return kind, length


def _recv_exact(sock: socket.socket, n: int, between: bool) -> bytes:
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise PeerClosed("the peer closed the connection" + ("" if between and got == 0 else " mid-message"),
                             between and got == 0)
        got += k
    return bytes(buf)


def read_message(sock: socket.socket) -> Message:
    """Block until one whole message has arrived; stamps its first and last byte."""
    first = sock.recv(1)  # wait for the first byte on its own: that is when the transfer began
    t_first = time.monotonic()
    if not first:
        raise PeerClosed("the peer closed the connection", True)
    kind, length = decode_header(first + _recv_exact(sock, HEADER.size - 1, False))
    body = _recv_exact(sock, length, False) if length else b""
    return Message(kind, body, t_first, time.monotonic())


def json_body(obj: Any) -> bytes:
    """A control message body: compact UTF-8 JSON."""
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


def parse_json(body: bytes, what: str) -> dict:
    """The JSON object of a control message (FramingError when it is not one)."""
    try:
        obj = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FramingError(f"malformed {what} message: {err}") from None
    if not isinstance(obj, dict):
        raise FramingError(f"malformed {what} message: expected a JSON object")
    return obj


def request_body(request_id: int, cut: int, payload: bytes) -> bytes:
    """A request: id, cut, then the JPEG frame (cut 0) or the float32 activation."""
    return REQUEST_HEAD.pack(request_id, cut) + payload


def parse_request(body: bytes) -> tuple[int, int, memoryview]:
    """(request id, cut, payload) of a request body."""
    if len(body) < REQUEST_HEAD.size:
        raise FramingError("truncated request message")
    request_id, cut = REQUEST_HEAD.unpack_from(body)
    return request_id, cut, memoryview(body)[REQUEST_HEAD.size:]


def result_body(request_id: int, stamps: dict[str, float], indices: list[int], scores: list[float]) -> bytes:
    """A result: id, the server's stamps, then the 60-byte top-5."""
    return RESULT_HEAD.pack(request_id, *(stamps[k] for k in SERVER_STAMPS)) + TOP5.pack(*indices, *scores)


def parse_result(body: bytes) -> tuple[int, dict[str, float], bytes]:
    """(request id, server stamps, top-5 bytes) of a result body."""
    if len(body) != RESULT_HEAD.size + TOP5.size:
        raise FramingError(f"result message of {len(body)} bytes, expected {RESULT_HEAD.size + TOP5.size}")
    request_id, *stamps = RESULT_HEAD.unpack_from(body)
    return request_id, dict(zip(SERVER_STAMPS, stamps)), body[RESULT_HEAD.size:]
