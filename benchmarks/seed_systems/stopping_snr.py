"""Expected cost per inference vs mean SNR on e3gym/FadingSplit-v0: the optimal stopping rule, OSLA and
the two fixed rules (offload the input, run every placed layer first).

    python benchmarks/seed_systems/stopping_snr.py [--out benchmarks/results] [--n 20000]

For each SNR the problem is the env's own (``FadingSplitEnv(mean_snr_db=...).problem``); each rule's
expected cost is computed exactly by the threshold-policy recursion of e3gym.core.coinference and checked
by Monte-Carlo (``--n`` inferences, mean and 95% CI, fixed seed). Writes stopping_snr.png and
stopping_snr.csv and prints the table, with OSLA's excess cost over the optimal rule.
"""
from __future__ import annotations

import argparse
import csv

import numpy as np
from _common import DEFAULT_OUT, mean_ci, out_dir, pyplot

from e3gym.core import coinference
from e3gym.envs.fading_split import FadingSplitEnv
from e3gym.files import open_atomic

RULES = {
    "optimal": lambda p, m: coinference.optimal_policy(p, m),
    "OSLA": lambda p, m: coinference.osla_policy(p, m),
    "offload at input": lambda p, m: coinference.fixed_stage_policy(p, m, 0),
    "offload at horizon": lambda p, m: coinference.fixed_stage_policy(p, m, m),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default benchmarks/results)")
    ap.add_argument("--n", type=int, default=20000, help="Monte-Carlo inferences per rule and SNR")
    ap.add_argument("--snr-db", type=float, nargs="+", default=list(np.arange(-5.0, 30.1, 2.5)))
    ap.add_argument("--layers", default="mlp", help="'mlp' (default) or a model-profile name")
    ap.add_argument("--horizon", type=int, default=None, help="M (default: all layers)")
    ap.add_argument("--energy-weight", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    rows = []
    print(f"FadingSplit-v0 ({args.layers}, energy weight {args.energy_weight} s/J): expected cost per inference (ms); "
          f"analytical / Monte-Carlo mean +- 95% CI over {args.n}")
    print(f"{'SNR dB':>7s} " + " ".join(f"{r:>30s}" for r in RULES) + f" {'OSLA excess':>12s}")
    for snr in args.snr_db:
        env = FadingSplitEnv(layers=args.layers, horizon=args.horizon, mean_snr_db=float(snr),
                             energy_weight=args.energy_weight)
        problem, m = env.problem, env.horizon
        cells, exact = [], {}
        for name, make in RULES.items():
            policy = make(problem, m)
            mc, h = mean_ci(coinference.simulate(problem, policy, rng, args.n)["cost"])
            exact[name] = policy.expected_cost
            cells.append(f"{policy.expected_cost * 1e3:9.4f} / {mc * 1e3:8.4f} +- {h * 1e3:6.4f}")
            rows.append({"snr_db": snr, "rule": name, "expected_cost_s": policy.expected_cost, "mc_mean_s": mc,
                         "mc_ci95_s": h, "thresholds": " ".join(f"{t:.4g}" for t in policy.thresholds)})
        excess = exact["OSLA"] / exact["optimal"] - 1
        print(f"{snr:7.1f} " + " ".join(f"{c:>30s}" for c in cells) + f" {100 * excess:11.2f}%")

    out = out_dir(args)
    with open_atomic(out / "stopping_snr.csv", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name in RULES:
        sel = [r for r in rows if r["rule"] == name]
        x = [r["snr_db"] for r in sel]
        ax1.plot(x, [1e3 * r["expected_cost_s"] for r in sel], label=f"{name} (exact)")
        ax1.errorbar(x, [1e3 * r["mc_mean_s"] for r in sel], yerr=[1e3 * r["mc_ci95_s"] for r in sel], fmt="o", ms=3,
                     capsize=2, color=ax1.lines[-1].get_color())
    ax1.set_yscale("log")
    ax1.set_xlabel("mean SNR (dB)")
    ax1.set_ylabel("expected cost per inference (ms)")
    ax1.legend(fontsize=8)
    opt = {r["snr_db"]: r["expected_cost_s"] for r in rows if r["rule"] == "optimal"}
    osla = [r for r in rows if r["rule"] == "OSLA"]
    ax2.plot([r["snr_db"] for r in osla], [100 * (r["expected_cost_s"] / opt[r["snr_db"]] - 1) for r in osla], "o-")
    ax2.set_xlabel("mean SNR (dB)")
    ax2.set_ylabel("OSLA excess cost over optimal (%)")
    fig.suptitle(f"FadingSplit-v0: lines exact (backward induction / policy evaluation), dots Monte-Carlo (95% CI, n={args.n})")
    fig.tight_layout()
    fig.savefig(out / "stopping_snr.png", dpi=120)
    print(f"wrote {out / 'stopping_snr.png'} and {out / 'stopping_snr.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
