"""The vector envs against independent references: N single envs from ``gym.make`` stepped by hand
(Gymnasium's NEXT_STEP autoreset), and SB3's own ``DummyVecEnv`` of single envs for the SB3 adapter."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space
from hypothesis import given, settings
from hypothesis import strategies as st

import e3gym
from e3gym.envs.vector import EndEdgeCloudVectorEnv, ModelSelectionVectorEnv
from e3gym.errors import E3GymError

N_ENVS, MAX_STEPS, N_STEPS = 8, 15, 40  # 40 steps with a limit of 15: two autoresets per sub-env
SEEDS = [3, 17, 4, 99, 0, 12345, 7, 2024]
VECTOR_IDS = {"e3gym/EndEdgeCloud-v1": EndEdgeCloudVectorEnv, "e3gym/ModelSelection-v1": ModelSelectionVectorEnv}


def _actions(space: gym.Space, n_steps: int) -> list[np.ndarray]:
    space.seed(0)
    return [space.sample() for _ in range(n_steps)]


def _assert_same(a, b, where: str) -> None:
    """Equal bit for bit: same type of container, same dtype, same bytes."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, where
        assert a.tobytes() == b.tobytes(), where
    elif isinstance(a, np.generic):
        assert type(a) is type(b) and a.tobytes() == b.tobytes(), f"{where}: {a!r} != {b!r}"
    else:
        assert type(a) is type(b) and a == b, f"{where}: {a!r} != {b!r}"


def _info_of(infos: dict, i: int) -> dict:
    """Sub-env ``i``'s info out of Gymnasium's vector info dict (the keys whose ``_key`` mask is set)."""
    out = {}
    for key, value in infos.items():
        if key.startswith("_") or not infos[f"_{key}"][i]:
            continue
        out[key] = _info_of(value, i) if isinstance(value, dict) else value[i]
    return out


def _plain(x):
    """Python scalars as numpy scalars: what a value looks like after going through a vector info array."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, bool):
        return np.bool_(x)
    if isinstance(x, int):
        return np.int64(x)
    if isinstance(x, float):
        return np.float64(x)
    return x


@pytest.mark.parametrize("env_id", sorted(VECTOR_IDS))
def test_vector_env_equals_single_envs_across_autoresets(env_id):
    envs = gym.make_vec(env_id, num_envs=N_ENVS, vectorization_mode="vector_entry_point",
                        max_episode_steps=MAX_STEPS)
    singles = [gym.make(env_id, max_episode_steps=MAX_STEPS) for _ in range(N_ENVS)]
    obs, infos = envs.reset(seed=SEEDS)
    for i, (env, seed) in enumerate(zip(singles, SEEDS)):
        o, info = env.reset(seed=seed)
        _assert_same(o, obs[i], f"reset obs {i}")
        _assert_same(_plain(info), _info_of(infos, i), f"reset info {i}")
    ended = [False] * N_ENVS
    n_autoresets = 0
    for t, actions in enumerate(_actions(envs.action_space, N_STEPS)):
        obs, rewards, terminated, truncated, infos = envs.step(actions)
        assert obs.dtype == np.float32 and rewards.dtype == np.float64
        for i, env in enumerate(singles):
            if ended[i]:  # NEXT_STEP: this step resets the sub-env, its action ignored
                o, info = env.reset()
                r, term, trunc = 0.0, False, False
                n_autoresets += 1
            else:
                o, r, term, trunc, info = env.step(actions[i])
            where = f"step {t} env {i}"
            _assert_same(o, obs[i], f"{where} obs")
            assert np.float64(r).tobytes() == rewards[i].tobytes(), where
            assert (bool(term), bool(trunc)) == (terminated[i], truncated[i]), where
            _assert_same(_plain(info), _info_of(infos, i), f"{where} info")
            ended[i] = term or trunc
    assert n_autoresets == 2 * N_ENVS  # episodes ended at steps 15 and 31 (0-based 14 and 30)


def test_vector_env_seeds_an_int_as_consecutive_seeds():
    a = EndEdgeCloudVectorEnv(num_envs=3)
    b = EndEdgeCloudVectorEnv(num_envs=3)
    _assert_same(a.reset(seed=5)[0], b.reset(seed=[5, 6, 7])[0], "reset obs")


def test_make_vec_returns_the_vector_classes_with_gymnasium_conventions():
    for env_id, cls in VECTOR_IDS.items():
        envs = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point")
        assert type(envs) is cls
        assert type(gym.make_vec(env_id, num_envs=2)) is cls  # the registered vector entry point is the default
        single = gym.make(env_id).unwrapped
        assert envs.single_observation_space == single.observation_space
        assert envs.single_action_space == single.action_space
        assert envs.observation_space == batch_space(single.observation_space, 3)
        assert envs.action_space == batch_space(single.action_space, 3)
        assert envs.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
        assert envs.max_episode_steps == gym.spec(env_id).max_episode_steps
        assert envs.spec.id == env_id


def test_truncates_at_the_registered_limit_by_default():
    envs = EndEdgeCloudVectorEnv(num_envs=2)
    envs.reset(seed=0)
    limit = e3gym.ENVIRONMENTS["e3gym/EndEdgeCloud-v1"][1]
    actions = np.zeros(envs.action_space.shape, np.int64)
    flags = [envs.step(actions)[3].copy() for _ in range(limit)]
    assert not any(f.any() for f in flags[:-1]) and flags[-1].all()
    envs = EndEdgeCloudVectorEnv(num_envs=2, max_episode_steps=None)
    envs.reset(seed=0)
    assert not any(envs.step(actions)[3].any() for _ in range(limit + 5))


def test_partial_reset_with_a_mask_resets_only_the_selected_sub_envs():
    envs = EndEdgeCloudVectorEnv(num_envs=3, max_episode_steps=5)
    fresh = EndEdgeCloudVectorEnv(num_envs=3)
    envs.reset(seed=0)
    stepped, _, _, _, _ = envs.step(np.ones(envs.action_space.shape, np.int64))
    obs, infos = envs.reset(seed=[None, 41, None], options={"reset_mask": np.array([False, True, False])})
    expected, _ = fresh.reset(seed=[0, 41, 2])
    _assert_same(obs[1], expected[1], "reset sub-env")
    _assert_same(obs[[0, 2]], stepped[[0, 2]], "untouched sub-envs")
    assert infos["_user"].tolist() == [False, True, False]


@pytest.mark.parametrize("kwargs, argument", [
    ({"num_envs": 0}, "num_envs"), ({"num_envs": True}, "num_envs"), ({"num_envs": 2.0}, "num_envs"),
    ({"max_episode_steps": 0}, "max_episode_steps"), ({"max_episode_steps": 1.5}, "max_episode_steps"),
])
def test_bad_constructor_arguments_are_named(kwargs, argument):
    with pytest.raises(E3GymError, match=argument):
        EndEdgeCloudVectorEnv(**kwargs)


def test_bad_reset_and_step_arguments_are_named():
    envs = EndEdgeCloudVectorEnv(num_envs=3)
    for seed in ([1, 2], [1, 2, 3, 4], "7"):
        with pytest.raises(E3GymError, match="seed"):
            envs.reset(seed=seed)
    with pytest.raises(E3GymError, match="reset_mask"):
        envs.reset(options={"reset_mask": np.zeros(3, np.bool_)})
    envs.reset(seed=0)
    with pytest.raises(E3GymError, match="actions"):
        envs.step(np.zeros((2, 3), np.int64))
    with pytest.raises(ValueError, match="tier"):  # the single env's own action check, per sub-env
        envs.step(np.array([[5, 0, 0]] * 3))


def test_make_vec_passes_env_kwargs_to_every_sub_env():
    envs = gym.make_vec("e3gym/EndEdgeCloud-v1", num_envs=2, vectorization_mode="vector_entry_point",
                        reward_mode="weighted", queue_obs_max=8)
    assert envs.get_attr("reward_mode") == ("weighted", "weighted")
    assert envs.single_observation_space.high[2] == 8


# ---------------------------------------------------------------------------------------- SB3 adapter
sb3 = pytest.importorskip("stable_baselines3")


def test_sb3_adapter_equals_dummy_vec_env_of_single_envs():
    from stable_baselines3.common.vec_env import DummyVecEnv

    from e3gym.agents.sb3_vec import make_sb3_vec_env

    env_id = "e3gym/EndEdgeCloud-v1"
    ours = make_sb3_vec_env(env_id, n_envs=N_ENVS, max_episode_steps=MAX_STEPS)
    ref = DummyVecEnv([lambda: gym.make(env_id, max_episode_steps=MAX_STEPS) for _ in range(N_ENVS)])
    ours.seed(11)
    ref.seed(11)
    _assert_same(ref.reset(), ours.reset(), "reset obs")
    _assert_same(ref.reset_infos, ours.reset_infos, "reset infos")
    n_done = 0
    for t, actions in enumerate(_actions(ref.action_space, N_STEPS)):
        batched = np.stack([actions] * N_ENVS)
        a, b = ref.step(batched), ours.step(batched)
        for name, x, y in zip(("obs", "rewards", "dones"), a[:3], b[:3]):
            _assert_same(x, y, f"step {t} {name}")
        assert len(a[3]) == len(b[3]) == N_ENVS
        for i, (x, y) in enumerate(zip(a[3], b[3])):
            _assert_same(x, y, f"step {t} info {i}")
        _assert_same(ref.reset_infos, ours.reset_infos, f"step {t} reset infos")
        n_done += int(a[2].sum())
    assert n_done == 2 * N_ENVS


def test_sb3_adapter_passes_nan_checks_and_trains_ppo():
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecCheckNan

    from e3gym.agents.sb3_vec import make_sb3_vec_env

    # check_env takes a single gym.Env; for a VecEnv SB3's applicable check is VecCheckNan.
    venv = VecCheckNan(make_sb3_vec_env("e3gym/ModelSelection-v1", n_envs=4, max_episode_steps=20),
                       raise_exception=True)
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(256)
    assert model.num_timesteps >= 256
    assert venv.env_is_wrapped(gym.wrappers.TimeLimit) == [False] * 4


def test_sb3_adapter_refuses_other_ids_and_objects():
    from e3gym.agents.sb3_vec import SB3VecEnv, make_sb3_vec_env

    with pytest.raises(E3GymError, match="env_id"):
        make_sb3_vec_env("e3gym/Partition-v0", n_envs=2)
    with pytest.raises(E3GymError, match="venv"):
        SB3VecEnv(gym.make("e3gym/EndEdgeCloud-v1"))


# ------------------------------------------------------------------ the column-wise info stacking

_leaf = st.one_of(st.integers(-5, 5), st.floats(allow_nan=False), st.booleans(), st.text(max_size=2),
                  st.just(np.float32(1.5)), st.just(np.bool_(True)), st.just(np.arange(3, dtype=np.float32)),
                  st.just((1, 2)), st.just([0.5]))
_info = st.dictionaries(st.sampled_from(["a", "b", "c"]),
                        st.one_of(_leaf, st.dictionaries(st.sampled_from(["x", "y"]), _leaf, max_size=2)),
                        max_size=3)


_STACK_ENVS = EndEdgeCloudVectorEnv(num_envs=3)


def _reference_stack(envs: EndEdgeCloudVectorEnv, env_infos: list[dict]) -> dict:
    stacked: dict = {}
    for i, info in enumerate(env_infos):
        stacked = envs._add_info(stacked, info, i)  # Gymnasium's own, sub-env by sub-env
    return stacked


def _assert_same_stack(a, b) -> None:
    assert type(a) is type(b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _assert_same_stack(a[k], b[k])
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        if a.dtype == object:
            for x, y in zip(a, b):
                _assert_same_stack(x, y)
        else:
            assert a.tobytes() == b.tobytes()
    else:
        assert a == b


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@settings(max_examples=300, deadline=None)
@given(st.lists(_info, min_size=3, max_size=3), st.booleans())
def test_stack_infos_equals_gymnasiums_add_info(env_infos, same_keys):
    envs = _STACK_ENVS
    if same_keys:  # the fast path's case: every sub-env's info has the first one's keys and types
        env_infos = [env_infos[0]] * 3
    try:
        expected = _reference_stack(envs, env_infos)
    except (AttributeError, OverflowError, TypeError, ValueError) as err:  # infos _add_info cannot batch
        with pytest.raises(type(err)):
            envs.stack_infos(env_infos)
        return
    _assert_same_stack(expected, envs.stack_infos(env_infos))


def test_stack_infos_of_real_step_and_reset_infos_equals_add_info():
    envs = EndEdgeCloudVectorEnv(num_envs=3, max_episode_steps=2)
    envs.reset(seed=0)
    single = [gym.make("e3gym/EndEdgeCloud-v1").unwrapped for _ in range(3)]
    reset_infos = [env.reset(seed=i)[1] for i, env in enumerate(single)]
    step_infos = [env.step([1, 0, 0])[4] for env in single]
    for env_infos in (reset_infos, step_infos, [step_infos[0], reset_infos[1], step_infos[2]]):
        _assert_same_stack(_reference_stack(envs, env_infos), envs.stack_infos(env_infos))
