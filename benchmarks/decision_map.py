"""Which (tier, cut, model) the clairvoyant oracle picks, per scenario, across bandwidth x load x accuracy.

    python benchmarks/decision_map.py [--steps 120] [--out benchmarks/results]

Writes ``decision_map.png`` (one row per shipped scenario; one panel per accuracy requirement;
cells = uplink Mbps x requests/s per user, coloured by the oracle's most frequent tier, labelled
with its most frequent model and its share of intermediate cuts) and ``decision_shares.json``:
the oracle's action shares on every scenario of the default suite (evaluation seeds, full
episodes) as ``{scenario_id: {"end": f, "edge": f, "cloud": f, "mid_cut": f, "models": {...}}}``,
where ``mid_cut`` is the share of intermediate cuts among offloaded requests. A table of the
shares is printed as Markdown.
"""
from __future__ import annotations

import argparse
import collections
from pathlib import Path

import gymnasium as gym
import numpy as np

import e3gym  # noqa: F401  (registers the envs)
from e3gym.agents.base import load_agent
from e3gym.bench.suite import load_suite
from e3gym.files import write_json_atomic, write_text_atomic

TIERS = ("end", "edge", "cloud")
BANDWIDTH_MBPS = (0.5, 1, 2, 5, 10, 20, 50)
LOAD_PER_S = (0.5, 2.0, 6.0)
ACCURACY = (0.0, 0.70, 0.75, 0.80)
MAP_SCENARIOS = (("e3gym/EndEdgeCloud-v1", "default"), ("e3gym/ModelSelection-v1", "model_selection"),
                 ("e3gym/ModelSelection-v1", "model_selection_mobilenet"))


def oracle_shares(env: gym.Env, seeds, steps: int) -> dict:
    """The oracle's tier, intermediate-cut and model shares over ``steps`` requests per seed."""
    oracle = load_agent("oracle", env)
    tiers, models = collections.Counter(), collections.Counter()
    offloads = mid = 0
    for seed in seeds:
        obs, info = env.reset(seed=seed)
        for _ in range(steps):
            obs, _, terminated, truncated, info = env.step(oracle.act(obs, info))
            tiers[info["tier_name"]] += 1
            models[info["model_name"]] += 1
            if info["tier_name"] != "end":
                offloads += 1
                mid += info["cut"] > 0
            if terminated or truncated:
                obs, info = env.reset()
    n = sum(tiers.values())
    return {**{t: tiers[t] / n for t in TIERS}, "mid_cut": mid / offloads if offloads else 0.0,
            "models": {m: c / n for m, c in models.most_common()}}


def decision_map(steps: int, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    fig, axes = plt.subplots(len(MAP_SCENARIOS), len(ACCURACY), figsize=(4.2 * len(ACCURACY), 3.4 * len(MAP_SCENARIOS)),
                             squeeze=False)
    cmap = ListedColormap(["#4c9a2a", "#2a6f9a", "#9a2a6f"])
    for row, (env_id, scenario) in enumerate(MAP_SCENARIOS):
        for col, acc in enumerate(ACCURACY):
            grid = np.zeros((len(LOAD_PER_S), len(BANDWIDTH_MBPS)))
            ax = axes[row][col]
            for i, rate in enumerate(LOAD_PER_S):
                for j, mbps in enumerate(BANDWIDTH_MBPS):
                    env = gym.make(env_id, scenario=scenario, max_episode_steps=steps, scenario_overrides={
                        "users": {"network": {"kind": "constant", "mbps": mbps}, "access": "5g"},
                        "workload": {"rate_per_s": rate, "accuracy_levels": [acc]}})
                    s = oracle_shares(env, [0], steps)
                    tier = max(TIERS, key=lambda t: s[t])
                    grid[i, j] = TIERS.index(tier)
                    model = next(iter(s["models"]))
                    label = (model.replace("mobilenet-v1-precision_", "v1 ").replace("mobilenet", "mn")
                             .replace("efficientnet", "en").replace("_", " ")[:16])
                    if s["mid_cut"] > 0:
                        label += f"\ncut {s['mid_cut']:.0%}"
                    ax.text(j, i, f"{s[tier]:.0%}\n{label}", ha="center", va="center", fontsize=5.5, color="white")
            ax.imshow(grid, cmap=cmap, vmin=0, vmax=2, aspect="auto", origin="lower")
            ax.set_xticks(range(len(BANDWIDTH_MBPS)), [f"{b:g}" for b in BANDWIDTH_MBPS], fontsize=7)
            ax.set_yticks(range(len(LOAD_PER_S)), [f"{r:g}" for r in LOAD_PER_S], fontsize=7)
            ax.set_title(f"{scenario}, accuracy >= {acc:.2f}", fontsize=8)
            if col == 0:
                ax.set_ylabel("requests/s per user", fontsize=7)
            if row == len(MAP_SCENARIOS) - 1:
                ax.set_xlabel("uplink Mbps (constant, 5G radio)", fontsize=7)
    handles = [plt.Rectangle((0, 0), 1, 1, color=cmap(k)) for k in range(3)]
    fig.legend(handles, [f"oracle mostly {t}" for t in TIERS], loc="lower center", ncol=3, fontsize=8)
    fig.suptitle("Oracle decisions (cell: share of the modal tier, modal model, share of intermediate cuts)\n"
                 f"command: python benchmarks/decision_map.py --steps {steps}", fontsize=9)
    fig.tight_layout(rect=(0, 0.03, 1, 0.96))
    fig.savefig(out / "decision_map.png", dpi=110)


def suite_shares(suite_name: str) -> dict:
    suite = load_suite(suite_name)
    out = {}
    for sc in suite.scenarios:
        steps = suite.steps_of(sc)
        env = gym.make(sc.env, max_episode_steps=steps, **sc.make_kwargs(suite.path.parent if suite.path else None))
        out[sc.id] = oracle_shares(env, suite.seeds, steps)
    return out


def cut_payloads(scenario: str = "default") -> list[dict]:
    """Per model of a scenario: the JPEG frame vs the smallest activation an inner cut sends."""
    from e3gym.core.payload import PayloadConfig, cut_payload_bytes, load_jpeg_model
    from e3gym.core.profiles import builtin_library
    from e3gym.scenarios import load_scenario
    data = load_scenario(scenario)
    lib, jpeg = builtin_library(), load_jpeg_model()
    device = lib.device(data["users"]["device"])
    rows = []
    for name in data["models"]["names"]:
        m = lib.model(name)
        f32 = cut_payload_bytes(m, PayloadConfig(), jpeg, partition=True)
        blocks = device.block_latencies_s(m)
        done = [sum(blocks[:k]) / sum(blocks) for k in range(len(f32))]
        half = [k for k in range(1, len(f32)) if done[k] <= 0.5]  # the device does at most half the work
        k = min(half, key=f32.__getitem__) if half else 1
        rows.append({"model": name, "jpeg_q75_bytes": f32[0], "cut": k, "device_share": done[k],
                     "float32_bytes": f32[k], "int8_bytes": -(-f32[k] // 4)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=120, help="requests per map cell (default 120)")
    parser.add_argument("--suite", default="default")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--no-map", action="store_true", help="only the suite's shares")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    shares = suite_shares(args.suite)
    write_json_atomic(args.out / "decision_shares.json", shares)
    lines = [f"Generated by `python benchmarks/decision_map.py --steps {args.steps}` (suite {args.suite!r}).", "",
             "| scenario | end | edge | cloud | intermediate cuts among offloads | top models |",
             "|---|---:|---:|---:|---:|---|"]
    for sid, s in shares.items():
        top = ", ".join(f"{m} {f:.0%}" for m, f in list(s["models"].items())[:3])
        lines.append(f"| {sid} | {s['end']:.0%} | {s['edge']:.0%} | {s['cloud']:.0%} | {s['mid_cut']:.0%} | {top} |")
    lines += ["", "| model | JPEG q75 (B) | smallest cut with <= 50% of the work on the device | its share | "
                  "float32 (B) | int8 (B) |", "|---|---:|---:|---:|---:|---:|"]
    for r in cut_payloads():
        lines.append(f"| {r['model']} | {r['jpeg_q75_bytes']:,} | {r['cut']} | {r['device_share']:.0%} | "
                     f"{r['float32_bytes']:,} | {r['int8_bytes']:,} |")
    write_text_atomic(args.out / "decision_shares.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    if not args.no_map:
        decision_map(args.steps, args.out)


if __name__ == "__main__":
    main()
