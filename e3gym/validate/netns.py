"""Real links on one machine: two network namespaces joined by a veth pair, shaped with tc tbf.

The device side lives in namespace ``e3v-<pid>-dev`` (address 10.77.0.1), the edge in
``e3v-<pid>-edge`` (10.77.0.2); the private addresses exist only inside them, so no traffic leaves
the machine. Each veth end has a ``tbf`` root qdisc: the device end's egress is the uplink, the
edge end's the downlink. netem is not assumed (many kernels lack it): propagation delay is added
in user space (:mod:`e3gym.validate.delay`). :meth:`NetnsLink.destroy` removes both namespaces,
which removes the veth pair with them; :func:`remove_stale` removes those of runs that died.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from e3gym.errors import E3GymError

PREFIX = "e3v-"
DEVICE_ADDR, EDGE_ADDR = "10.77.0.1", "10.77.0.2"
TBF_LIMIT_BYTES = 4 << 20  # fixed, so a rate change never replaces (and empties) tbf's queue


class NetnsError(E3GymError):
    """Namespaces or tc cannot be used here; the message says what to do instead."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
    if check and out.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)} failed: {out.stderr.strip() or out.returncode}")
    return out


def netns_unavailable() -> str | None:
    """Why namespaces cannot be used here (None when they can): root, ``ip`` and ``tc`` are needed."""
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_NET_ADMIN): run as root, or use --mode loopback"
    for tool, pkg in (("ip", "iproute2"), ("tc", "iproute2")):
        if shutil.which(tool) is None:
            return f"'{tool}' is not installed: apt-get install {pkg} (or use --mode loopback)"
    probe = f"{PREFIX}{os.getpid()}-probe"
    out = _ip("netns", "add", probe, check=False)
    if out.returncode != 0:
        return f"'ip netns add' failed ({out.stderr.strip()}): use --mode loopback"
    _ip("netns", "del", probe, check=False)
    return None


def list_namespaces() -> list[str]:
    """Names of the e3gym validate namespaces that exist now."""
    if shutil.which("ip") is None:
        return []
    out = _ip("netns", "list", check=False)
    return [line.split()[0] for line in out.stdout.splitlines() if line.startswith(PREFIX)]


def remove_stale() -> list[str]:
    """Delete ``e3v-<pid>-*`` namespaces whose run (process ``pid``) is gone; returns their names."""
    removed = []
    for name in list_namespaces():
        m = re.match(rf"{PREFIX}(\d+)-", name)
        if m and not Path(f"/proc/{m.group(1)}").exists():
            _ip("netns", "del", name, check=False)
            removed.append(name)
    return removed


def tbf_args(rate_bps: float) -> list[str]:
    """tbf parameters for ``rate_bps``: a burst of about one full-size frame, so an idle link does not
    send a frame or more at line rate (the simulator has no burst), and a fixed queue limit."""
    burst = max(1600, int(rate_bps / 8 * 200e-6))  # the kernel needs burst >= rate x timer slack
    return ["rate", f"{int(rate_bps)}bit", "burst", str(burst), "limit", str(TBF_LIMIT_BYTES)]


class NetnsLink:
    """Device and edge namespaces joined by a shaped veth pair (create with :meth:`create`)."""

    def __init__(self, tag: str | None = None):
        pid = os.getpid()
        base = f"{PREFIX}{pid}-{tag}-" if tag else f"{PREFIX}{pid}-"
        self.device_ns, self.edge_ns = f"{base}dev", f"{base}edge"
        short = f"e3v{pid % 10_000_000}{tag or ''}"[:13]  # interface names are at most 15 characters
        self.device_if, self.edge_if = f"{short}d", f"{short}e"
        self.created: list[str] = []
        self._shaped = False
        self._veth_made = False

    def create(self, rate_bps: float) -> None:
        """Make both namespaces, the veth pair and the qdiscs (rolls back on failure)."""
        try:
            for ns in (self.device_ns, self.edge_ns):
                self.created.append(ns)  # before the call: an interrupt inside it must still clean up
                _ip("netns", "add", ns)
                _ip("-n", ns, "link", "set", "lo", "up")
            _ip("link", "add", self.device_if, "type", "veth", "peer", "name", self.edge_if)
            self._veth_made = True
            _ip("link", "set", self.device_if, "netns", self.device_ns)
            _ip("link", "set", self.edge_if, "netns", self.edge_ns)
            for ns, dev, addr in ((self.device_ns, self.device_if, DEVICE_ADDR),
                                  (self.edge_ns, self.edge_if, EDGE_ADDR)):
                _ip("-n", ns, "addr", "add", f"{addr}/30", "dev", dev)
                _ip("-n", ns, "link", "set", dev, "up")
            self.set_rate(rate_bps)
        except BaseException:
            self.destroy()
            raise

    def set_rate(self, rate_bps: float) -> None:
        """Shape both directions to ``rate_bps`` (``tc qdisc change`` keeps what is queued)."""
        verb = "change" if self._shaped else "add"
        for ns, dev in ((self.device_ns, self.device_if), (self.edge_ns, self.edge_if)):
            out = subprocess.run(["tc", "-n", ns, "qdisc", verb, "dev", dev, "root", "tbf", *tbf_args(rate_bps)],
                                 capture_output=True, text=True, timeout=20)
            if out.returncode != 0:
                raise NetnsError(f"tc could not shape {dev} to {rate_bps / 1e6:g} Mbps: {out.stderr.strip()} "
                                 f"(or use --mode loopback)")
        self._shaped = True

    def exec_prefix(self, side: str) -> list[str]:
        """The command prefix that runs a program inside the device or edge namespace."""
        return ["ip", "netns", "exec", self.device_ns if side == "device" else self.edge_ns]

    def destroy(self) -> None:
        """Delete the namespaces (and with them the veth pair); safe to call twice."""
        for ns in reversed(self.created):
            try:
                _ip("netns", "del", ns, check=False)
            except subprocess.TimeoutExpired:
                pass  # keep deleting the rest; a stale namespace is removed by the next run
        self.created.clear()
        self._shaped = False
        if self._veth_made:  # only exists in the root namespace if creation stopped half-way
            try:
                _ip("link", "del", self.device_if, check=False)
            except subprocess.TimeoutExpired:
                pass
            self._veth_made = False
