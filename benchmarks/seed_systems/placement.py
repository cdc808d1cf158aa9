"""Cost per inference vs the number of placed layers M on e3gym/ModelPlacement-v0, at a few mean SNRs.

    python benchmarks/seed_systems/placement.py [--out benchmarks/results] [--periods 100]

For each SNR and M: the analytical expected cost per inference (parameter download amortized over K
inferences + the splitting rule's expected cost) and the env's simulated cost (``--periods`` model
update periods of K inferences each, SNR held fixed; mean and 95% CI). Writes placement.png and
placement.csv and prints the table with the best M per SNR.
"""
from __future__ import annotations

import argparse
import csv

import numpy as np
from _common import DEFAULT_OUT, mean_ci, out_dir, pyplot

from e3gym.agents.base import run_episode
from e3gym.agents.stopping import FixedPlacement, OptimalPlacement
from e3gym.envs.fading_split import ModelPlacementEnv
from e3gym.files import open_atomic


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default benchmarks/results)")
    ap.add_argument("--snr-db", type=float, nargs="+", default=[-5.0, 0.0, 10.0, 20.0])
    ap.add_argument("--periods", type=int, default=200, help="simulated periods per (SNR, M)")
    ap.add_argument("--n-inferences", type=int, default=5000, help="K, inferences per period")
    ap.add_argument("--rule", default="optimal", choices=["optimal", "osla"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    env = ModelPlacementEnv(n_inferences=args.n_inferences, rule=args.rule, snr_step_db=0.0,
                            snr_low_db=min(args.snr_db) - 1, snr_high_db=max(args.snr_db) + 1)
    best_agent = OptimalPlacement(env)
    rows = []
    print(f"ModelPlacement-v0 ({env.layers.name}, K = {args.n_inferences}, rule {args.rule}): cost per inference (ms), "
          f"analytical / simulated mean +- 95% CI over {args.periods} periods")
    for snr in args.snr_db:
        analytic = best_agent.costs(snr)
        for m in range(env.n_layers + 1):
            agent = FixedPlacement(env, m)
            episode = run_episode(env, agent, seed=args.seed + m, max_steps=args.periods,
                                  options={"mean_snr_db": snr})
            mc, h = mean_ci(-np.array(episode.rewards))
            rows.append({"snr_db": snr, "placed_layers": m, "expected_cost_s": analytic[m], "sim_mean_s": mc,
                         "sim_ci95_s": h})
            print(f"  SNR {snr:5.1f} dB  M = {m}: {analytic[m] * 1e3:8.4f} / {mc * 1e3:8.4f} +- {h * 1e3:.4f}")
        print(f"  SNR {snr:5.1f} dB: best M = {int(np.argmin(analytic))}")

    out = out_dir(args)
    with open_atomic(out / "placement.csv", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for snr in args.snr_db:
        sel = [r for r in rows if r["snr_db"] == snr]
        ms = [r["placed_layers"] for r in sel]
        ax.plot(ms, [1e3 * r["expected_cost_s"] for r in sel], label=f"{snr:g} dB (exact)")
        ax.errorbar(ms, [1e3 * r["sim_mean_s"] for r in sel], yerr=[1e3 * r["sim_ci95_s"] for r in sel], fmt="o",
                    ms=3, capsize=2, color=ax.lines[-1].get_color())
    ax.set_xlabel("layers placed on the device (M)")
    ax.set_ylabel("cost per inference (ms)")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title(f"ModelPlacement-v0: K = {args.n_inferences}, rule {args.rule}; dots: simulated periods (95% CI)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "placement.png", dpi=120)
    print(f"wrote {out / 'placement.png'} and {out / 'placement.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
