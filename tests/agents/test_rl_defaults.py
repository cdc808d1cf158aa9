"""e3gym's RL defaults live in one module; the RL Zoo files and the suites agree with it."""
from __future__ import annotations

import pytest

from e3gym.agents import rl_defaults
from e3gym.agents.train import hyperparams_dir

yaml = pytest.importorskip("yaml")


class _ZooLoader(yaml.SafeLoader):
    """RL Zoo files tag numbers as !!float; the safe loader reads those, and nothing executable."""


@pytest.mark.parametrize("algo", ["ppo"])
def test_rl_zoo_files_state_the_same_defaults(algo):
    data = yaml.load((hyperparams_dir() / f"{algo}.yml").read_text(), Loader=_ZooLoader)
    for env_id, params in data.items():
        for key, value in rl_defaults.DEFAULTS[algo].items():
            assert params[key] == value, f"{algo}.yml {env_id}: {key}"


def test_options_are_laid_over_the_defaults():
    assert rl_defaults.algo_kwargs("ppo", {"gamma": 0.9, "ent_coef": 0.01}) == {
        "n_steps": 512, "batch_size": 128, "gamma": 0.9, "ent_coef": 0.01}
    assert rl_defaults.algo_kwargs("dqn") == {}
    assert rl_defaults.algo_kwargs("maskable_ppo") == rl_defaults.PPO
