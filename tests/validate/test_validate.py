"""``e3gym validate``: trace schedule, framing, comparison, bad input, and a tiny real validation.

The end-to-end test runs a real split pipeline in network namespaces (root and ``ip netns``
needed; it skips with the reason otherwise) and checks that nothing is left behind: no ``e3v-``
namespace and no child process, also when the run fails or is interrupted.
"""
from __future__ import annotations

import json
import math
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from e3gym.cli import main
from e3gym.validate import framing as fr
from e3gym.validate import netns
from e3gym.validate.compare import decision_agreement, error_stats, measured_components
from e3gym.validate.shaping import ScheduleRunner, TokenBucket, rate_at, trace_schedule

KEYS = ("median_abs_rel_error", "p95_abs_rel_error", "decision_agreement", "per_component", "hardware", "versions",
        "command", "mode")


# --------------------------------------------------------------------------- helpers
def _our_children() -> list[int]:
    """Pids of live e3gym validate server/device processes whose parent is this test process."""
    me, out = os.getpid(), []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        ppid = next((int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("PPid:")), 0)
        if ppid == me and b"e3gym.validate." in cmd:
            out.append(int(pid))
    return out


def _our_namespaces() -> list[str]:
    return [n for n in netns.list_namespaces() if n.startswith(f"{netns.PREFIX}{os.getpid()}-")]


@pytest.fixture
def leaves_nothing():
    """Fails the test if it leaves a namespace or a child behind (and removes them either way)."""
    yield
    left_ns, left_children = _our_namespaces(), _our_children()
    for name in left_ns:
        os.system(f"ip netns del {name}")
    assert not left_ns, f"namespaces left behind: {left_ns}"
    assert not left_children, f"child processes left behind: {left_children}"


def _write_trace(path: Path, rows: list[tuple[float, float]]) -> Path:
    path.write_text("".join(f"{t} {r}\n" for t, r in rows))
    return path


# --------------------------------------------------------------------------- (a) the trace schedule
def test_trace_schedule_changes_at_segment_starts_and_loops() -> None:
    # segments 0.5 s at 10 Mbps, 1 s at 2, 0.5 s at 2 (merged with the one before), then it loops
    changes = trace_schedule([0.5, 1.0, 0.5], [10e6, 2e6, 2e6], horizon_s=4.5)
    assert changes == [(0.0, 10e6), (0.5, 2e6), (2.0, 10e6), (2.5, 2e6), (4.0, 10e6)]
    assert rate_at(changes, -1.0) == 10e6 and rate_at(changes, 0.49) == 10e6
    assert rate_at(changes, 0.5) == 2e6 and rate_at(changes, 2.2) == 10e6 and rate_at(changes, 3.99) == 2e6


def test_trace_schedule_floors_zero_rates() -> None:
    changes = trace_schedule([1.0, 1.0], [5e6, 0.0], horizon_s=2.0)
    assert changes[1][0] == 1.0 and 0 < changes[1][1] < 5e6


def test_trace_file_schedule_matches_its_rows(tmp_path: Path) -> None:
    from e3gym.validate.shaping import LinkSpec

    trace = _write_trace(tmp_path / "t.txt", [(0, 8), (1, 4), (3, 16), (4, 0)])  # last row closes the period
    assert LinkSpec(trace=trace).schedule(5.0) == [(0.0, 8e6), (1.0, 4e6), (3.0, 16e6), (4.0, 8e6)]
    assert LinkSpec(trace=trace).scenario_network()["random_start"] is False


def test_schedule_runner_applies_each_rate_at_its_time() -> None:
    now = [100.0]
    applied = []

    def sleep(s: float) -> None:
        now[0] += s  # a fake clock: sleeping advances it exactly

    runner = ScheduleRunner([(0.0, 1e6), (0.5, 2e6), (2.0, 3e6)], t0=100.0,
                            set_rate=lambda r: applied.append((now[0], r)), clock=lambda: now[0], sleep=sleep)
    runner.run()  # synchronously
    assert runner.error is None
    assert applied == [(100.5, 2e6), (102.0, 3e6)]  # the first rate is set before the run starts


def test_schedule_runner_stops_and_reports_errors() -> None:
    def fail(rate: float) -> None:
        raise RuntimeError("tc failed")

    runner = ScheduleRunner([(0.0, 1e6), (0.0, 2e6)], t0=0.0, set_rate=fail, clock=lambda: 1.0)
    runner.run()
    assert isinstance(runner.error, RuntimeError)
    stopped = ScheduleRunner([(0.0, 1e6), (60.0, 2e6)], t0=time.monotonic(), set_rate=lambda r: None)
    stopped.start()
    stopped.stop()
    stopped.join(timeout=2)
    assert not stopped.is_alive()


def test_token_bucket_paces_at_the_scheduled_rate() -> None:
    now = [0.0]
    clock, sleep = (lambda: now[0]), (lambda s: now.__setitem__(0, now[0] + s))
    bucket = TokenBucket(lambda t: 8e6 if t < 0.95 else 4e6, burst_bytes=0, clock=clock, sleep=sleep)
    for _ in range(10):
        bucket.take(100_000)  # 0.1 s each at 8 Mbps
    assert now[0] == pytest.approx(1.0)
    bucket.take(100_000)  # at 4 Mbps now (the rate when the bytes are taken)
    assert now[0] == pytest.approx(1.2)
    now[0] = 5.0  # idle: one burst of credit, like tbf, and no more
    burst = TokenBucket(lambda t: 8e6, burst_bytes=1000, clock=clock, sleep=sleep)
    burst.take(1000)
    assert now[0] == pytest.approx(5.0)
    burst.take(1000)
    assert now[0] == pytest.approx(5.001)


# --------------------------------------------------------------------------- (b) framing
def test_framing_round_trip_over_a_socket() -> None:
    a, b = socket.socketpair()
    with a, b:
        payload = bytes(range(256)) * 300
        a.sendall(fr.encode(fr.REQUEST, fr.request_body(7, 3, payload)))
        stamps = {k: float(i) for i, k in enumerate(fr.SERVER_STAMPS)}
        a.sendall(fr.encode(fr.RESULT, fr.result_body(7, stamps, [1, 2, 3, 4, 5], [0.5, 0.25, 0.125, 0.0625, 0.0])))
        a.sendall(fr.encode(fr.HELLO, fr.json_body({"model": "small_cnn"})))
        a.sendall(fr.encode(fr.BYE))
        msg = fr.read_message(b)
        assert msg.kind == fr.REQUEST and msg.done_s >= msg.first_s
        rid, cut, body = fr.parse_request(msg.body)
        assert (rid, cut, bytes(body)) == (7, 3, payload)
        rid, got, top5 = fr.parse_result(fr.read_message(b).body)
        assert rid == 7 and got == stamps and len(top5) == 60  # the 60-byte top-5 the simulator assumes
        assert fr.parse_json(fr.read_message(b).body, "hello") == {"model": "small_cnn"}
        assert fr.read_message(b).kind == fr.BYE
        a.close()
        with pytest.raises(fr.PeerClosed) as closed:
            fr.read_message(b)
        assert closed.value.between


def test_framing_rejects_garbage_and_truncation() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b"GET / HTTP/1.1\r\n")
        with pytest.raises(fr.FramingError, match="not an e3gym validate peer"):
            fr.read_message(b)
    a, b = socket.socketpair()
    with a, b:
        a.sendall(fr.encode(fr.REQUEST, fr.request_body(1, 0, b"x" * 100))[:50])
        a.close()
        with pytest.raises(fr.PeerClosed, match="mid-message") as closed:
            fr.read_message(b)
        assert not closed.value.between
    with pytest.raises(fr.FramingError):
        fr.decode_header(fr.HEADER.pack(fr.MAGIC + b"\x63", 0))


# --------------------------------------------------------------------------- comparison
def test_measured_components_add_up_to_the_latency() -> None:
    rec = {"arrival": 0.0, "start": 0.001, "ready": 0.004, "recv_done": 0.060, "delivered": 0.070,
           "server": {"recv_first": 0.005, "recv_done": 0.020, "delivered": 0.030, "start": 0.032,
                      "decoded": 0.032, "computed": 0.050}}
    m = measured_components(rec, cut=3, n_blocks=10)
    assert "decode_s" not in m and "encode_s" not in m
    assert sum(v for k, v in m.items() if k != "latency_s") == pytest.approx(m["latency_s"]) == pytest.approx(0.070)
    assert m["propagation_s"] == pytest.approx(0.020)
    local = measured_components({"arrival": 0.0, "start": 0.0, "ready": 0.005, "delivered": 0.005}, 10, 10)
    assert set(local) == {"local_queue_s", "local_compute_s", "latency_s"}


def test_error_stats_and_decision_agreement() -> None:
    st = error_stats([(1.1, 1.0), (0.9, 1.0), (0.0, 1e-5)])
    assert st["n"] == 3 and st["n_rel"] == 2 and st["median_abs_rel_error"] == pytest.approx(0.1)
    cells = [{"cuts": {0: (0.03, 0.04), 5: (0.02, 0.05), 10: (0.01, 0.01)}, "n_blocks": 10},
             {"cuts": {0: (0.03, 0.02), 5: (0.02, 0.05), 10: (0.01, 0.03)}, "n_blocks": 10}]
    d = decision_agreement(cells)
    assert d["decision_agreement"] == 0.5
    assert d["decision_agreement_offload"] == 0.0  # the simulator prefers cut 5 among 0 and 5 in both
    assert d["cells"][1]["regret"] == pytest.approx(0.5)


# --------------------------------------------------------------------------- bad input
def test_cut_outside_the_model_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    assert main(["validate", "--out", str(tmp_path / "v"), "--cuts", "0", "99"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--cuts 99" in err and "0..15" in err
    assert not (tmp_path / "v").exists()  # refused before profiling or starting anything


def test_busy_port_is_a_one_line_error(capsys) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["validate", "serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"port {port} on 127.0.0.1 is in use" in err and "--port" in err


def test_no_privileges_or_no_tc_say_what_to_do(monkeypatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "root" in netns.netns_unavailable() and "--mode loopback" in netns.netns_unavailable()
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(netns.shutil, "which", lambda tool: None if tool == "tc" else "/usr/sbin/" + tool)
    why = netns.netns_unavailable()
    assert "'tc' is not installed" in why and "iproute2" in why
    from e3gym.validate.runner import Session, Settings
    from e3gym.validate.shaping import LinkSpec

    with pytest.raises(ValueError, match="tc"):
        Session(Settings(out=Path("unused"), links=[LinkSpec(10e6)], loads=[1.0], models=["small_cnn"],
                         mode="netns")).__enter__()


def _half_server(sock: socket.socket, n_results: int) -> None:
    """A server that says hello, answers clock pings, returns ``n_results`` results, then drops the line."""
    conn, _ = sock.accept()
    with conn:
        fr.read_message(conn)
        conn.sendall(fr.encode(fr.HELLO_OK, fr.json_body({"boot_id": "", "n_blocks": 15})))
        done = 0
        while True:
            msg = fr.read_message(conn)
            if msg.kind == fr.CLOCK:
                sent, _ = fr.CLOCK_BODY.unpack(msg.body)
                conn.sendall(fr.encode(fr.CLOCK, fr.CLOCK_BODY.pack(sent, time.monotonic())))
            elif msg.kind == fr.REQUEST:
                if done == n_results:
                    return  # mid-run
                rid, _, _ = fr.parse_request(msg.body)
                stamps = {k: time.monotonic() for k in fr.SERVER_STAMPS}
                conn.sendall(fr.encode(fr.RESULT, fr.result_body(rid, stamps, [0] * 5, [0.0] * 5)))
                done += 1


def test_peer_that_disconnects_mid_run_is_a_clear_error() -> None:
    from e3gym.validate.device import Device, Job

    device = Device(["small_cnn"])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        t = threading.Thread(target=_half_server, args=(sock, 2), daemon=True)
        t.start()
        job = Job("small_cnn", 12, [(i, 0.02 * i) for i in range(6)], time.monotonic() + 0.5,
                  *sock.getsockname(), timeout_s=10)
        with pytest.raises(ValueError,
                           match=r"closed the connection mid-run \(after 2 results, [2-6] of 6 requests sent\)"):
            device.run(job)
        t.join(timeout=5)


# --------------------------------------------------------------------------- (c) tiny real validations
def _check_result(out: Path, mode: str) -> dict:
    data = json.loads((out / "validation.json").read_text())
    for key in KEYS:
        assert key in data, key
    assert data["mode"] == mode
    for name in ("latency_s", "uplink_s", "edge_compute_s", "local_compute_s"):
        st = data["per_component"][name]
        assert st["n"] > 0
        assert math.isfinite(st["mean_measured_ms"]) and st["mean_measured_ms"] > 0
        assert math.isfinite(st["mean_predicted_ms"]) and st["mean_predicted_ms"] > 0
        for key in ("median_abs_rel_error", "p95_abs_rel_error"):
            assert key in st and (st[key] is None or math.isfinite(st[key]))
    assert math.isfinite(data["median_abs_rel_error"]) and math.isfinite(data["p95_abs_rel_error"])
    assert 0.0 <= data["decision_agreement"] <= 1.0
    assert data["hardware"]["cores"] >= 1 and data["hardware"]["cpu_model"]
    assert {"python", "torch", "numpy", "e3gym"} <= set(data["versions"])
    assert data["command"].startswith("e3gym validate")
    assert data["command"] in (out / "validation.md").read_text()
    assert (out / "validation.png").stat().st_size > 1000
    for run in data["runs"]:
        assert run["n"] > 0 and math.isfinite(run["mean_measured_ms"]) and math.isfinite(run["mean_predicted_ms"])
    return data


def test_tiny_validation_in_network_namespaces(tmp_path: Path, leaves_nothing) -> None:
    why = netns.netns_unavailable()
    if why:
        pytest.skip(f"network namespaces are not available here: {why}")
    out = tmp_path / "v"
    rc = main(["validate", "run", "--out", str(out), "--mode", "netns", "--rates-mbps", "8", "40", "--loads", "10",
               "--cuts", "0", "12", "--requests", "20", "--profile-runs", "5"])
    assert rc == 0
    data = _check_result(out, "netns")
    assert len(data["runs"]) == 4 and len(data["cells"]) == 2
    assert (out / "profiles" / "devices" / "validate-t1.json").exists()  # it profiled itself
    assert not _our_namespaces()


def test_tiny_validation_on_loopback(tmp_path: Path, leaves_nothing) -> None:
    out = tmp_path / "v"
    rc = main(["validate", "--out", str(out), "--mode", "loopback", "--rates-mbps", "20", "--loads", "10",
               "--cuts", "0", "12", "--requests", "8", "--users", "1", "--profile-runs", "3"])
    assert rc == 0
    data = _check_result(out, "loopback")
    assert "LOOPBACK" in data["mode_note"] and "LOOPBACK" in (out / "validation.md").read_text()


def test_interrupted_run_leaves_nothing_behind(tmp_path: Path, leaves_nothing) -> None:
    import signal
    import subprocess
    import sys

    from e3gym.validate.procs import (
        child_env,  # the e3gym under test, not the source tree in the cwd
    )

    why = netns.netns_unavailable()
    if why:
        pytest.skip(f"network namespaces are not available here: {why}")
    proc = subprocess.Popen([sys.executable, "-m", "e3gym.cli", "validate", "--out", str(tmp_path / "v"),
                             "--mode", "netns", "--profiles", str(tmp_path / "none"), "--rates-mbps", "8"],
                            stderr=subprocess.PIPE, text=True, env=child_env())
    _, err = proc.communicate(timeout=60)  # no profiles there: fails before making anything
    assert proc.returncode == 2 and "--profiles" in err
    profiles = tmp_path / "p"
    from e3gym.validate.profiling import run_profiler

    run_profiler(["small_cnn"], profiles, runs=2)
    proc = subprocess.Popen([sys.executable, "-m", "e3gym.cli", "validate", "--out", str(tmp_path / "v"),
                             "--mode", "netns", "--profiles", str(profiles), "--rates-mbps", "8", "--loads", "2",
                             "--requests", "200"], stderr=subprocess.PIPE, text=True,
                            env=child_env())
    deadline = time.monotonic() + 60
    while not [n for n in netns.list_namespaces() if n.startswith(f"{netns.PREFIX}{proc.pid}-")]:
        assert time.monotonic() < deadline and proc.poll() is None, "the run never made its namespaces"
        time.sleep(0.2)
    time.sleep(3)  # inside a run
    children = [int(p) for p in filter(str.isdigit, os.listdir("/proc")) if _ppid(p) == proc.pid]
    assert children, "the run has no child processes"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert not [n for n in netns.list_namespaces() if n.startswith(f"{netns.PREFIX}{proc.pid}-")]
    assert not [c for c in children if _alive(c)], "children of the interrupted run are still alive"


def _ppid(pid: str) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("PPid:")), 0)


def _alive(pid: int) -> bool:
    try:
        state = next(ln for ln in Path(f"/proc/{pid}/status").read_text().splitlines() if ln.startswith("State:"))
    except (OSError, StopIteration):
        return False
    return "Z" not in state.split()[1]  # a zombie has exited
