"""``e3gym train``: train an SB3 agent on an e3gym env, log to TensorBoard, evaluate, save.

    e3gym train --algo ppo --env e3gym/EndEdgeCloud-v1 --timesteps 50000 --seed 0 --logdir runs/

Ctrl-C stops training early and still saves the latest model and flushes the TensorBoard events.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

# Defined here, not imported from e3gym.agents.sb3, so that building the `e3gym` command line does
# not import Stable-Baselines3 and torch.
ALGOS = ("ppo", "a2c", "dqn", "maskable_ppo")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``e3gym train``."""
    parser.add_argument("--algo", choices=ALGOS, default="ppo", help="algorithm (dqn and maskable_ppo use FlatAction)")
    parser.add_argument("--env", default="e3gym/EndEdgeCloud-v1", help="registered env id")
    parser.add_argument("--scenario", default=None, help="scenario name or TOML path (default: the env's)")
    parser.add_argument("--timesteps", type=int, default=50_000, help="environment steps to train for")
    parser.add_argument("--seed", type=int, default=0, help="seed of the model and of the training episodes")
    parser.add_argument("--logdir", type=Path, default=Path("runs"), help="TensorBoard logs and saved models")
    parser.add_argument("--eval-episodes", type=int, default=5, help="held-out evaluation episodes after training")
    parser.add_argument("--eval-seed", type=int, default=100_000, help="first evaluation seed (disjoint from training)")
    parser.add_argument("--checkpoint-freq", type=int, default=0,
                        help="save a checkpoint every N environment steps (0: only at the end)")


def train(algo: str, env_id: str, timesteps: int, seed: int, logdir: Path, checkpoint_freq: int = 0,
          env_kwargs: dict[str, Any] | None = None, algo_kwargs: dict[str, Any] | None = None,
          progress_bar: bool = False, n_threads: int | None = 1) -> tuple[Any, Path]:
    """Train and save; returns the model and the path of the saved zip (also after Ctrl-C).

    ``n_threads`` sets torch's threads for this process (None leaves them): the policies are small
    MLPs, which run fastest on one thread; torch's default of one per core was 10x slower on a busy
    2-core machine.
    """
    import torch
    from stable_baselines3.common.callbacks import CallbackList, CheckpointCallback

    from e3gym.agents.sb3 import E3MetricsCallback, algo_class, make_env, save_trained

    if timesteps < 1:
        raise ValueError(f"--timesteps must be >= 1, got {timesteps}")
    if n_threads is not None:
        torch.set_num_threads(n_threads)
    env = make_env(env_id, algo, **(env_kwargs or {}))
    env.reset(seed=seed)
    run_dir = Path(logdir) / f"{env_id.replace('/', '_')}_{algo}_s{seed}"
    kwargs = dict(algo_kwargs or {})
    if algo in ("ppo", "maskable_ppo"):
        kwargs.setdefault("n_steps", 512)
        kwargs.setdefault("batch_size", 128)
        # A request's reward is nearly immediate (queues drain within a few requests). With SB3's
        # gamma = 0.99 the return sums ~100 later requests' noise, and on EndEdgeCloud-v1 PPO
        # collapses to the fastest model, ignoring accuracy (compare: benchmarks/agents_default.py
        # --ppo-kwargs '{"gamma": 0.99}').
        kwargs.setdefault("gamma", 0.5)
    model = algo_class(algo)("MlpPolicy", env, seed=seed, verbose=0, tensorboard_log=str(run_dir), device="cpu",
                             **kwargs)
    callbacks = [E3MetricsCallback()]
    if checkpoint_freq > 0:  # CheckpointCallback counts calls, which equal env steps for one env
        callbacks.append(CheckpointCallback(checkpoint_freq, str(run_dir / "checkpoints"), name_prefix=algo))
    try:
        model.learn(timesteps, callback=CallbackList(callbacks), tb_log_name="tb", progress_bar=progress_bar)
    except KeyboardInterrupt:
        print(f"interrupted after {model.num_timesteps} steps; saving the latest model")
    finally:
        path = save_trained(model, run_dir / "model", env, algo, seed)
        model.logger.close()
    return model, path


def evaluate(model: Any, algo: str, env_id: str, seeds: list[int], env_kwargs: dict | None = None) -> dict[str, float]:
    """Mean latency, accuracy and reward of the trained model over one episode per seed."""
    from e3gym.agents.base import run_episode
    from e3gym.agents.sb3 import SB3Agent, make_env

    env = make_env(env_id, algo, monitor=False, **(env_kwargs or {}))
    agent = SB3Agent(model, env)
    lat, acc, rew = [], [], []
    for s in seeds:
        res = run_episode(env, agent, seed=s, learn=False)
        lat += list(res.metric("latency_s"))
        acc += list(res.metric("accuracy"))
        rew.append(np.mean(res.rewards))
    return {"mean_latency_ms": float(np.mean(lat) * 1e3), "mean_accuracy": float(np.mean(acc)),
            "mean_reward": float(np.mean(rew)), "episodes": len(seeds)}


def run(args: argparse.Namespace) -> int:
    """Entry point of ``e3gym train``."""
    env_kwargs = {"scenario": args.scenario} if args.scenario else {}
    model, path = train(args.algo, args.env, args.timesteps, args.seed, args.logdir, args.checkpoint_freq,
                        env_kwargs, progress_bar=True)
    seeds = list(range(args.eval_seed, args.eval_seed + args.eval_episodes))
    result = evaluate(model, args.algo, args.env, seeds, env_kwargs)
    print(json.dumps({"model": str(path), **result}, indent=1))
    print(f"tensorboard --logdir {args.logdir}")
    return 0
