"""Raw step() rate of e3gym envs as a ratio to Gymnasium's CartPole-v1, measured interleaved in CPU time.

    python benchmarks/throughput.py [--repeats 5] [--block-s 0.3] [--envs ID ...] [--out FILE.json]

For each registered env id, repetitions of CartPole-v1 and of the env alternate in this one process
(the order flips every repetition). Each repetition is one block of steps timed with
``time.process_time``: CPU time of this process, so other load on a shared machine does not count.
A repetition's ratio is env steps/s over CartPole steps/s, and the median over ``--repeats``
repetitions (>= 5) is reported, so drifts in machine speed cancel. Actions are drawn from the
action space seeded with 0, sampled before each block so that drawing them is not timed; an
episode that ends is reset, and resets are timed with the steps. Every env is built with
``gymnasium.make`` (registered wrappers included). A short warm-up sizes each subject's block to
take about ``--block-s`` CPU seconds, so a slow env (one step of ModelPlacement-v0 solves a whole
stopping problem) and CartPole each get a block of comparable length.

Writes ``benchmarks/results/throughput.json``:
``{"single": {env_id: ratio}, "vector": {env_id: {n_envs: ratio}}, "core_only": {env_id: {"1024": ratio}},
"oracle_steps_per_decision": {env_id: steps}, "cartpole_steps_per_s": ..., "hardware": ...,
"compiled_core": [modules run compiled by mypyc], "command": ...}``.

A vector env enters through :func:`vector_ratios` alone: for every id that registers a
``vector_entry_point`` it builds one :class:`Subject` per batch size (1, 64, 1024;
``steps_per_call = n_envs``, so its rate is decisions/s) and measures each with
:func:`interleaved_ratio`. ``core_only`` is the ceiling of any vector env over the shared core:
the same scenario's ``Cluster.serve`` and next request alone, 1024 systems in a plain loop
(:func:`core_only`). ``oracle_steps_per_decision`` is the CPU time of one Oracle ``act()`` in
steps of the same single env with random actions, interleaved with them (:func:`oracle_costs`).
Targets: single EndEdgeCloud-v1 >= 0.5x; its vector env at N = 1024 >= 10x; an Oracle decision
<= 3 steps.
"""
from __future__ import annotations

import argparse
import gc
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

import e3gym
from e3gym.core import compiled_modules
from e3gym.errors import E3GymError
from e3gym.files import write_json_atomic

DEFAULT_OUT = Path(__file__).parent / "results" / "throughput.json"
REFERENCE_ID = "CartPole-v1"
TARGETS = {"e3gym/EndEdgeCloud-v1": 0.5}  # single env
VECTOR_TARGETS = {("e3gym/EndEdgeCloud-v1", 1024): 10.0}  # decisions/s over CartPole steps/s
MIN_REPEATS = 5
WARMUP_S = 0.05  # CPU seconds of warm-up per subject: caches filled, then the step time that sizes blocks
MIN_BLOCK_CALLS, MAX_BLOCK_CALLS = 10, 2_000_000
VECTOR_SIZES = (1, 64, 1024)  # num_envs of each vector env measured
ORACLE_ENVS = ("e3gym/EndEdgeCloud-v1", "e3gym/ModelSelection-v1")
ORACLE_TARGET_STEPS = 3.0  # an Oracle decision costs at most this many single-env steps


@dataclass
class Subject:
    """Something whose steps are timed: ``run(n)`` makes ``n`` calls and returns the CPU seconds they took.

    ``steps_per_call`` is how many env steps one call makes (1 for a single env, ``n_envs`` for a
    vector env), so rates are always env steps per second.
    """

    name: str
    run: Callable[[int], float]
    steps_per_call: int = 1


def single_env(env_id: str, seed: int = 0, **make_kwargs: Any) -> Subject:
    """A single env stepped with seeded random actions, reset whenever an episode ends."""
    env = gym.make(env_id, **make_kwargs)
    env.action_space.seed(seed)
    env.reset(seed=seed)
    sample = env.action_space.sample

    def run(n_calls: int) -> float:
        actions = [sample() for _ in range(n_calls)]  # drawn before the clock starts
        step, reset = env.step, env.reset
        gc.collect()
        start = time.process_time()
        for action in actions:
            _, _, terminated, truncated, _ = step(action)
            if terminated or truncated:
                reset()
        return time.process_time() - start

    return Subject(env_id, run)


def block_calls(subject: Subject, block_s: float) -> int:
    """Warm the subject up, then the number of calls that takes about ``block_s`` CPU seconds."""
    n, spent = 0, 0.0
    batch = 1
    while spent < WARMUP_S:
        spent += subject.run(batch)
        n += batch
        batch *= 2
    per_call = max(spent / n, 1e-9)
    return min(max(round(block_s / per_call), MIN_BLOCK_CALLS), MAX_BLOCK_CALLS)


@dataclass
class Measurement:
    """Medians over the repetitions: the ratio, the subject's and CartPole's env steps per second."""

    ratio: float
    steps_per_s: float
    reference_steps_per_s: float
    reference_rates: list[float]


def interleaved_ratio(subject: Subject, reference: Subject, repeats: int, block_s: float,
                      advance: Callable[[], None] = lambda: None) -> Measurement:
    """Alternate blocks of ``reference`` and ``subject``; median of the per-repetition rate ratios.

    ``advance`` is called after each repetition (the progress bar).
    """
    n_sub, n_ref = block_calls(subject, block_s), block_calls(reference, block_s)
    ratios, rates, ref_rates = [], [], []
    for k in range(repeats):
        if k % 2 == 0:  # flip the order so a drift within a repetition favours neither
            ref_s, sub_s = reference.run(n_ref), subject.run(n_sub)
        else:
            sub_s, ref_s = subject.run(n_sub), reference.run(n_ref)
        rate = n_sub * subject.steps_per_call / sub_s
        ref_rate = n_ref * reference.steps_per_call / ref_s
        ratios.append(rate / ref_rate)
        rates.append(rate)
        ref_rates.append(ref_rate)
        advance()
    return Measurement(statistics.median(ratios), statistics.median(rates), statistics.median(ref_rates),
                       ref_rates)


def single_ratios(env_ids: list[str], reference: Subject, repeats: int, block_s: float, progress: Progress,
                  rows: list[tuple], ref_rates: list[float]) -> dict[str, float]:
    """Each single env's median ratio to CartPole (also appends its table row and CartPole rates)."""
    out = {}
    for env_id in env_ids:
        task = progress.add_task(env_id, total=repeats)
        m = interleaved_ratio(single_env(env_id), reference, repeats, block_s,
                              lambda task=task: progress.advance(task))
        out[env_id] = round(m.ratio, 4)
        ref_rates.extend(m.reference_rates)
        rows.append((env_id, "1", m.steps_per_s, m.reference_steps_per_s, m.ratio, TARGETS.get(env_id)))
    return out


def vector_env(env_id: str, n_envs: int, seed: int = 0) -> Subject:
    """The registered vector env (``gym.make_vec(..., vectorization_mode="vector_entry_point")``, the
    registered time limit included) stepped with seeded random batches of actions; it autoresets
    itself, and those resets are timed with the steps."""
    envs = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="vector_entry_point")
    envs.action_space.seed(seed)
    envs.reset(seed=seed)
    sample = envs.action_space.sample

    def run(n_calls: int) -> float:
        actions = [sample() for _ in range(n_calls)]  # drawn before the clock starts
        step = envs.step
        gc.collect()
        start = time.process_time()
        for action in actions:
            step(action)
        return time.process_time() - start

    return Subject(f"{env_id} x{n_envs}", run, steps_per_call=n_envs)


def vector_ratios(env_ids: list[str], reference: Subject, repeats: int, block_s: float, progress: Progress,
                  rows: list[tuple], ref_rates: list[float]) -> dict[str, dict[str, float]]:
    """Each vector env's ratio per batch size (``{env_id: {"1": r, "64": r, "1024": r}}``): decisions/s
    (``n_envs`` x vector steps/s) over CartPole's single-env steps/s, for the ids in ``env_ids`` that
    register a vector entry point."""
    out: dict[str, dict[str, float]] = {}
    for env_id in (e for e in env_ids if gym.spec(e).vector_entry_point is not None):
        out[env_id] = {}
        for n_envs in VECTOR_SIZES:
            subject = vector_env(env_id, n_envs)
            task = progress.add_task(subject.name, total=repeats)
            m = interleaved_ratio(subject, reference, repeats, block_s, lambda task=task: progress.advance(task))
            out[env_id][str(n_envs)] = round(m.ratio, 4)
            ref_rates.extend(m.reference_rates)
            rows.append((env_id, str(n_envs), m.steps_per_s, m.reference_steps_per_s, m.ratio,
                         VECTOR_TARGETS.get((env_id, n_envs))))
    return out


def core_only(env_id: str, n_envs: int, seed: int = 0) -> Subject:
    """The shared core alone over ``n_envs`` systems: per decision one ``Cluster.serve`` and the next
    request, in a plain loop, with no observation, reward, info, action check or autoreset. Any vector env
    that steps the same core one request at a time (as the native one must, to stay equal to the
    single env) does at least this work per decision, so this rate is its ceiling on one core.

    The systems are the env's scenario built by :func:`e3gym.scenarios.build` with seeds
    ``seed + i``; actions are the env's random actions, decoded before the clock starts."""
    from e3gym.core.rng import RandomStream
    from e3gym.scenarios import build

    env = gym.make(env_id).unwrapped
    env.action_space.seed(seed)
    systems = []
    for i in range(n_envs):
        link_rng, work_rng = np.random.default_rng(seed + i).spawn(2)
        built = build(env.spec_data, link_rng, env.profiles)
        built.workload.reset(RandomStream(work_rng))
        systems.append([built.cluster.serve, built.workload.next_request, built.workload.next_request()])
    sample, decode = env.action_space.sample, env.decode_action

    def run(n_calls: int) -> float:
        actions = [[decode(sample()) for _ in range(n_envs)] for _ in range(n_calls)]
        gc.collect()
        start = time.process_time()
        for batch in actions:
            for system, (tier, cut, model) in zip(systems, batch):
                serve, next_request, request = system
                serve(request, tier, cut, model)
                system[2] = next_request()
        return time.process_time() - start

    return Subject(f"{env_id} core x{n_envs}", run, steps_per_call=n_envs)


def core_ratios(env_ids: list[str], reference: Subject, repeats: int, block_s: float, progress: Progress,
                rows: list[tuple], ref_rates: list[float]) -> dict[str, dict[str, float]]:
    """:func:`core_only`'s ratio at the largest batch size for the ids with a vector env
    (``{env_id: {"1024": r}}``): the ceiling of a vector env over the shared core, on one core."""
    out: dict[str, dict[str, float]] = {}
    n_envs = VECTOR_SIZES[-1]
    for env_id in (e for e in env_ids if gym.spec(e).vector_entry_point is not None):
        subject = core_only(env_id, n_envs)
        task = progress.add_task(subject.name, total=repeats)
        m = interleaved_ratio(subject, reference, repeats, block_s, lambda task=task: progress.advance(task))
        out[env_id] = {str(n_envs): round(m.ratio, 4)}
        ref_rates.extend(m.reference_rates)
        rows.append((f"{env_id} core only", str(n_envs), m.steps_per_s, m.reference_steps_per_s, m.ratio, None))
    return out


def oracle_decisions(env_id: str, seed: int = 0) -> Subject:
    """The clairvoyant Oracle choosing every action of a single env: each call times one ``act()`` alone
    (the env's step to the next request is not timed)."""
    from e3gym.agents.baselines import Oracle

    env = gym.make(env_id)
    agent = Oracle(env)
    obs, info = env.reset(seed=seed)

    def run(n_calls: int) -> float:
        nonlocal obs, info
        clock, act, step = time.process_time, agent.act, env.step
        gc.collect()
        spent = 0.0
        for _ in range(n_calls):
            start = clock()
            action = act(obs, info)
            spent += clock() - start
            obs, _, terminated, truncated, info = step(action)
            if terminated or truncated:
                obs, info = env.reset()
        return spent

    return Subject(f"{env_id} oracle", run)


def oracle_costs(env_ids: list[str], repeats: int, block_s: float, progress: Progress,
                 rows: list[tuple]) -> dict[str, float]:
    """The Oracle's cost per decision in single-env steps (``{env_id: steps}``), for the ids in ``env_ids``
    it can act on: its decisions interleaved with the same env's random-action steps, median ratio inverted."""
    out = {}
    for env_id in (e for e in env_ids if e in ORACLE_ENVS):
        subject, steps = oracle_decisions(env_id), single_env(env_id)
        task = progress.add_task(subject.name, total=repeats)
        m = interleaved_ratio(subject, steps, repeats, block_s, lambda task=task: progress.advance(task))
        out[env_id] = round(1 / m.ratio, 3)
        rows.append((f"{env_id} oracle", "1", m.steps_per_s, m.reference_steps_per_s, m.ratio,
                     1 / ORACLE_TARGET_STEPS, "random steps"))
    return out


def hardware() -> str:
    """The CPU model, its core count, the OS and the Python and Gymnasium versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.machine()}, "
            f"Python {platform.python_version()}, Gymnasium {gym.__version__}")


def check_args(args: argparse.Namespace) -> None:
    """Raise E3GymError naming the first bad argument."""
    if args.repeats < MIN_REPEATS:
        raise E3GymError(f"--repeats must be >= {MIN_REPEATS} (the median of fewer is too noisy), got {args.repeats}")
    if not 0.01 <= args.block_s <= 60:
        raise E3GymError(f"--block-s must be in [0.01, 60] CPU seconds, got {args.block_s}")
    unknown = [e for e in args.envs if e not in e3gym.ENVIRONMENTS]
    if unknown:
        raise E3GymError(f"--envs: unknown env id {unknown[0]!r}; registered: {', '.join(sorted(e3gym.ENVIRONMENTS))}")


def table(rows: list[tuple]) -> Table:
    """The results as a rich table."""
    t = Table(title="steps/s in CPU time, ratio to the reference (median of the repetitions)")
    t.add_column("env", no_wrap=True)
    for name in ("n_envs", "steps/s", "reference steps/s", "ratio"):
        t.add_column(name, justify="right")
    t.add_column("reference", no_wrap=True)
    t.add_column("target")
    for env_id, n_envs, rate, ref, ratio, target, *against in rows:
        verdict = "" if target is None else f">= {target:.2f}x {'met' if ratio >= target else 'MISSED'}"
        t.add_row(env_id, n_envs, f"{rate:,.0f}", f"{ref:,.0f}", f"{ratio:.4f}", (against or ["CartPole"])[0],
                  verdict)
    return t


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS,
                        help=f"interleaved repetitions per env, >= {MIN_REPEATS} (default {MIN_REPEATS})")
    parser.add_argument("--block-s", type=float, default=0.3,
                        help="CPU seconds each timed block should take (default 0.3)")
    parser.add_argument("--envs", nargs="+", default=sorted(e3gym.ENVIRONMENTS), metavar="ID",
                        help="env ids to measure (default: every registered one)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"results JSON (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    try:
        check_args(args)
    except E3GymError as err:
        parser.error(str(err))

    console = Console(stderr=True)
    reference = single_env(REFERENCE_ID)
    rows: list[tuple] = []
    ref_rates: list[float] = []
    columns = (TextColumn("{task.description:32s}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        single = single_ratios(args.envs, reference, args.repeats, args.block_s, progress, rows, ref_rates)
        vector = vector_ratios(args.envs, reference, args.repeats, args.block_s, progress, rows, ref_rates)
        core = core_ratios(args.envs, reference, args.repeats, args.block_s, progress, rows, ref_rates)
        oracle = oracle_costs(args.envs, args.repeats, args.block_s, progress, rows)
    Console(width=max(Console().width, 100)).print(table(rows))  # env ids unclipped when piped (80 columns)
    command = shlex.join(["python", "benchmarks/throughput.py", *(sys.argv[1:] if argv is None else argv)])
    result = {"single": single, "vector": vector, "core_only": core, "oracle_steps_per_decision": oracle,
              "cartpole_steps_per_s": round(statistics.median(ref_rates)), "hardware": hardware(),
              "compiled_core": compiled_modules(), "command": command}
    write_json_atomic(args.out, result)
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
