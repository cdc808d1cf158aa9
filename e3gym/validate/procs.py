"""Child processes of a validation run: started, talked to (JSON lines on stdin/stdout), and always ended.

Children are the edge server and the device processes. Each is told what to do as one JSON object
per line on its stdin and answers the same way on its stdout (data only, never pickle); its stderr
goes to a log file whose tail explains a crash. A child exits when its stdin closes, so even a
killed parent leaves no child behind; :meth:`Child.stop` ends it (terminate, then kill) otherwise.
Threads are pinned too: :func:`pin` sets torch's thread count and the CPU affinity.
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from e3gym.errors import E3GymError


def pin(cores: Sequence[int] | None, threads: int = 1) -> list[int]:
    """Use ``threads`` torch threads and run on ``cores`` (the ones that exist); returns the cores used."""
    import torch

    torch.set_num_threads(threads)
    available = sorted(os.sched_getaffinity(0))
    use = [c for c in (cores or []) if c in available] or available
    os.sched_setaffinity(0, use)
    return use


def split_cores(n_edge_workers: int) -> tuple[list[int], list[int]]:
    """(device cores, edge cores): the device on the first core, the edge on the others (or the same one)."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) == 1:
        return cores, cores
    return cores[:1], cores[1:1 + max(1, n_edge_workers)]


def die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (prctl PR_SET_PDEATHSIG), so even a killed
    run leaves no child behind; a no-op where prctl is unavailable."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def child_env() -> dict[str, str]:
    """The environment for a child: it imports the e3gym this process imported."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([root, *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    # `python -m` would put the working directory first: run from a source checkout, it would import
    # the bare source tree (without the e3gym.agents mapping that an installation provides)
    env["PYTHONSAFEPATH"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


class ChildFailed(E3GymError):
    """A child process died or reported an error; the message has its last words."""


class Child:
    """One child process speaking JSON lines."""

    def __init__(self, name: str, argv: list[str], log_path: Path, prefix: Sequence[str] = ()):
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "wb")
        # a new session: a Ctrl-C in the terminal reaches the parent only, which then stops the child cleanly
        self.proc = subprocess.Popen([*prefix, sys.executable, "-u", *argv], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, env=child_env(),
                                     start_new_session=True)
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True, name=f"{name}-stdout").start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def send(self, obj: dict[str, Any]) -> None:
        try:
            self.proc.stdin.write((json.dumps(obj) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise ChildFailed(self._death()) from None

    def recv(self, timeout_s: float) -> dict[str, Any]:
        """The child's next JSON answer; ChildFailed if it reports an error, dies or times out."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise ChildFailed(f"{self.name} did not answer within {timeout_s:.0f} s "
                                  f"(log: {self.log_path})") from None
            if line is None:
                raise ChildFailed(self._death())
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue  # not ours (a library printing to stdout)
            if isinstance(obj, dict) and "error" in obj:
                raise ChildFailed(f"{self.name}: {obj['error']}")
            if isinstance(obj, dict):
                return obj

    def _death(self) -> str:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        self._log.flush()
        tail = [ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()][-1:]
        why = f": {tail[0].strip()}" if tail else ""
        return f"{self.name} exited (code {code}) mid-run{why} (log: {self.log_path})"

    def stop(self, timeout_s: float = 3.0) -> None:
        """Close its stdin (it exits), then terminate and kill if it lingers."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        self._log.close()


def stdin_watchdog() -> None:
    """In a child: exit as soon as stdin closes (the parent is gone or done)."""
    def watch() -> None:
        try:
            while sys.stdin.buffer.read(65536):
                pass
        finally:
            os._exit(0)

    threading.Thread(target=watch, daemon=True, name="e3v-stdin-watch").start()
