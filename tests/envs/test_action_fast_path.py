"""ActionCheck's fast path accepts, converts and refuses exactly what its general path does."""
from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces
from hypothesis import given, settings
from hypothesis import strategies as st

from e3gym.envs.actions import ActionCheck

MULTI = ActionCheck(spaces.MultiDiscrete([3, 22, 6]), ("tier", "cut", "model"))
SHIFTED = ActionCheck(spaces.MultiDiscrete([2, 5], start=[-1, 3]))
DISCRETE = ActionCheck(spaces.Discrete(7))
DISCRETE_SHIFTED = ActionCheck(spaces.Discrete(4, start=2))
CHECKS = [MULTI, SHIFTED, DISCRETE, DISCRETE_SHIFTED]

_values = st.integers(-3, 25)
_component = st.one_of(_values, st.booleans(), _values.map(np.int64), _values.map(np.int32),
                       st.floats(-2, 25), st.just("1"), st.none())
_dtypes = st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64, np.float32,
                           np.float64, np.bool_])


@st.composite
def _arrays(draw):
    shape = draw(st.sampled_from([(), (1,), (2,), (3,), (4,), (1, 3), (3, 1)]))
    dtype = draw(_dtypes)
    values = draw(st.lists(st.integers(0, 25), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    return np.array(values, dtype=dtype).reshape(shape)


_actions = st.one_of(
    _arrays(),
    st.lists(_component, max_size=4),
    st.lists(_component, max_size=4).map(tuple),
    st.lists(_values, min_size=2, max_size=3),
    st.lists(_values, min_size=2, max_size=3).map(tuple),
    _values, _values.map(np.int64), st.booleans(), st.floats(-2, 10), st.just("edge"), st.none(),
)


def _outcome(f, action):
    try:
        return "ok", f(action)
    except ValueError as err:
        return "error", str(err)


@settings(max_examples=1000, deadline=None)
@given(check=st.sampled_from(CHECKS), action=_actions)
def test_fast_path_agrees_with_the_general_path(check, action):
    fast, general = _outcome(check, action), _outcome(check.checked, action)
    assert fast == general
    if fast[0] == "ok":  # the same Python ints, never numpy scalars or bools
        value = fast[1]
        assert type(value) is (list if isinstance(check.space, spaces.MultiDiscrete) else int)
        assert all(type(v) is int for v in (value if isinstance(value, list) else [value]))


@pytest.mark.parametrize("action", [np.array([1, 21, 5]), (1, 21, 5), [1, 21, 5], np.array([0, 0, 0], np.uint8)])
def test_in_range_actions_take_the_fast_path_and_come_back_as_ints(action):
    assert MULTI(action) == [int(v) for v in action]


@pytest.mark.parametrize("action,fault", [
    ((3, 0, 0), "component 0 (tier) = 3 is outside [0, 3)"),
    (np.array([0, 22, 0]), "component 1 (cut) = 22 is outside [0, 22)"),
    ([0, 0, True], "component 2 (model) must be an integer, got bool True"),
    ((0, 0, np.int64(7)), "component 2 (model) = 7 is outside [0, 6)"),
    (np.array([0.0, 0.0, 0.0]), "expected integers, got dtype float64"),
])
def test_refusals_name_the_component(action, fault):
    with pytest.raises(ValueError, match=fault.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        MULTI(action)
