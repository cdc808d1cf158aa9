"""The edge server: runs blocks ``[cut, L)`` of each request on ``k`` FIFO workers and sends the top-5 back.

One thread reads each connection and stamps a request's first and last byte; a
:class:`~e3gym.validate.delay.DelayLine` holds it for the one-way propagation delay the client asked
for; then it joins one FIFO queue that ``k`` worker threads serve (torch and Pillow release the GIL,
each worker runs one torch thread). A worker decodes the JPEG (cut 0) with Pillow, runs the blocks,
and queues the result (request id, the server's stamps, the 60-byte top-5) on the connection's
sender thread, which paces it with a token bucket when the client asked for user-space shaping.

Run it on its own with ``e3gym validate serve`` (two machines) or as a child of ``e3gym validate run``
(``python -m e3gym.validate.server``, which answers one JSON line on stdout once it listens).
"""
from __future__ import annotations

import argparse
import errno
import json
import math
import queue
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from e3gym.errors import E3GymError
from e3gym.validate import framing as fr
from e3gym.validate.delay import DelayLine
from e3gym.validate.shaping import TokenBucket, rate_at

CHUNK_BYTES = 1448  # one MSS: what a paced sender hands the socket at a time
SEGMENT_OVERHEAD = 52  # TCP/IP headers per segment, charged to the token bucket as the simulator counts them


def boot_id() -> str:
    """This boot's id: equal on both sides means one machine, so one monotonic clock."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return ""


def paced_sendall(sock: socket.socket, data: bytes, bucket: TokenBucket | None) -> None:
    """``sendall``, or segment by segment through ``bucket`` (user-space shaping)."""
    if bucket is None:
        sock.sendall(data)
        return
    view = memoryview(data)
    for i in range(0, len(view), CHUNK_BYTES):
        chunk = view[i:i + CHUNK_BYTES]
        bucket.take(len(chunk) + SEGMENT_OVERHEAD)
        sock.sendall(chunk)


def bucket_from(shape: dict | None) -> TokenBucket | None:
    """The token bucket a hello's ``shape`` asks for: ``{"schedule": [[t, bps], ...], "t0": monotonic}``."""
    if not shape:
        return None
    schedule = [(float(t), float(r)) for t, r in shape["schedule"]]
    t0 = float(shape["t0"])
    return TokenBucket(lambda now: rate_at(schedule, now - t0))


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (ValueError saying what to do when the port is taken or the address is wrong)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise E3GymError(f"port {port} on {host} is in use: pick another --port "
                             "(or stop what listens there)") from None
        raise E3GymError(f"cannot listen on {host}:{port} ({err.strerror}): check --host/--port") from None
    sock.listen(64)
    return sock


class Sender:
    """A connection's outgoing messages, sent in order by one thread (paced when a bucket is given)."""

    def __init__(self, sock: socket.socket, bucket: TokenBucket | None, name: str):
        self.sock, self.bucket = sock, bucket
        self._q: queue.Queue = queue.Queue()
        self.error: BaseException | None = None
        self.on_sent: Callable[[object, float, float], None] | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)
        self._thread.start()

    def put(self, data: bytes, tag: object = None) -> None:
        self._q.put((data, tag))

    def _run(self) -> None:
        while True:
            data, tag = self._q.get()
            if data is None:
                return
            start = time.monotonic()
            try:
                paced_sendall(self.sock, data, self.bucket)
            except OSError as err:
                self.error = err
                return
            if self.on_sent is not None:
                self.on_sent(tag, start, time.monotonic())

    def close(self) -> None:
        self._q.put((None, None))
        self._thread.join(timeout=5)


@dataclass
class Job:
    """One request waiting for a worker."""

    conn: "Connection"
    request_id: int
    cut: int
    payload: memoryview
    stamps: dict[str, float] = field(default_factory=dict)


class Connection:
    """One device's connection: its model, its reader, its delay line and its sender."""

    def __init__(self, server: "EdgeServer", sock: socket.socket, peer: str):
        self.server, self.sock, self.peer = server, sock, peer
        self.closed = False
        self.sender: Sender | None = None
        self.model = None

    def serve(self) -> None:
        try:
            self._handshake()
            delay = DelayLine(self.delay_s, self._delivered, name=f"e3v-delay-{self.peer}")
            try:
                self._read_loop(delay)
            finally:
                delay.close()
        except fr.PeerClosed as err:
            if not err.between:
                self.server.log(f"{self.peer}: closed the connection mid-message")
        except (fr.FramingError, ValueError, KeyError, TypeError, IndexError) as err:
            # a malformed hello or request from the peer: tell it in one line, keep serving others
            self._send_error(str(err) or type(err).__name__)
            self.server.log(f"{self.peer}: {err!r}")
        except OSError as err:
            self.server.log(f"{self.peer}: connection error: {err}")
        finally:
            self.closed = True
            if self.sender is not None:
                self.sender.close()
            self.sock.close()

    def _send_error(self, text: str) -> None:
        data = fr.encode(fr.ERROR, text.encode("utf-8"))
        if self.sender is not None:  # behind whatever the sender thread is writing: frames never interleave
            self.sender.put(data)
            return
        try:
            self.sock.sendall(data)
        except OSError:
            pass

    def _handshake(self) -> None:
        msg = fr.read_message(self.sock)
        if msg.kind != fr.HELLO:
            raise fr.FramingError(f"expected a hello, got a {fr.KIND_NAMES[msg.kind]} message")
        hello = fr.parse_json(msg.body, "hello")
        spec = hello.get("model")
        if spec not in self.server.models:
            raise E3GymError(f"this edge server has no model {spec!r}; it serves {', '.join(self.server.models)} "
                             "(start it with --models naming it)")
        self.model = self.server.models[spec]
        delay = hello.get("delay_s", 0.0)
        if not isinstance(delay, (int, float)) or not 0 <= delay <= 10:
            raise E3GymError(f"delay_s must be a number of seconds in [0, 10], got {delay!r}")
        self.delay_s = float(delay)
        self.sender = Sender(self.sock, bucket_from(hello.get("shape")), name=f"e3v-send-{self.peer}")
        self.sender.put(fr.encode(fr.HELLO_OK, fr.json_body(
            {"boot_id": boot_id(), "model": spec, "n_blocks": self.model.n_blocks, "workers": self.server.workers})))

    def _read_loop(self, delay: DelayLine) -> None:
        n_blocks = self.model.n_blocks
        while True:
            msg = fr.read_message(self.sock)
            if msg.kind == fr.BYE:
                return
            if msg.kind == fr.CLOCK:
                sent, _ = fr.CLOCK_BODY.unpack(msg.body)
                self.sender.put(fr.encode(fr.CLOCK, fr.CLOCK_BODY.pack(sent, time.monotonic())))
                continue
            if msg.kind != fr.REQUEST:
                raise fr.FramingError(f"unexpected {fr.KIND_NAMES[msg.kind]} message")
            request_id, cut, payload = fr.parse_request(msg.body)
            if not 0 <= cut < n_blocks:
                raise E3GymError(f"request {request_id}: cut {cut} is outside {self.model.spec}'s blocks "
                                 f"0..{n_blocks - 1}")
            if cut > 0:
                expect = 4 * math.prod(self.model.activation_shape(cut))
                if len(payload) != expect:
                    raise E3GymError(f"request {request_id}: {len(payload)} bytes of activation at cut {cut}, "
                                     f"expected {expect} (float32 {self.model.activation_shape(cut)})")
            job = Job(self, request_id, cut, payload, {"recv_first": msg.first_s, "recv_done": msg.done_s})
            delay.put(job, msg.done_s)

    def _delivered(self, job: Job, t: float) -> None:
        job.stamps["delivered"] = t
        self.server.jobs.put(job)



class EdgeServer:
    """Listens on ``host:port`` and serves ``models`` (name -> SplitModel) with ``workers`` FIFO workers."""

    def __init__(self, models: dict, workers: int, host: str = "127.0.0.1", port: int = 0,
                 log: Callable[[str], None] | None = None, sock: socket.socket | None = None):
        if workers < 1:
            raise E3GymError(f"--workers must be >= 1, got {workers}")
        self.models, self.workers = models, workers
        self.log = log or (lambda text: print(f"e3gym validate serve: {text}", file=sys.stderr, flush=True))
        self.sock = sock or bind(host, port)  # a socket bound before the slow model loading fails fast
        self.address = self.sock.getsockname()[:2]
        self.jobs: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        for w in range(workers):
            threading.Thread(target=self._work, daemon=True, name=f"e3v-worker-{w}").start()

    def _work(self) -> None:
        import torch

        from e3gym.validate.frame import decode_jpeg, to_tensor

        while True:
            job: Job = self.jobs.get()
            if job is None:
                return
            if job.conn.closed:
                continue
            model = job.conn.model
            job.stamps["start"] = time.monotonic()
            try:
                if job.cut == 0:
                    frame = decode_jpeg(job.payload)
                    job.stamps["decoded"] = time.monotonic()  # the codec alone, as the simulator models it
                    x = to_tensor(frame)  # preprocessing: counted with the compute
                else:
                    shape = model.activation_shape(job.cut)
                    x = torch.frombuffer(bytearray(job.payload), dtype=torch.float32).view(shape)
                    job.stamps["decoded"] = time.monotonic()
                y = model.run(x, job.cut, model.n_blocks)
                scores, indices = torch.topk(y.reshape(-1), 5)
                job.stamps["computed"] = time.monotonic()
            except (ValueError, RuntimeError) as err:
                job.conn.sender.put(fr.encode(fr.ERROR, f"request {job.request_id}: {err}".encode("utf-8")))
                continue
            body = fr.result_body(job.request_id, job.stamps, indices.tolist(), scores.tolist())
            job.conn.sender.put(fr.encode(fr.RESULT, body))

    def serve_forever(self) -> None:
        """Accept connections until :meth:`stop` (each served by its own thread)."""
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                raise
            conn.settimeout(None)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c = Connection(self, conn, f"{peer[0]}:{peer[1]}")
            threading.Thread(target=c.serve, daemon=True, name=f"e3v-conn-{peer[1]}").start()

    def stop(self) -> None:
        self._stop.set()
        for _ in range(self.workers):
            self.jobs.put(None)
        self.sock.close()


def load_models(specs: list[str], warmup: int = 3) -> dict:
    """Split every model and run it ``warmup`` times (first calls allocate and are slow)."""
    import torch

    from e3gym.validate.frame import camera_frame, to_tensor
    from e3gym.validate.models import split_model

    x = to_tensor(camera_frame())
    out = {}
    for spec in specs:
        m = split_model(spec)
        for _ in range(warmup):
            with torch.inference_mode():
                m.run(x, 0, m.n_blocks)
        out[spec] = m
    return out


def main(argv: list[str] | None = None) -> int:
    """Child entry point: ``python -m e3gym.validate.server --models a,b --workers k --host H --port P``."""
    p = argparse.ArgumentParser(prog="python -m e3gym.validate.server")
    p.add_argument("--models", required=True)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--cores", default="")
    args = p.parse_args(argv)
    from e3gym.validate.procs import pin, stdin_watchdog

    stdin_watchdog()  # the parent closes our stdin to stop us, or dies
    try:
        sock = bind(args.host, args.port)
        pin([int(c) for c in args.cores.split(",") if c])
        server = EdgeServer(load_models(args.models.split(",")), args.workers, sock=sock)
    except ValueError as err:
        print(json.dumps({"error": str(err)}), flush=True)
        return 2
    print(json.dumps({"listening": list(server.address)}), flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
