"""``e3gym train``: train an SB3 agent on an e3gym env, log to TensorBoard, evaluate, save.

    e3gym train --algo ppo --env e3gym/EndEdgeCloud-v1 --timesteps 50000 --seed 0 --logdir runs/
    e3gym train --hyperparams-dir     # where the shipped RL Zoo hyperparameter files are

The model is saved as ``<logdir>/<env>_<algo>_s<seed>/model.pt`` (policy weights) with its JSON
sidecar ``model.json`` (see :func:`e3gym.agents.sb3.save_trained`); ``--checkpoint-freq`` saves
checkpoints the same way. Ctrl-C stops training early and still saves the latest model and flushes
the TensorBoard events. Mistakes (unknown env, an algorithm that cannot act in the env, bad
numbers) are one-line errors before any training.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from e3gym.errors import E3GymError, writable_dir

# Defined here, not imported from e3gym.agents.sb3, so that building the `e3gym` command line does
# not import Stable-Baselines3 and torch.
ALGOS = ("ppo", "a2c", "dqn", "maskable_ppo")
MAX_SEED = 2**32 - 1  # numpy's and SB3's seed range


def hyperparams_dir() -> Path:
    """The folder of the shipped RL Zoo hyperparameter files (``ppo.yml``, ``a2c.yml``, ``dqn.yml``)."""
    from importlib import resources
    return Path(str(resources.files("e3gym.agents") / "hyperparams"))


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
    parser.add_argument("--hyperparams-dir", action="store_true",
                        help="print the folder of the shipped RL Zoo hyperparameter files and exit")


def _check_seed(option: str, seed: int) -> None:
    if not 0 <= seed <= MAX_SEED:
        raise E3GymError(f"{option} must be between 0 and {MAX_SEED}, got {seed}")


def _check_numbers(timesteps: int, seed: int, checkpoint_freq: int) -> None:
    if timesteps < 1:
        raise E3GymError(f"--timesteps must be >= 1, got {timesteps}")
    _check_seed("--seed", seed)
    if checkpoint_freq < 0:
        raise E3GymError(f"--checkpoint-freq must be >= 0 (0: only at the end), got {checkpoint_freq}")


def _make_env(env_id: str, algo: str, monitor: bool, env_kwargs: dict[str, Any]) -> Any:
    """``sb3.make_env`` with Gymnasium's own errors (not ValueErrors) as one-line ValueErrors naming --env."""
    import gymnasium as gym

    import e3gym
    from e3gym.agents.sb3 import make_env
    try:
        return make_env(env_id, algo, monitor=monitor, **env_kwargs)
    except gym.error.Error as err:  # unknown, misspelled or retired id
        raise E3GymError(f"--env {env_id!r}: {err} (e3gym's envs: {', '.join(e3gym.ENVIRONMENTS)})") from None
    except TypeError as err:  # gym.make passes options on to the env's constructor, which may not take them
        bad = re.search(r"unexpected keyword argument '(\w+)'", str(err))
        if bad is None or bad.group(1) not in env_kwargs:  # a TypeError of the env itself: not an input error
            raise
        option = f"--{bad.group(1).replace('_', '-')}"
        raise E3GymError(f"--env {env_id!r} takes no {option} (its constructor has no {bad.group(1)!r})") from None


def train(algo: str, env_id: str, timesteps: int, seed: int, logdir: Path, checkpoint_freq: int = 0,
          env_kwargs: dict[str, Any] | None = None, algo_kwargs: dict[str, Any] | None = None,
          progress_bar: bool = False, n_threads: int | None = 1) -> tuple[Any, Path]:
    """Train and save; returns the model and the path of the saved ``.pt`` weights (also after Ctrl-C).

    ``n_threads`` sets torch's threads for this process (None leaves them): the policies are small
    MLPs, which run fastest on one thread; torch's default of one per core was 10x slower on a busy
    2-core machine.
    """
    import torch
    from stable_baselines3.common.callbacks import CallbackList

    from e3gym.agents import rl_defaults
    from e3gym.agents.sb3 import (
        E3CheckpointCallback,
        E3MetricsCallback,
        algo_class,
        policy_config,
        save_trained,
    )

    cls = algo_class(algo)
    _check_numbers(timesteps, seed, checkpoint_freq)
    if n_threads is not None:
        torch.set_num_threads(n_threads)
    env = _make_env(env_id, algo, True, env_kwargs or {})
    env.reset(seed=seed)
    run_dir = Path(logdir) / f"{env_id.replace('/', '_')}_{algo}_s{seed}"
    kwargs = rl_defaults.algo_kwargs(algo, algo_kwargs)
    model = cls("MlpPolicy", env, seed=seed, verbose=0, tensorboard_log=str(run_dir), device="cpu", **kwargs)
    policy_config(model, algo)  # a policy that could not be saved fails now, not after training
    callbacks = [E3MetricsCallback()]
    if checkpoint_freq > 0:  # the callback counts calls, which equal env steps for one env
        callbacks.append(E3CheckpointCallback(checkpoint_freq, run_dir / "checkpoints", algo, env, algo, seed))
    try:
        model.learn(timesteps, callback=CallbackList(callbacks), tb_log_name="tb", progress_bar=progress_bar)
    except KeyboardInterrupt:
        print(f"interrupted after {model.num_timesteps} steps; saving the latest model")
    finally:
        path = save_trained(model, run_dir / "model", env, algo, seed)
        model.logger.close()
    return model, path


def evaluate(model: Any, algo: str, env_id: str, seeds: list[int], env_kwargs: dict | None = None) -> dict[str, float]:
    """Mean reward of the trained model over one episode per seed, and mean latency and accuracy on request envs."""
    from e3gym.agents.base import run_episode
    from e3gym.agents.sb3 import SB3Agent

    env = _make_env(env_id, algo, False, env_kwargs or {})
    agent = SB3Agent(model, env)
    lat, acc, rew = [], [], []
    for s in seeds:
        res = run_episode(env, agent, seed=s, learn=False)
        if all("latency_s" in i and "accuracy" in i for i in res.infos):
            lat += list(res.metric("latency_s"))
            acc += list(res.metric("accuracy"))
        rew.append(np.mean(res.rewards))
    out = {"mean_reward": float(np.mean(rew)), "episodes": len(seeds)}
    if lat:
        out = {"mean_latency_ms": float(np.mean(lat) * 1e3), "mean_accuracy": float(np.mean(acc)), **out}
    return out


def run(args: argparse.Namespace) -> int:
    """Entry point of ``e3gym train``."""
    if args.hyperparams_dir:
        print(hyperparams_dir())
        return 0
    # Every number is checked before the env is built and training starts.
    _check_numbers(args.timesteps, args.seed, args.checkpoint_freq)
    if args.eval_episodes < 1:
        raise E3GymError(f"--eval-episodes must be >= 1, got {args.eval_episodes}")
    _check_seed("--eval-seed", args.eval_seed)
    _check_seed("--eval-seed + --eval-episodes - 1", args.eval_seed + args.eval_episodes - 1)
    env_kwargs = {"scenario": args.scenario} if args.scenario else {}
    writable_dir(args.logdir, "--logdir")
    _make_env(args.env, args.algo, False, env_kwargs).close()  # a bad env or algorithm fails before training
    model, path = train(args.algo, args.env, args.timesteps, args.seed, args.logdir, args.checkpoint_freq,
                        env_kwargs, progress_bar=True)
    seeds = list(range(args.eval_seed, args.eval_seed + args.eval_episodes))
    result = evaluate(model, args.algo, args.env, seeds, env_kwargs)
    print(json.dumps({"model": str(path), **result}, indent=1))
    print(f"tensorboard --logdir {args.logdir}")
    return 0
