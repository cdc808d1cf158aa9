"""The device side: runs blocks ``[0, cut)`` (or encodes the frame as JPEG for cut 0), sends, waits.

A device keeps the simulator's structure: its own FIFO (the main thread computes one request after
another, each starting no earlier than its arrival), a sender thread that owns the uplink (so the
device computes the next request while the last one is still being sent), and a reader thread
that stamps each result's last byte and holds it for the downlink's propagation delay. Every stamp
is ``time.monotonic`` on this side; the server's stamps are moved onto this clock (offset 0 on one
machine, else estimated from ping-pongs at connection time).

Run as a child of ``e3gym validate run`` (``python -m e3gym.validate.device``: JSON commands on
stdin, one JSON answer per command on stdout) or through ``e3gym validate client``.
"""
from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from e3gym.errors import E3GymError
from e3gym.validate import framing as fr
from e3gym.validate.delay import DelayLine
from e3gym.validate.server import Sender, boot_id, bucket_from

CLOCK_PINGS = 8


@dataclass
class Job:
    """One run of a device: its requests ``(id, arrival_s)`` after ``t0``, on ``model`` cut at ``cut``."""

    model: str
    cut: int
    requests: list[tuple[int, float]]
    t0: float
    host: str = ""
    port: int = 0
    quality: int = 75
    delay_s: float = 0.0  # one-way propagation delay added in user space, each way
    shape: dict | None = None  # user-space shaping: {"schedule": [[t, bps], ...]} (t0 is added)
    user: int = 0
    timeout_s: float = 60.0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Job":
        return cls(model=d["model"], cut=int(d["cut"]), requests=[(int(i), float(a)) for i, a in d["requests"]],
                   t0=float(d["t0"]), host=d.get("host", ""), port=int(d.get("port", 0)),
                   quality=int(d.get("quality", 75)), delay_s=float(d.get("delay_s", 0.0)), shape=d.get("shape"),
                   user=int(d.get("user", 0)), timeout_s=float(d.get("timeout_s", 60.0)))


class Device:
    """A device with its models split and its camera frame ready (both sides of JPEG and tensor)."""

    def __init__(self, specs: list[str]):
        from e3gym.validate.frame import camera_frame, to_tensor
        from e3gym.validate.server import load_models

        self.models = load_models(specs)
        self.frame = camera_frame()
        self.input = to_tensor(self.frame)

    def _work(self, job: Job) -> bytes:
        """What the device does for one request: encode the frame, or run blocks [0, cut) and serialize."""
        from e3gym.validate.frame import encode_jpeg

        if job.cut == 0:
            return encode_jpeg(self.frame, job.quality)
        model = self.models[job.model]
        y = model.run(self.input, 0, job.cut)
        return y.contiguous().numpy().tobytes() if job.cut < model.n_blocks else b""

    def run(self, job: Job) -> dict[str, Any]:
        """Serve the job's requests; returns per-request stamps (seconds after t0, this clock)."""
        if job.model not in self.models:
            raise E3GymError(f"this device has no model {job.model!r}")
        model = self.models[job.model]
        model.check_cut(job.cut)
        local = job.cut >= model.n_blocks
        link = None if local else _Link(job, model.n_blocks)
        try:
            for _ in range(3):  # warm up this cut's code path outside the timed run
                self._work(job)
            if time.monotonic() > job.t0:
                raise E3GymError("setup took longer than the start margin; the machine is too busy "
                                 "(retry, or raise --start-margin)")
            records = []
            for request_id, arrival in job.requests:
                due = job.t0 + arrival
                while (left := due - time.monotonic()) > 0:
                    time.sleep(left)
                start = time.monotonic()
                payload = self._work(job)
                ready = time.monotonic()
                rec = {"id": request_id, "user": job.user, "arrival": arrival, "start": start - job.t0,
                       "ready": ready - job.t0, "bytes_up": len(payload)}
                records.append(rec)
                if link is None:
                    rec["delivered"] = rec["ready"]
                else:
                    link.check_alive(len(records), len(job.requests))  # fail now, not after the whole schedule
                    link.send(rec, fr.encode(fr.REQUEST, fr.request_body(request_id, job.cut, payload)))
            if link is not None:
                link.wait_all(len(records), job.timeout_s)
                for rec in records:
                    link.finish(rec)
            return {"records": records, "offset_s": link.offset_s if link else 0.0,
                    "rtt_s": link.rtt_s if link else None}
        finally:
            if link is not None:
                link.close()


class _Link:
    """The device's connection for one job: hello, clock sync, sender and reader threads."""

    def __init__(self, job: Job, n_blocks: int):
        self.job = job
        try:
            self.sock = socket.create_connection((job.host, job.port), timeout=10)
        except OSError as err:
            raise E3GymError(f"cannot connect to the edge server at {job.host}:{job.port} ({err.strerror or err}): "
                             "is it running (e3gym validate serve), and is the port right?") from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        shape = dict(job.shape, t0=job.t0) if job.shape else None
        self.sock.sendall(fr.encode(fr.HELLO, fr.json_body({"model": job.model, "user": job.user,
                                                             "delay_s": job.delay_s, "shape": shape})))
        reply = self._expect(fr.HELLO_OK, "hello")
        hello = fr.parse_json(reply.body, "hello-ok")
        if hello.get("n_blocks") != n_blocks:
            raise E3GymError(f"the edge server splits {job.model} into {hello.get('n_blocks')} blocks, this device "
                             f"into {n_blocks}: run both sides with the same e3gym and torch")
        self.offset_s, self.rtt_s = self._clock(hello.get("boot_id") == boot_id() != "")
        self.sock.settimeout(None)
        self.results: dict[int, tuple[dict[str, float], float, float]] = {}
        self.sent: dict[int, tuple[float, float]] = {}
        self._rec_by_id: dict[int, dict] = {}
        self.done = threading.Condition()
        self.error: str | None = None
        self.delay = DelayLine(job.delay_s, self._delivered, name="e3v-delay-down")
        self.sender = Sender(self.sock, bucket_from(shape), name="e3v-send-up")
        self.sender.on_sent = self._sent
        self.reader = threading.Thread(target=self._read, daemon=True, name="e3v-read")
        self.reader.start()

    def _expect(self, kind: int, what: str) -> fr.Message:
        try:
            msg = fr.read_message(self.sock)
        except fr.PeerClosed:
            raise E3GymError(f"the edge server closed the connection during the {what}") from None
        except socket.timeout:
            raise E3GymError(f"the edge server did not answer the {what} within 10 s") from None
        if msg.kind == fr.ERROR:
            raise E3GymError(f"the edge server refused: {msg.body.decode('utf-8', 'replace')}")
        if msg.kind != kind:
            raise fr.FramingError(f"expected a {fr.KIND_NAMES[kind]} message, got {fr.KIND_NAMES[msg.kind]}")
        return msg

    def _clock(self, same_machine: bool) -> tuple[float, float]:
        """(server clock - device clock, round trip) from ping-pongs; offset 0 on one machine."""
        best = None
        for _ in range(CLOCK_PINGS):
            t_send = time.monotonic()
            self.sock.sendall(fr.encode(fr.CLOCK, fr.CLOCK_BODY.pack(t_send, 0.0)))
            msg = self._expect(fr.CLOCK, "clock sync")
            t_recv = time.monotonic()
            _, t_server = fr.CLOCK_BODY.unpack(msg.body)
            sample = (t_recv - t_send, t_server - (t_send + t_recv) / 2)
            best = sample if best is None or sample[0] < best[0] else best
        rtt, offset = best
        return (0.0 if same_machine else offset), rtt

    def send(self, rec: dict, data: bytes) -> None:
        self._rec_by_id[rec["id"]] = rec
        self.sender.put(data, rec["id"])

    def _sent(self, request_id: object, start: float, end: float) -> None:
        self.sent[request_id] = (start, end)

    def _read(self) -> None:
        try:
            while True:
                msg = fr.read_message(self.sock)
                if msg.kind == fr.ERROR:
                    raise E3GymError(f"the edge server reported: {msg.body.decode('utf-8', 'replace')}")
                if msg.kind != fr.RESULT:
                    continue
                request_id, stamps, _top5 = fr.parse_result(msg.body)
                self.delay.put((request_id, stamps, msg.done_s), msg.done_s)
        except fr.PeerClosed:
            self._fail(None)
        except (OSError, ValueError) as err:
            self._fail(str(err))

    def _fail(self, why: str | None) -> None:
        with self.done:
            if self.error is None:
                self.error = why or ""
            self.done.notify_all()

    def _delivered(self, item: tuple, t: float) -> None:
        request_id, stamps, recv_done = item
        with self.done:
            self.results[request_id] = (stamps, recv_done, t)
            self.done.notify_all()

    def check_alive(self, sent: int, n: int) -> None:
        """ValueError, in one line, when the edge server has gone (read or send side)."""
        if self.error is None and self.sender.error is not None:
            self._fail(f"sending failed: {self.sender.error}")
        if self.error is not None:
            why = f": {self.error}" if self.error else ""
            raise E3GymError(f"the edge server at {self.job.host}:{self.job.port} closed the connection "
                             f"mid-run (after {len(self.results)} results, {sent} of {n} requests sent){why}; "
                             "check that it is still running")

    def wait_all(self, n: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        with self.done:
            while len(self.results) < n:
                if self.error is not None or self.sender.error is not None:
                    self.check_alive(n, n)  # the condition's lock is re-entrant
                left = deadline - time.monotonic()
                if left <= 0:
                    raise E3GymError(f"only {len(self.results)} of {n} results came back within {timeout_s:.0f} s "
                                     "after the last request; the link or the server is stalled")
                self.done.wait(min(left, 0.5))

    def finish(self, rec: dict) -> None:
        """Add the send, server and receive stamps (device clock, seconds after t0) to ``rec``."""
        t0, off = self.job.t0, self.offset_s
        stamps, recv_done, delivered = self.results[rec["id"]]
        send_start, send_done = self.sent.get(rec["id"], (float("nan"), float("nan")))
        rec.update(send_start=send_start - t0, send_done=send_done - t0, recv_done=recv_done - t0,
                   delivered=delivered - t0, server={k: v - off - t0 for k, v in stamps.items()})

    def close(self) -> None:
        self.sender.put(fr.encode(fr.BYE))  # behind anything still being sent: never inside a message
        self.sender.close()
        self.delay.close()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def main(argv: list[str] | None = None) -> int:
    """Child entry point: loads the models, answers ``{"ready": ...}``, then runs one job per stdin line."""
    p = argparse.ArgumentParser(prog="python -m e3gym.validate.device")
    p.add_argument("--models", required=True)
    p.add_argument("--cores", default="")
    args = p.parse_args(argv)
    from e3gym.validate.procs import die_with_parent, pin

    die_with_parent()
    cores = pin([int(c) for c in args.cores.split(",") if c])
    try:
        device = Device(args.models.split(","))
    except ValueError as err:
        print(json.dumps({"error": str(err)}), flush=True)
        return 2
    print(json.dumps({"ready": True, "cores": cores}), flush=True)
    for line in sys.stdin:  # EOF: the parent is done (or gone)
        try:
            cmd = json.loads(line)
            print(json.dumps(device.run(Job.from_dict(cmd))), flush=True)
        except (ValueError, KeyError, TypeError) as err:
            print(json.dumps({"error": str(err) or type(err).__name__}), flush=True)
        except OSError as err:  # the edge went away: say so in one line, as for a closed connection
            print(json.dumps({"error": f"lost the edge server ({err.strerror or err}); check that it is still "
                                       f"running"}), flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
