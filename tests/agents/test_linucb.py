"""LinUCB against its closed form."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e3gym.agents.linucb import LinUCBConfig, LinUCBModel


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_arms=st.integers(1, 4), dim=st.integers(1, 5), n=st.integers(0, 30),
       alpha=st.floats(0, 2), lam=st.floats(0.1, 5))
def test_sherman_morrison_matches_the_closed_form(seed, n_arms, dim, n, alpha, lam):
    rng = np.random.default_rng(seed)
    model = LinUCBModel(n_arms, dim, LinUCBConfig(alpha, lam))
    A = np.repeat(np.eye(dim)[None] * lam, n_arms, axis=0)
    b = np.zeros((n_arms, dim))
    for _ in range(n):
        arm, x, r = int(rng.integers(n_arms)), rng.normal(size=dim), float(rng.normal())
        model.update(arm, x, r)
        A[arm] += np.outer(x, x)
        b[arm] += r * x
    x = rng.normal(size=dim)
    theta = np.stack([np.linalg.solve(A[k], b[k]) for k in range(n_arms)])
    ucb = theta @ x + alpha * np.sqrt([x @ np.linalg.solve(A[k], x) for k in range(n_arms)])
    np.testing.assert_allclose(model.theta(), theta, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(model.ucb(x), ucb, rtol=1e-7, atol=1e-9)
    assert model.select(x) == int(np.argmax(model.ucb(x)))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n_arms=st.integers(1, 40), dim=st.integers(1, 24), n=st.integers(0, 60),
       prior=st.one_of(st.none(), st.floats(-5, 5)))
def test_kept_estimates_are_the_batched_ones_bit_for_bit(seed, n_arms, dim, n, prior):
    # update() refreshes only the played arm's estimate; it must equal recomputing every arm, exactly,
    # or LinUCB's decisions would depend on how it was computed
    rng = np.random.default_rng(seed)
    model = LinUCBModel(n_arms, dim)
    for step in range(n):
        if prior is not None and step == n // 2:
            model.add_prior_mean(prior)
        model.update(int(rng.integers(n_arms)), rng.normal(size=dim), float(rng.normal()))
    assert np.array_equal(model.theta(), np.einsum("kij,kj->ki", model.A_inv, model.b))


def test_learns_the_better_arm_of_a_linear_bandit():
    rng = np.random.default_rng(0)
    true = np.array([[1.0, -1.0], [-1.0, 1.0]])  # arm 0 pays on x[0], arm 1 on x[1]
    model = LinUCBModel(2, 2, LinUCBConfig(alpha=0.5))
    for _ in range(300):
        x = rng.uniform(size=2)
        arm = model.select(x)
        model.update(arm, x, float(true[arm] @ x + 0.05 * rng.normal()))
    assert model.select(np.array([1.0, 0.0])) == 0 and model.select(np.array([0.0, 1.0])) == 1


def test_allowed_mask_restricts_selection():
    model = LinUCBModel(3, 2)
    model.update(2, np.array([1.0, 1.0]), 10.0)
    assert model.select(np.array([1.0, 1.0])) == 2
    assert model.select(np.array([1.0, 1.0]), np.array([True, True, False])) in (0, 1)


@pytest.mark.parametrize("kwargs, match", [(dict(alpha=-1), "alpha"), (dict(lam=0), "lam")])
def test_bad_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LinUCBConfig(**kwargs)


def test_prior_mean_shifts_untried_arms_to_the_prior():
    model = LinUCBModel(3, 3, LinUCBConfig(alpha=0.0, lam=2.0))
    model.add_prior_mean(-0.7)
    x = np.array([0.3, 0.9, 1.0])  # last feature is the bias
    np.testing.assert_allclose(model.ucb(x), -0.7)
    # the same as a ridge fit whose prior mean is -0.7 on the bias: closed form with b = lam * mu
    model.update(0, x, -0.2)
    A = 2.0 * np.eye(3) + np.outer(x, x)
    b = 2.0 * np.array([0, 0, -0.7]) + -0.2 * x
    np.testing.assert_allclose(model.theta()[0], np.linalg.solve(A, b))
