"""``e3gym validate``: measure the simulator against a real split execution.

* ``e3gym validate [run] --out DIR``: on this machine, edge and devices in network namespaces
  joined by a tc-shaped veth (loopback with user-space shaping where that cannot be done), over a
  grid of link rates x loads x models x cuts; writes validation.json/.md/.png and requests.csv;
* ``e3gym validate serve --port P``: the edge side alone, for a second machine;
* ``e3gym validate client --host H --port P``: the device side against such a server, with the
  same grid and report (the real network between the machines is the link).
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from e3gym.errors import E3GymError

ACTIONS = ("run", "serve", "client")
DEFAULT_RATES = [5.0, 50.0]
DEFAULT_LOADS = [5.0, 15.0]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``e3gym validate``."""
    parser.add_argument("action", nargs="?", choices=ACTIONS, default="run",
                        help="run (default): everything on this machine; serve: the edge side; client: the device side")
    g = parser.add_argument_group("grid (run, client)")
    g.add_argument("--out", type=Path, default=Path("validation"), help="output folder (default: validation)")
    g.add_argument("--rates-mbps", type=float, nargs="+", default=None,
                   help=f"link rates, both ways (default: {' '.join(map(str, DEFAULT_RATES))}; "
                        "client: the real link's rate)")
    g.add_argument("--traces", type=Path, nargs="+", default=[],
                   help="trace files ('time_s mbps' rows) replayed as links, in addition to --rates-mbps")
    g.add_argument("--loads", type=float, nargs="+", default=DEFAULT_LOADS,
                   help=f"request rates, requests/s over all devices (default: {' '.join(map(str, DEFAULT_LOADS))})")
    g.add_argument("--models", nargs="+", default=["small_cnn"],
                   help="small_cnn, tiny_cnn, package.module:factory or a torchvision name (default: small_cnn)")
    g.add_argument("--cuts", type=int, nargs="+", default=None,
                   help="cuts 0..L (0 sends the JPEG frame, L runs everything on the device; default: 0, the "
                        "model's inner stage cuts, L)")
    g.add_argument("--requests", type=int, default=40, help="requests per run (default: 40)")
    g.add_argument("--users", type=int, default=2, help="device processes sending concurrently (default: 2)")
    g.add_argument("--rtt-ms", type=float, default=None,
                   help="round trip added in user space, half each way (default: 20; client: measured)")
    g.add_argument("--workers", type=int, default=1, help="edge worker threads, FIFO (default: 1)")
    g.add_argument("--quality", type=int, default=75, help="JPEG quality for cut 0 (default: 75)")
    g.add_argument("--seed", type=int, default=0, help="seed of the arrival times (default: 0)")
    g.add_argument("--profiles", type=Path, default=None,
                   help="use the profiles in this folder (e3gym profile --out DIR) instead of profiling here")
    g.add_argument("--device-profile", default=None, help="device profile name in --profiles (default: validate-t1)")
    g.add_argument("--edge-profile", default=None,
                   help="edge device profile name (default: the device's; client: profile the server machine)")
    g.add_argument("--profile-runs", type=int, default=20, help="timed runs per block when profiling (default: 20)")
    g.add_argument("--mode", choices=("auto", "netns", "loopback"), default="auto",
                   help="auto (default): namespaces when root and ip netns work, else loopback")
    g.add_argument("--start-margin", type=float, default=1.0,
                   help="seconds the devices get to connect and warm up before a run starts (default: 1)")
    g.add_argument("--shape", action="store_true", help="client: also pace the sender at --rates-mbps in user space")
    n = parser.add_argument_group("network (serve, client)")
    n.add_argument("--host", default=None, help="serve: address to listen on (default 127.0.0.1; 0.0.0.0 for all); "
                                                "client: the server")
    n.add_argument("--port", type=int, default=None, help="serve/client: TCP port (default: 5399); run: the edge port")


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run (options in canonical form)."""
    opts = [args.action, "--out", str(args.out)]
    if args.rates_mbps is not None:
        opts += ["--rates-mbps", *(f"{r:g}" for r in args.rates_mbps)]
    if args.traces:
        opts += ["--traces", *map(str, args.traces)]
    opts += ["--loads", *(f"{x:g}" for x in args.loads), "--models", *args.models]
    if args.cuts is not None:
        opts += ["--cuts", *map(str, args.cuts)]
    opts += ["--requests", str(args.requests), "--users", str(args.users), "--workers", str(args.workers),
             "--quality", str(args.quality), "--seed", str(args.seed)]
    if args.rtt_ms is not None:
        opts += ["--rtt-ms", f"{args.rtt_ms:g}"]
    for flag, value in (("--profiles", args.profiles), ("--device-profile", args.device_profile),
                        ("--edge-profile", args.edge_profile), ("--host", args.host), ("--port", args.port)):
        if value is not None:
            opts += [flag, str(value)]
    if args.action == "run":
        opts += ["--mode", args.mode]
    if args.shape:
        opts.append("--shape")
    return "e3gym validate " + " ".join(shlex.quote(o) for o in opts)


def _settings(args: argparse.Namespace, mode: str):
    from e3gym.validate.runner import Settings
    from e3gym.validate.shaping import LinkSpec

    if args.port is not None and not 0 <= args.port <= 65535:
        raise E3GymError(f"--port must be in 0..65535, got {args.port}")
    rates = args.rates_mbps if args.rates_mbps is not None else ([] if args.traces else DEFAULT_RATES)
    for t in args.traces:
        if not t.is_file():
            raise E3GymError(f"--traces {t}: no such file")
    links = [LinkSpec(rate_bps=r * 1e6) for r in rates] + [LinkSpec(trace=t) for t in args.traces]
    rtt = args.rtt_ms if args.rtt_ms is not None else (None if mode == "remote" else 20.0)
    return Settings(out=args.out, links=links, loads=args.loads, models=args.models, cuts=args.cuts,
                    requests=args.requests, rtt_ms=rtt, workers=args.workers, quality=args.quality, users=args.users,
                    seed=args.seed, mode=mode, host=args.host or "", port=args.port or 0,
                    start_margin_s=args.start_margin, shape_remote=args.shape)


def run(args: argparse.Namespace) -> int:
    """Dispatch ``run``, ``serve`` or ``client``."""
    if args.action == "serve":
        return _serve(args)
    if args.action == "client":
        if not args.host or args.port is None:
            raise E3GymError("client needs --host and --port of a running 'e3gym validate serve'")
        if args.rates_mbps is None and not args.traces:
            raise E3GymError("client needs --rates-mbps: the rate of the link to the server "
                             "(what the simulator assumes)")
        settings = _settings(args, "remote")
    else:
        settings = _settings(args, args.mode)
    from rich.console import Console

    from e3gym.validate.grid import run_validation

    console = Console(stderr=True)
    if args.action == "client" and args.edge_profile is None:
        console.print("[yellow]note:[/] no --edge-profile: the server machine is assumed as fast as this one")
    result = run_validation(settings, _command(args), args.profiles, args.device_profile, args.edge_profile,
                            args.profile_runs, console)
    _summary(console, result, settings.out)
    return 0


def _summary(console, result: dict, out: Path) -> None:
    from rich.table import Table

    pct = lambda v: "-" if v is None else f"{100 * v:.1f}%"
    table = Table(title=f"predicted vs measured ({result['mode']})")
    for col in ("component", "n", "median rel.", "p95 rel.", "median abs. (ms)"):
        table.add_column(col, justify="left" if col == "component" else "right")
    for name, st in result["per_component"].items():
        table.add_row(name, str(st["n"]), pct(st["median_abs_rel_error"]), pct(st["p95_abs_rel_error"]),
                      "-" if st["median_abs_error_ms"] is None else f"{st['median_abs_error_ms']:.2f}")
    console.print(table)
    console.print(f"end to end: median {pct(result['median_abs_rel_error'])}, p95 {pct(result['p95_abs_rel_error'])}; "
                  f"decision agreement {pct(result['decision_agreement'])} "
                  f"(offloading cuts: {pct(result['decision_agreement_offload'])})")
    if result["mode"] == "loopback":
        console.print(f"[yellow]note:[/] {result['mode_note']}")
    for name in ("validation.json", "validation.md", "validation.png", "requests.csv"):
        print(out / name)


def _serve(args: argparse.Namespace) -> int:
    from e3gym.validate.procs import pin
    from e3gym.validate.server import EdgeServer, bind, load_models

    host, port = args.host or "127.0.0.1", 5399 if args.port is None else args.port
    if args.workers < 1:
        raise E3GymError(f"--workers must be >= 1, got {args.workers}")
    sock = bind(host, port)  # a taken port fails before the models load
    try:
        pin(None)  # one torch thread per worker
        server = EdgeServer(load_models(args.models), args.workers, sock=sock)
    except BaseException:
        sock.close()
        raise
    print(f"e3gym validate serve: listening on {server.address[0]}:{server.address[1]} "
          f"({', '.join(args.models)}, {args.workers} worker(s)); Ctrl-C stops", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.stop()
    return 0
