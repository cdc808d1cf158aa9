"""SB3 training: TensorBoard holds the env metrics, saved models are data and know their env, Ctrl-C keeps
work, and mistakes on the command line are one-line errors."""
from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from e3gym.agents import run_episode
from e3gym.agents.base import AgentSpecError
from e3gym.agents.sb3 import SB3Agent, algo_class, load_trained, make_env, save_trained
from e3gym.agents.train import evaluate, train

SMALL = {"scenario_overrides": {"users": {"count": 3}}}


def _events(run_dir: Path) -> EventAccumulator:
    files = sorted(run_dir.rglob("events.out.tfevents.*"))
    assert files, f"no TensorBoard event file under {run_dir}"
    acc = EventAccumulator(str(files[0].parent), size_guidance={"histograms": 0, "scalars": 0})
    acc.Reload()
    return acc


def test_short_ppo_run_logs_env_metrics(tmp_path):
    model, path = train("ppo", "e3gym/EndEdgeCloud-v1", 512, seed=0, logdir=tmp_path, env_kwargs=SMALL,
                        algo_kwargs={"n_steps": 128, "batch_size": 64})
    acc = _events(path.parent)
    scalars = set(acc.Tags()["scalars"])
    for key in ("latency_s", "accuracy", "energy_j", "deadline_missed", "accuracy_missed"):
        tag = f"e3gym/mean_{key}"
        assert tag in scalars
        values = [e.value for e in acc.Scalars(tag)]
        assert values and np.all(np.isfinite(values))
    latency = [e.value for e in acc.Scalars("e3gym/mean_latency_s")]
    assert all(0 < v < 60 for v in latency)
    assert {"e3gym/tier_choice", "e3gym/cut_choice", "e3gym/model_choice"} <= set(acc.Tags()["histograms"])
    result = evaluate(model, "ppo", "e3gym/EndEdgeCloud-v1", [100], SMALL)
    assert result["mean_latency_ms"] > 0 and 0 < result["mean_accuracy"] <= 1
    assert model.gamma == 0.5  # the e3gym default: rewards are nearly immediate


def test_maskable_ppo_trains_on_flat_actions_and_respects_masks(tmp_path):
    model, path = train("maskable_ppo", "e3gym/EndEdgeCloud-v1", 256, seed=1, logdir=tmp_path,
                        env_kwargs=SMALL, algo_kwargs={"n_steps": 128, "batch_size": 64})
    env = make_env("e3gym/EndEdgeCloud-v1", "maskable_ppo", monitor=False, **SMALL)
    result = run_episode(env, SB3Agent(load_trained(path, env), env), seed=3, max_steps=40)
    assert not result.metric("accuracy_missed").any()  # masked: only models meeting the requirement


def test_checkpoint_from_another_env_is_refused(tmp_path):
    _, path = train("a2c", "e3gym/EndEdgeCloud-v1", 64, seed=0, logdir=tmp_path, env_kwargs=SMALL)
    other = make_env("e3gym/ModelSelection-v1", "a2c", **SMALL)
    with pytest.raises(ValueError, match="trained on env_id 'e3gym/EndEdgeCloud-v1'"):
        load_trained(path, other)
    resized = make_env("e3gym/EndEdgeCloud-v1", "a2c", scenario_overrides={"users": {"count": 5}})
    with pytest.raises(ValueError, match="observation_space"):
        load_trained(path, resized)
    assert load_trained(path, make_env("e3gym/EndEdgeCloud-v1", "a2c", **SMALL)) is not None


def test_ctrl_c_keeps_the_model_and_the_events(tmp_path, monkeypatch):
    from stable_baselines3 import PPO
    calls = {"n": 0}
    original = PPO.train

    def interrupted(self):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(PPO, "train", interrupted)
    model, path = train("ppo", "e3gym/EndEdgeCloud-v1", 10_000, seed=0, logdir=tmp_path, env_kwargs=SMALL,
                        algo_kwargs={"n_steps": 128, "batch_size": 64})
    assert path.exists() and path.with_suffix(".json").exists()
    assert 128 <= model.num_timesteps < 10_000
    assert "e3gym/mean_latency_s" in _events(path.parent).Tags()["scalars"]


def test_unknown_algorithm():
    with pytest.raises(AgentSpecError, match="unknown algorithm 'sac'"):
        algo_class("sac")


def test_train_cli_parses(tmp_path):
    from e3gym.cli import main
    with pytest.raises(SystemExit):
        main(["train", "--algo", "sac"])
    assert main(["train", "--timesteps", "64", "--algo", "a2c", "--logdir", str(tmp_path), "--eval-episodes", "1"]) == 0
    assert sorted(p.name for p in tmp_path.rglob("model.*")) == ["model.json", "model.pt"]
    assert not list(tmp_path.rglob("*.zip")) and not list(tmp_path.rglob("*.tmp"))


# --------------------------------------------------------------------------- saved models are data
def _untrained(algo: str, seed: int = 0, **kwargs):
    """A model whose weights are moved off their initial values (as training would), without training."""
    import torch
    env = make_env("e3gym/EndEdgeCloud-v1", algo, monitor=False, **SMALL)
    model = algo_class(algo)("MlpPolicy", env, seed=seed, device="cpu", **kwargs)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in model.policy.parameters():
            p.add_(0.5 * torch.randn(p.shape, generator=gen))
    return model, env


def _outputs(model, algo: str, obs: np.ndarray):
    """The network outputs behind the actions: Q-values for DQN, action logits and values otherwise."""
    import torch
    with torch.no_grad():
        t = torch.as_tensor(obs)
        if algo == "dqn":
            return model.policy.q_net(t)
        dist = model.policy.get_distribution(t)
        logits = [d.logits for d in dist.distribution] if isinstance(dist.distribution, list) else \
            [dist.distribution.logits]
        return torch.cat([*logits, model.policy.predict_values(t)], dim=1)


@pytest.mark.parametrize("algo, kwargs", [
    ("ppo", {"policy_kwargs": {"net_arch": [16, 8], "activation_fn": __import__("torch").nn.ReLU}}),
    ("a2c", {}),  # A2C puts its RMSprop optimizer class into policy_kwargs
    ("dqn", {"policy_kwargs": {"net_arch": [32]}}),
    ("maskable_ppo", {}),
])
def test_a_reloaded_model_acts_exactly_like_the_saved_one(tmp_path, algo, kwargs):
    import torch
    torch.set_num_threads(1)
    model, env = _untrained(algo, **kwargs)
    path = save_trained(model, tmp_path / "m", env, algo, seed=0)
    assert path == tmp_path / "m.pt" and sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.pt"]
    fresh_env = make_env("e3gym/EndEdgeCloud-v1", algo, monitor=False, **SMALL)
    loaded = load_trained(path, fresh_env)
    assert type(loaded) is type(model) and type(loaded.policy) is type(model.policy)
    obs_space = fresh_env.observation_space
    obs_space.seed(0)
    obs = np.stack([obs_space.sample() for _ in range(16)])
    assert torch.equal(_outputs(loaded, algo, obs), _outputs(model, algo, obs))
    # independent of save/load: a newly built model with other weights computes something else
    other, _ = _untrained(algo, seed=7, **kwargs)
    assert not torch.equal(_outputs(other, algo, obs), _outputs(model, algo, obs))
    masks = {}
    if algo == "maskable_ppo":
        masks = {"action_masks": np.ones((16, fresh_env.action_space.n), dtype=bool)}
    assert np.array_equal(loaded.predict(obs, deterministic=True, **masks)[0],
                          model.predict(obs, deterministic=True, **masks)[0])
    if algo == "ppo":
        assert isinstance(loaded.policy.mlp_extractor.policy_net[1], torch.nn.ReLU)
        assert [m.out_features for m in loaded.policy.mlp_extractor.policy_net if hasattr(m, "out_features")] == [16, 8]


def _saved(tmp_path: Path) -> Path:
    model, env = _untrained("a2c")
    return save_trained(model, tmp_path / "m", env, "a2c", seed=0)


def _edit(sidecar: Path, **changes) -> None:
    import json
    meta = json.loads(sidecar.read_text())
    for key, value in changes.items():
        if value is _DELETE:
            meta.pop(key)
        elif key == "policy_kwargs":
            meta[key] = {**meta[key], **value}
        else:
            meta[key] = value
    sidecar.write_text(json.dumps(meta))


_DELETE = object()


@pytest.mark.parametrize("changes, message", [
    ({"algo": "sac"}, "field 'algo': unknown algorithm 'sac'"),
    ({"policy": "os.system"}, "field 'policy': unknown policy 'os.system'"),
    ({"policy_kwargs": {"activation_fn": "posix.system"}}, "field 'policy_kwargs.activation_fn': unknown activation"),
    ({"policy_kwargs": {"optimizer_class": "builtins.eval"}},
     "field 'policy_kwargs.optimizer_class': unknown optimizer"),
    ({"policy_kwargs": {"no_such_option": 1}}, "cannot rebuild the a2c policy"),
    ({"algo_kwargs": {"learning_rate": 0.1}}, "field 'algo_kwargs.learning_rate'"),
    ({"seed": "0"}, "field 'seed': expected an integer"),
    ({"format": _DELETE}, "field 'format'"),
    ({"weights_sha256": _DELETE}, "field 'weights_sha256': missing"),
    ({"extra": 1}, "field 'extra': unknown field"),
])
def test_an_unexpected_sidecar_field_is_one_line_naming_file_and_field(tmp_path, changes, message):
    path = _saved(tmp_path)
    _edit(path.with_suffix(".json"), **changes)
    with pytest.raises(ValueError, match=message) as err:
        load_trained(path, make_env("e3gym/EndEdgeCloud-v1", "a2c", monitor=False, **SMALL))
    assert str(err.value).startswith(str(path.with_suffix(".json"))) and "\n" not in str(err.value)


def test_non_json_values_and_swapped_weights_are_refused(tmp_path):
    path = _saved(tmp_path)
    env = make_env("e3gym/EndEdgeCloud-v1", "a2c", monitor=False, **SMALL)
    sidecar = path.with_suffix(".json")
    good = sidecar.read_text()
    sidecar.write_text(good.replace('"seed": 0', '"seed": NaN'))
    with pytest.raises(ValueError, match=f"{sidecar}: not a JSON model sidecar .*non-JSON value NaN"):
        load_trained(path, env)
    sidecar.write_text(good)
    other, other_env = _untrained("a2c", seed=3)
    save_trained(other, tmp_path / "other", other_env, "a2c", seed=3)
    (tmp_path / "other.pt").replace(path)  # another save's weights under this sidecar
    with pytest.raises(ValueError, match="SHA-256 is not field 'weights_sha256'"):
        load_trained(path, env)


def test_weights_without_their_sidecar_are_not_a_model(tmp_path, monkeypatch):
    import e3gym.agents.sb3 as sb3

    def interrupted(path, data):
        raise KeyboardInterrupt

    monkeypatch.setattr(sb3, "write_json_atomic", interrupted)  # as if stopped between the two files
    model, env = _untrained("a2c")
    with pytest.raises(KeyboardInterrupt):
        save_trained(model, tmp_path / "m", env, "a2c", seed=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]  # complete weights, no temporary file
    with pytest.raises(ValueError, match=r"m.json: no saved model"):
        load_trained(tmp_path / "m.pt", env)


def test_a_policy_that_cannot_be_saved_as_data_fails_before_training(tmp_path):
    import torch

    class Custom(torch.nn.ReLU):
        pass

    with pytest.raises(AgentSpecError, match="cannot save policy_kwargs.activation_fn"):
        train("ppo", "e3gym/EndEdgeCloud-v1", 10_000_000, seed=0, logdir=tmp_path, env_kwargs=SMALL,
              algo_kwargs={"policy_kwargs": {"activation_fn": Custom}})
    assert not list(tmp_path.rglob("*.pt"))


def test_every_checkpoint_has_its_sidecar_and_loads(tmp_path):
    _, path = train("a2c", "e3gym/EndEdgeCloud-v1", 60, seed=0, logdir=tmp_path, env_kwargs=SMALL,
                    checkpoint_freq=20, algo_kwargs={"n_steps": 5})
    folder = path.parent / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == [
        f"a2c_{n}_steps.{ext}" for n in (20, 40, 60) for ext in ("json", "pt")]
    env = make_env("e3gym/EndEdgeCloud-v1", "a2c", monitor=False, **SMALL)
    for n in (20, 40, 60):
        assert load_trained(folder / f"a2c_{n}_steps.pt", env).num_timesteps == 0  # rebuilt for acting
    assert not list(tmp_path.rglob("*.zip"))


def test_dqn_trains_on_a_discrete_env_without_request_metrics(tmp_path):
    model, path = train("dqn", "e3gym/ModelPlacement-v0", 64, seed=0, logdir=tmp_path,
                        algo_kwargs={"learning_starts": 16})
    env = make_env("e3gym/ModelPlacement-v0", "dqn", monitor=False)
    assert isinstance(env.action_space, gym.spaces.Discrete) and load_trained(path, env) is not None
    result = evaluate(model, "dqn", "e3gym/ModelPlacement-v0", [100])
    assert np.isfinite(result["mean_reward"]) and "mean_latency_ms" not in result


# --------------------------------------------------------------------------- command-line errors
@pytest.mark.parametrize("args, message", [
    (["--env", "e3gym/NoSuchEnv-v1"], "--env 'e3gym/NoSuchEnv-v1': Environment `NoSuchEnv` doesn't exist"),
    (["--env", "nope/Thing-v0"], "--env 'nope/Thing-v0': Namespace nope not found"),
    (["--env", "e3gym/EndEdgeCloud-v0"], "--env 'e3gym/EndEdgeCloud-v0'"),
    (["--env", "Pendulum-v1", "--algo", "dqn"], "dqn cannot act in the action space Box"),
    (["--env", "Pendulum-v1", "--algo", "maskable_ppo"], "maskable_ppo cannot act in the action space Box"),
    (["--env", "CartPole-v1", "--algo", "maskable_ppo"], "maskable_ppo needs action masks, which CartPole-v1"),
    (["--env", "Pendulum-v1", "--scenario", "default"], "--env 'Pendulum-v1' takes no --scenario"),
    (["--scenario", "no_such_scenario"], "no_such_scenario"),
    (["--timesteps", "0"], "--timesteps must be >= 1, got 0"),
    (["--seed", "-1"], "--seed must be between 0 and 4294967295, got -1"),
    (["--eval-episodes", "0"], "--eval-episodes must be >= 1"),
    (["--eval-seed", "4294967295", "--eval-episodes", "2"], "--eval-seed + --eval-episodes - 1 must be between"),
    (["--checkpoint-freq", "-5"], "--checkpoint-freq must be >= 0"),
])
def test_train_mistakes_are_one_line_before_any_work(tmp_path, capsys, args, message):
    from e3gym.cli import main
    assert main(["train", "--logdir", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("e3gym train: error: ") and len(err.splitlines()) == 1, err
    assert message in err
    assert not any(tmp_path.iterdir())


def test_unknown_algorithm_in_the_library_call(tmp_path):
    with pytest.raises(AgentSpecError, match="unknown algorithm 'sac'"):
        train("sac", "e3gym/EndEdgeCloud-v1", 64, seed=0, logdir=tmp_path)
    with pytest.raises(AgentSpecError, match="unknown algorithm 'sac'"):
        make_env("e3gym/EndEdgeCloud-v1", "sac")


# --------------------------------------------------------------------------- RL Zoo files
def test_hyperparams_dir_prints_the_shipped_rl_zoo_files(capsys):
    import importlib

    import yaml
    from stable_baselines3.common.callbacks import BaseCallback

    from e3gym.cli import main
    assert main(["train", "--hyperparams-dir"]) == 0
    folder = Path(capsys.readouterr().out.strip())
    assert folder.is_dir() and {"ppo.yml", "a2c.yml", "dqn.yml"} <= {p.name for p in folder.iterdir()}
    for name in ("ppo.yml", "a2c.yml", "dqn.yml"):
        data = yaml.safe_load((folder / name).read_text())
        for env_id, config in data.items():
            (entry,) = config["callback"]  # RL Zoo: a list of "module.Class" or {"module.Class": kwargs}
            (dotted, kwargs), = entry.items() if isinstance(entry, dict) else [(entry, {})]
            assert dotted == "e3gym.agents.sb3.E3MetricsCallback", (name, env_id)
            module, _, cls = dotted.rpartition(".")  # how RL Zoo resolves it
            callback = getattr(importlib.import_module(module), cls)(**kwargs)
            assert isinstance(callback, BaseCallback)
