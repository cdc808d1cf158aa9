"""A validation session: the link, the edge and device processes, the grid of runs, and the cleanup.

:class:`Session` owns everything a run creates (namespaces, veth, child processes) and removes it on
exit, on an exception and on Ctrl-C or SIGTERM (:func:`signals_raise`). One run is one
``(link, load, model, cut)``: the devices get their requests (seeded Poisson arrivals, the same
for every cut of a cell), connect, warm up and start together at ``t0``; the link is shaped from
``t0`` on (tc in namespaces, a token bucket in each sender in loopback); each device answers its
stamps. Modes:

* ``netns``: device processes in one namespace, the edge in another, one tbf-shaped veth between
  them (the devices share it: one cell);
* ``loopback``: all on 127.0.0.1, each sender paces itself (each device has its own link: one
  cell per user), used where namespaces cannot be made;
* ``remote``: a server started elsewhere with ``e3gym validate serve`` (two machines).
"""
from __future__ import annotations

import contextlib
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from e3gym.errors import E3GymError
from e3gym.validate import netns
from e3gym.validate.procs import Child, split_cores
from e3gym.validate.shaping import LinkSpec, ScheduleRunner

EDGE_PORT = 5399  # inside the edge namespace nothing else listens


@dataclass
class Settings:
    """Everything a validation session needs to know."""

    out: Path
    links: list[LinkSpec]
    loads: list[float]
    models: list[str]
    cuts: list[int] | None = None  # None: each model's default cuts
    requests: int = 40
    rtt_ms: float | None = 20.0  # None (remote only): the RTT measured at connection time
    workers: int = 1
    quality: int = 75
    users: int = 2
    seed: int = 0
    mode: str = "auto"  # auto, netns, loopback, remote
    host: str = ""  # remote: the server
    port: int = 0
    start_margin_s: float = 1.0
    shape_remote: bool = False  # remote: also pace in user space at the grid's rates


def arrivals(load_per_s: float, n: int, n_users: int, seed: int) -> list[tuple[int, float, int]]:
    """``n`` requests ``(id, arrival_s, user)`` of a Poisson process of ``load_per_s`` in all, users at random."""
    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.exponential(1.0 / load_per_s, n))
    users = rng.integers(n_users, size=n)
    return [(i, float(t), int(u)) for i, (t, u) in enumerate(zip(times, users))]


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Turn SIGTERM (and SIGHUP) into KeyboardInterrupt while inside, so ``finally`` blocks clean up."""
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    # signal handlers can only be set from the main thread; elsewhere the caller handles its own signals
    main = threading.current_thread() is threading.main_thread()
    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)} if main else {}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


class Session:
    """The processes and the link of one validation (a context manager: leaves nothing behind)."""

    def __init__(self, settings: Settings, log: Callable[[str], None] | None = None):
        from rich.console import Console

        self.s = settings
        self.log = log or Console(stderr=True).print
        self.link: netns.NetnsLink | None = None
        self.server: Child | None = None
        self.devices: list[Child] = []
        self.mode = settings.mode
        self.mode_note = ""
        self.address: tuple[str, int] = ("", 0)
        self.rtt_measured_s: float | None = None

    # ------------------------------------------------------------------ set-up and clean-up
    def __enter__(self) -> "Session":
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _resolve_mode(self) -> None:
        if self.mode == "remote":
            self.mode_note = f"remote edge server at {self.s.host}:{self.s.port}; real network between the machines"
            return
        why = netns.netns_unavailable() if self.mode in ("auto", "netns") else None
        if why and self.mode == "netns":
            raise E3GymError(why)
        if why or self.mode == "loopback":
            how = f"LOOPBACK fallback, no namespaces: {why}" if why else "LOOPBACK (--mode loopback)"
            self.mode = "loopback"
            self.mode_note = (f"{how}; user-space token buckets in each sender instead of tc, each device with its "
                              "own link")
            self.log(f"[yellow]note:[/] {self.mode_note}")
        else:
            self.mode = "netns"
            self.mode_note = "network namespaces joined by a veth pair shaped with tc tbf; delay in user space"

    def _start(self) -> None:
        self._resolve_mode()
        logs = self.s.out / "logs"
        models = ",".join(self.s.models)
        dev_cores, edge_cores = split_cores(self.s.workers)
        dev_prefix: list[str] = []
        if self.mode == "netns":
            removed = netns.remove_stale()
            if removed:
                self.log(f"removed namespaces left by runs that died: {', '.join(removed)}")
            self.link = netns.NetnsLink()
            self.link.create(self.s.links[0].schedule(1.0)[0][1])
            dev_prefix = self.link.exec_prefix("device")
            host, port = netns.EDGE_ADDR, self.s.port or EDGE_PORT
        else:
            host, port = ("127.0.0.1", self.s.port) if self.mode == "loopback" else (self.s.host, self.s.port)
        if self.mode != "remote":
            prefix = self.link.exec_prefix("edge") if self.link else []
            self.server = Child("edge server", ["-m", "e3gym.validate.server", "--models", models, "--workers",
                                                str(self.s.workers), "--host", host, "--port", str(port), "--cores",
                                                ",".join(map(str, edge_cores))], logs / "edge.log", prefix)
        self.devices = []
        for u in range(self.s.users):  # one at a time, so close() stops every one already started
            self.devices.append(Child(f"device {u}", ["-m", "e3gym.validate.device", "--models", models, "--cores",
                                                      ",".join(map(str, dev_cores))], logs / f"device-{u}.log",
                                      dev_prefix))
        if self.server is not None:
            host, port = self.server.recv(timeout_s=120)["listening"]
        self.address = (host, int(port))
        for d in self.devices:
            d.recv(timeout_s=120)

    def close(self) -> None:
        """Stop every child, then remove the namespaces (a namespace lives on while a process is in it)."""
        # a second Ctrl-C must not cut the clean-up short: it is held until everything is gone
        main = threading.current_thread() is threading.main_thread()
        held = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
        if main:
            signal.pthread_sigmask(signal.SIG_BLOCK, held)
        try:
            for child in [*self.devices, *([self.server] if self.server else [])]:
                with contextlib.suppress(Exception):
                    child.stop()
            self.devices, self.server = [], None
            if self.link is not None:
                self.link.destroy()
                self.link = None
        finally:
            if main:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, held)

    # ------------------------------------------------------------------ one run
    @property
    def shared_cell(self) -> bool:
        """One medium for all devices: one veth, or one real network; each paced sender is its own link."""
        return self.mode == "netns" or (self.mode == "remote" and not self.s.shape_remote)

    @property
    def delay_s(self) -> float:
        """One-way delay added in user space (none on a real network)."""
        return 0.0 if self.mode == "remote" else (self.s.rtt_ms or 0.0) / 2e3

    def run(self, model: str, cut: int, link: LinkSpec, requests: list[tuple[int, float, int]]) -> list[dict]:
        """Run ``requests`` at ``cut`` over ``link``; the per-request records of every device."""
        horizon = requests[-1][1] + 120.0
        schedule = link.schedule(horizon)
        paced = self.mode == "loopback" or (self.mode == "remote" and self.s.shape_remote)
        if self.link is not None:
            self.link.set_rate(schedule[0][1])
        t0 = time.monotonic() + self.s.start_margin_s
        active = []
        for u, dev in enumerate(self.devices):
            mine = [[i, a] for i, a, user in requests if user == u]
            if not mine:
                continue
            dev.send({"model": model, "cut": cut, "requests": mine, "t0": t0, "host": self.address[0],
                      "port": self.address[1], "quality": self.s.quality, "delay_s": self.delay_s,
                      "shape": {"schedule": schedule} if paced else None, "user": u,
                      "timeout_s": 60.0 + 2.0 * len(requests)})
            active.append(dev)
        runner = None
        if self.link is not None and len(schedule) > 1:
            runner = ScheduleRunner(schedule, t0, self.link.set_rate)
            runner.start()
        try:
            records, rtts = [], []
            for dev in active:
                answer = dev.recv(timeout_s=self.s.start_margin_s + requests[-1][1] + 120.0 + 2.0 * len(requests))
                records.extend(answer["records"])
                if answer.get("rtt_s") is not None:
                    rtts.append(answer["rtt_s"])
        finally:
            if runner is not None:
                runner.stop()
                runner.join(timeout=5)
        if runner is not None and runner.error is not None:
            raise E3GymError(f"changing the link rate failed mid-run: {runner.error}")
        if rtts:
            self.rtt_measured_s = min(rtts)
        return sorted(records, key=lambda r: r["id"])
