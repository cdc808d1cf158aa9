"""EndEdgeCloud-v1 and ModelSelection-v1: where, how deep and with which model to serve each request."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, NamedTuple

import numpy as np
from gymnasium import spaces

from e3gym.core.bounds import ActionBounds, best_of
from e3gym.core.cluster import (
    CLOUD,
    EDGE,
    END,
    Cluster,
    Estimates,
    FifoResource,
    Outcome,
    RecordedFifo,
    require_partitionable,
)
from e3gym.core.network import RecordedMedium
from e3gym.core.profiles import ProfileLibrary
from e3gym.core.readout import observation_row, step_info
from e3gym.core.rng import RandomStream
from e3gym.envs.base import E3Env
from e3gym.errors import E3GymError
from e3gym.scenarios import ScenarioError, build, load_scenario, network_max_bps

REWARD_MODES = ("penalty", "weighted")
RENDER_SPAN_S = 5.0  # the image shows at most this much simulated time
# Observation bounds of the v1 envs, the same for every scenario (agents rescale by them). Access:
# above the fastest shipped uplink curve (Lumos5G mmWave, 233.5 Mbps after the 5G down/up ratio);
# WAN: 5x EdgeCloudSim's 20.70 Mbps default; deadline: 1 s. A scenario whose links can exceed
# them is refused; a longer deadline reads as 1 s.
OBS_ACCESS_MBPS_MAX = 250.0
OBS_WAN_MBPS_MAX = 100.0
OBS_DEADLINE_S_MAX = 1.0


class BestAction(NamedTuple):
    """What :meth:`EndEdgeCloudEnv.best_what_if` found: the action's index in ``distinct_actions()``, its
    outcome (the what-if outcome, or the predicted one when estimates were given) and its reward, and
    how many timelines the search ran."""

    index: int
    outcome: Outcome
    reward: float
    evaluated: int


def record_reservations(cluster: Cluster, log: list) -> list[str]:
    """Swap a fresh cluster's (still empty) FIFOs and media for ones logging into ``log``; the lane names.

    Lanes: each user's device, each cell's uplink, the edge workers, the WAN up, the cloud workers,
    the WAN down, each cell's downlink.
    """
    names: list[str] = []

    def fifo(resource: FifoResource, name: str) -> RecordedFifo:
        names.extend(f"{name} {w}" if resource.n_workers > 1 else name for w in range(resource.n_workers))
        return RecordedFifo(resource.n_workers, log, len(names) - resource.n_workers)

    def medium(name: str) -> RecordedMedium:
        names.append(name)
        return RecordedMedium(log, len(names) - 1)

    for i, user in enumerate(cluster.users):
        user.resource = fifo(user.resource, f"user {i}")
    cluster.cell_up = [medium(f"uplink cell {c}") for c in range(len(cluster.cell_up))]
    cluster.edge.resource = fifo(cluster.edge.resource, "edge worker")
    cluster.wan_up_medium = medium("wan up")
    cluster.cloud.resource = fifo(cluster.cloud.resource, "cloud worker")
    cluster.wan_down_medium = medium("wan down")
    cluster.cell_down = [medium(f"downlink cell {c}") for c in range(len(cluster.cell_down))]
    return names


def _check_within_bounds(data: Mapping, cluster: Cluster) -> None:
    """Refuse a scenario whose links can exceed the fixed observation bounds: its estimates would be
    clipped there, and agents reading them (Greedy's predictions, learned policies) silently wrong."""
    name = data.get("_origin", data.get("name", "scenario"))
    users = data.get("users", {})
    access = max(network_max_bps(data, "[users].network", users.get("network", "5g")),
                 *(u.uplink.process.max_bps() for u in cluster.users)) / 1e6
    if access > OBS_ACCESS_MBPS_MAX:
        raise ScenarioError(f"{name}: [users].network peaks at {access:.6g} Mbps, above the v1 observation bound "
                            f"of {OBS_ACCESS_MBPS_MAX:g} Mbps (OBS_ACCESS_MBPS_MAX): its estimates could not be "
                            "observed")
    wan = cluster.wan_up.process.max_bps() / 1e6
    if wan > OBS_WAN_MBPS_MAX:
        raise ScenarioError(f"{name}: [wan].network peaks at {wan:.6g} Mbps, above the v1 observation bound of "
                            f"{OBS_WAN_MBPS_MAX:g} Mbps (OBS_WAN_MBPS_MAX): its estimates could not be observed")


class EndEdgeCloudEnv(E3Env[np.ndarray, np.ndarray]):
    """
    ## Description

    Multi-user inference orchestration across end devices, an edge server and the cloud, after
    Shahhosseini et al., "Online Learning for Orchestration of Inference in Multi-User
    End-Edge-Cloud Networks" (ACM TECS 2022), extended with partitioning as in Neurosurgeon
    (Kang et al., ASPLOS 2017). Users issue Poisson streams of image-classification requests; for
    each request (in arrival order) the agent picks the tier, the partition point and the model
    variant. Compute times come from measured (or cited) device profiles. Cut 0 sends a JPEG frame
    (measured size, encode and decode time), inner cuts the activation; transfers replay real
    throughput traces from a random offset per user, pay the access RTT, TCP slow start and RRC
    promotion, and share their cell's airtime; every server is a FIFO queue, so each decision
    shapes later ones (:mod:`e3gym.core.cluster` gives the whole timeline).

    ## Action Space

    ``MultiDiscrete([3, max_cut + 1, n_models])``: ``(tier, cut, model)``. Tier 0 = end (all
    blocks on the user's device), 1 = edge, 2 = cloud. Blocks ``[0, cut)`` run on the device and
    ``[cut, L)`` on the tier; a cut ``>= L`` of the chosen model is clipped to ``L`` (all local),
    the only clipping the env does. ``ModelSelection-v1`` has ``MultiDiscrete([3, n_models])``.

    ## Observation Space

    ``Box(float32)`` of size ``8 + n_users + n_device_kinds``:

    | index | observation | min | max |
    |---|---|---|---|
    | 0 | requesting user's uplink bandwidth estimate (Mbps, EWMA of its transfers) | 0 | 250 |
    | 1 | edge-cloud WAN bandwidth estimate (Mbps) | 0 | 100 |
    | 2 | requests outstanding on the user's device | 0 | queue_obs_max |
    | 3 | requests outstanding at the edge | 0 | queue_obs_max |
    | 4 | requests outstanding at the cloud | 0 | queue_obs_max |
    | 5 | the request's accuracy requirement (top-1 fraction) | 0 | 1 |
    | 6 | the request's deadline (s; 0 = none) | 0 | 1 |
    | 7 .. 7+n_users-1 | every user's uplink estimate (Mbps) | 0 | 250 |
    | then n_device_kinds | one-hot of the requesting user's device kind | 0 | 1 |
    | last | 1 when the user's radio is connected (no RRC promotion needed now), else 0 | 0 | 1 |

    Queue counts saturate at ``queue_obs_max`` (a counter of fixed width, as a server would report).
    The other bounds are fixed by the env version, not by the scenario (``OBS_ACCESS_MBPS_MAX``,
    ``OBS_WAN_MBPS_MAX``, ``OBS_DEADLINE_S_MAX``): every scenario's observations are on one scale, so a
    policy trained on one trace set reads another's correctly. A scenario whose access or WAN curve
    can exceed its bound is refused (ScenarioError); a deadline above 1 s reads as 1 s (as lenient as
    any).

    ## Rewards

    ``reward_mode="penalty"`` (default): ``-latency_s - accuracy_penalty * [accuracy < requirement]
    - energy_weight * energy_j``. ``"weighted"``: ``-latency_s + accuracy_weight * accuracy -
    energy_weight * energy_j``. ``info["vector_reward"] = [-latency_s, accuracy, -energy_j]``
    matches ``reward_space``; ``e3gym/mo-EndEdgeCloud-v1`` and ``e3gym/mo-ModelSelection-v1`` (make
    them with ``mo_gymnasium.make``) return that vector as the reward, MO-Gymnasium's convention.

    ## Starting State

    Empty queues and idle cells. Each user replays its link from a seeded random point (trace
    presets: a seeded random file too); estimates start from one probe at time 0. Each user's app
    opened its TCP connection just before t = 0 (``connection = "persistent"``), so its radio is in
    its tail then: a user that does not offload for longer than the tail (LTE 10.12 s, Wi-Fi
    0.25 s) pays the RRC promotion on its next offload.

    ## Episode End

    The task is continuing: the env never terminates. The registered ``max_episode_steps`` (200
    requests) truncates.

    ## Arguments

    * ``scenario``: a shipped scenario name, a TOML path or a dict (default ``"default"``).
    * ``scenario_overrides``: tables merged over the scenario (``{"users": {"count": 4}}``).
    * ``reward_mode``, ``accuracy_penalty`` (1.0), ``accuracy_weight`` (1.0), ``energy_weight`` (0.0).
    * ``queue_obs_max``: saturation of the queue counts (64).
    * ``profiles``: a :class:`~e3gym.core.profiles.ProfileLibrary` (default: the shipped one).
    * ``render_mode``: None (default), ``"rgb_array"`` or ``"ansi"``.

    Every action is valid, so ``action_masks()`` (for sb3-contrib's MaskablePPO) is all True;
    :class:`~e3gym.envs.FlatAction` masks models below the request's accuracy requirement.

    ## Rendering

    ``"rgb_array"``: an (H, W, 3) uint8 image of the last 20 requests. One band per lane, top to
    bottom: each user's device, each cell's uplink, the edge workers, the WAN up, the cloud
    workers, the WAN down, each cell's downlink. A request is a bar over every interval it held a
    lane (the reservations :meth:`Cluster.serve` made: compute or encoding, airtime), coloured by
    the tier that served it (end green, edge blue, cloud orange); time runs left to right from the
    earliest start shown to the latest end, at most 5 s (later bars are cut at the right edge).
    ``"ansi"``: the last request as text (tier, model, cut, latency, the non-zero breakdown
    components and each busy interval in ms). Nothing is recorded without a render mode, and
    rendering never changes a trajectory.

    ## Example

    >>> import gymnasium as gym, e3gym
    >>> env = gym.make("e3gym/EndEdgeCloud-v1")
    >>> obs, info = env.reset(seed=0)
    >>> env.action_space
    MultiDiscrete([ 3 22  6])
    >>> obs, reward, terminated, truncated, info = env.step([1, 0, 2])
    >>> info["bytes_up"] < 50_000  # a JPEG frame, not the raw 150,528-byte image
    True
    >>> from e3gym.core.cluster import COMPONENTS
    >>> sorted(info["breakdown"]) == sorted(COMPONENTS)
    True
    >>> bool(reward < 0)
    True

    ## Version History

    * v1: physics v1: JPEG frames and real result sizes, access RTT, TCP slow start and RRC
      promotion, shared cell airtime and WAN, real traces with per-user random offsets, per-model
      ARM figures, radio state-machine energy; breakdown keys end in ``_s``. Since e3gym 0.2 the
      observation bounds are fixed (250 Mbps access, 100 Mbps WAN, 1 s deadline) instead of each
      scenario's maxima; the observations themselves are unchanged below the bounds.
    * v0: raw-image uploads on unshared links without round trips (retired: ``gym.make`` of a v0
      id raises Gymnasium's ``DeprecatedEnv`` pointing to v1).
    """

    partition = True
    vector_reward = False  # step() returns info["vector_reward"] as the reward (the mo- ids)

    def __init__(self, scenario: str | Path | Mapping[str, Any] = "default",
                 scenario_overrides: Mapping[str, Any] | None = None, reward_mode: str = "penalty",
                 accuracy_penalty: float = 1.0, accuracy_weight: float = 1.0, energy_weight: float = 0.0,
                 queue_obs_max: int = 64, profiles: ProfileLibrary | None = None, render_mode: str | None = None):
        if reward_mode not in REWARD_MODES:
            raise E3GymError(f"reward_mode must be one of {REWARD_MODES}, got {reward_mode!r}")
        for name, value in (("accuracy_penalty", accuracy_penalty), ("accuracy_weight", accuracy_weight),
                            ("energy_weight", energy_weight)):
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise E3GymError(f"{name} must be a finite number >= 0, got {value!r}")
        if isinstance(queue_obs_max, bool) or not (isinstance(queue_obs_max, int) and queue_obs_max >= 1):
            raise E3GymError(f"queue_obs_max must be an integer >= 1, got {queue_obs_max!r}")
        if scenario_overrides is not None and not isinstance(scenario_overrides, Mapping):
            raise E3GymError(f"scenario_overrides must be a dict of tables, got {scenario_overrides!r}")
        overrides = dict(scenario_overrides or {})
        if not self.partition:
            overrides["models"] = {**overrides.get("models", {}), "partition": False}
        self.spec_data = load_scenario(scenario, overrides)
        self.profiles = profiles
        self.reward_mode, self.accuracy_penalty = reward_mode, float(accuracy_penalty)
        self.accuracy_weight, self.energy_weight = float(accuracy_weight), float(energy_weight)
        self.queue_obs_max = queue_obs_max

        # A throwaway build validates the scenario now and fixes the layout the spaces depend on.
        built = build(self.spec_data, np.random.default_rng(0), profiles)
        cluster = built.cluster
        self._table = cluster.table  # compute tables depend on the profiles only: reused every episode
        if self.partition and cluster.table.partition:
            devices = [u.device for u in cluster.users] + [cluster.edge.device, cluster.cloud.device]
            require_partitionable(cluster.table.models, devices)
        self.models = cluster.table.models
        self._model_names = [m.name for m in self.models]
        self.n_users = len(cluster.users)
        self.n_blocks = list(cluster.table.n_blocks)
        self.max_cut = max(self.n_blocks)
        kinds = sorted({u.device.name for u in cluster.users})
        self.device_kinds = kinds
        self._user_kind = [kinds.index(u.device.name) for u in cluster.users]
        # Fixed by the env version, never by the scenario's data: a policy trained on one trace set
        # then sees another on the same scale.
        access_max, wan_max, deadline_max = OBS_ACCESS_MBPS_MAX, OBS_WAN_MBPS_MAX, OBS_DEADLINE_S_MAX
        _check_within_bounds(self.spec_data, cluster)

        if self.partition:
            self.action_space = spaces.MultiDiscrete([3, self.max_cut + 1, len(self.models)])
        else:
            self.action_space = spaces.MultiDiscrete([3, len(self.models)])
        n_obs = 8 + self.n_users + len(kinds)
        high = np.concatenate([
            # Estimates are averages of measured throughputs, never above the curve's maximum.
            [access_max, wan_max],
            [queue_obs_max] * 3,  # saturating counters
            [1.0, deadline_max],
            [access_max] * self.n_users,
            [1.0] * len(kinds),
            [1.0],
        ]).astype(np.float32)
        self.observation_space = spaces.Box(np.zeros(n_obs, np.float32), high, dtype=np.float32)
        self.reward_space = spaces.Box(np.array([-np.inf, 0.0, -np.inf], np.float32),
                                       np.array([0.0, 1.0, 0.0], np.float32), dtype=np.float32)
        self._kind_onehot = [[1.0 if k == j else 0.0 for j in range(len(kinds))] for k in self._user_kind]
        names = ("tier", "cut", "model") if self.partition else ("tier", "model")
        self._setup_actions(self.action_space, names)
        self._setup_render(render_mode, record_reservations(cluster, []), max_span_s=RENDER_SPAN_S)
        self._reserved: list[tuple[int, float, float]] = []
        self._layout = cluster  # the system until the first reset: the scenario built with seed 0
        self._cluster: Cluster | None = None
        self._bounds: ActionBounds | None = None  # per-action constants of the latency table, built on first use

    # ------------------------------------------------------------------ gymnasium API
    def _reset(self, options: dict | None) -> tuple[np.ndarray, dict]:
        link_rng, work_rng = self.np_random.spawn(2)
        built = build(self.spec_data, link_rng, self.profiles, self._table)
        self._cluster = built.cluster
        if self.timeline is not None:
            self.timeline.clear()
            self._reserved = []
            record_reservations(self._cluster, self._reserved)
        self._workload = built.workload
        self._workload.reset(RandomStream(work_rng))
        self._request = self._workload.next_request()
        return self._observe(), {"user": self._request.user, "arrival_s": self._request.arrival_s}

    def _step(self, action: tuple[int, int, int]) -> tuple[np.ndarray, Any, bool, bool, dict]:
        tier, cut, model = action
        request = self._request
        out = self._cluster.serve(request, tier, cut, model)
        info = step_info(request, out, self._model_names[out.model])
        reward = info["vector_reward"].copy() if self.vector_reward else self.reward_of(out, request)
        if self.timeline is not None:
            self._add_to_timeline(info)
        self._request = self._workload.next_request()
        return self._observe(), reward, False, False, info

    # ------------------------------------------------------------------ helpers
    def decode_action(self, action) -> tuple[int, int, int]:
        """(tier, cut, model) of an action (cut 0 without partitioning); ValueError naming the action
        when it is not integers inside the action space (:class:`~e3gym.envs.actions.ActionCheck`)."""
        if self.partition:
            tier, cut, model = self._check_action(action)
            return tier, cut, model
        tier, model = self._check_action(action)
        return tier, 0, model

    def reward_of(self, out: Outcome, request=None) -> float:
        """The scalar reward of an outcome for ``request`` (default: the current request)."""
        request = self._request if request is None else request
        reward = -out.latency_s - self.energy_weight * out.energy_j
        if self.reward_mode == "penalty":
            return reward - self.accuracy_penalty * (out.accuracy < request.accuracy_req)
        return reward + self.accuracy_weight * out.accuracy

    def what_if(self, action) -> Outcome:
        """The outcome the current request would get under ``action``, using the true future (clairvoyant)."""
        tier, cut, model = self.decode_action(action)
        return self._cluster.serve(self._request, tier, cut, model, commit=False)

    def best_what_if(self, estimates: Estimates | None = None) -> BestAction:
        """The distinct action whose what-if outcome has the best reward, the first one on ties: the argmax
        of ``reward_of(what_if(a))`` over :meth:`distinct_actions`, found by running the timeline only for
        actions whose latency bound (:mod:`e3gym.core.bounds`) lets them still win. With ``estimates``,
        the outcomes are the system's predictions from them (:meth:`Cluster.predict`) instead."""
        if self._cluster is None:
            raise E3GymError("best_what_if() needs a reset() first: there is no request to decide yet")
        cluster, request = self._cluster, self._request
        bounds = self._bounds
        if bounds is None:
            bounds = self._bounds = ActionBounds(cluster, [self.decode_action(a) for a in self.distinct_actions()])
        latency, energy = bounds.lower_bounds(cluster, request, self.energy_weight > 0, estimates)
        # reward_of() of an outcome with those bounds: the same float operations, each monotone in the
        # latency and the energy, so no outcome's reward is above it.
        upper = -latency if energy is None else -latency - self.energy_weight * energy
        if self.reward_mode == "penalty":
            upper = upper - self.accuracy_penalty * (bounds.accuracy < request.accuracy_req)
        else:
            upper = upper + self.accuracy_weight * bounds.accuracy
        effective = bounds.effective
        outcomes: dict[int, Outcome] = {}

        def reward(i: int) -> float:
            tier, cut, model = effective[i]
            if estimates is None:
                out = cluster.serve(request, tier, cut, model, commit=False)
            else:
                out = cluster.predict(request, tier, cut, model, estimates)
            outcomes[i] = out
            return self.reward_of(out, request)

        index, value, evaluated = best_of(upper, reward)
        return BestAction(index, outcomes[index], value, evaluated)

    def distinct_actions(self) -> list[tuple[int, ...]]:
        """Every action with a distinct effect: all-local once per model, then each offloading cut per tier."""
        out: list[tuple[int, ...]] = []
        for m, n_blocks in enumerate(self.n_blocks):
            if self.partition:
                out.append((END, n_blocks, m))
                out.extend((tier, c, m) for tier in (EDGE, CLOUD) for c in range(n_blocks))
            else:
                out.extend((tier, m) for tier in (END, EDGE, CLOUD))
        return out

    @property
    def request(self):
        """The request the next action decides."""
        return self._request

    @property
    def system(self) -> Cluster:
        """The simulated system of the current episode (profiles, links, queues): the :class:`Cluster` that
        serves every request; before the first reset, the scenario's layout built with seed 0."""
        return self._layout if self._cluster is None else self._cluster

    @property
    def cluster(self):
        """The simulated system of the current episode (profiles, links, queues); None before the first reset."""
        return self._cluster

    def _observe(self) -> np.ndarray:
        r = self._request
        row = observation_row(self._cluster, r, self.queue_obs_max, OBS_ACCESS_MBPS_MAX, OBS_WAN_MBPS_MAX,
                              OBS_DEADLINE_S_MAX, self._kind_onehot[r.user])
        return np.fromiter(row, np.float32, len(row))

    def _add_to_timeline(self, info: dict) -> None:
        lines = [f"request at {info['arrival_s'] * 1e3:.3f} ms from user {info['user']}: tier {info['tier_name']}, "
                 f"model {info['model_name']}, cut {info['cut']}, latency {info['latency_s'] * 1e3:.3f} ms",
                 "breakdown:"] + [f"  {k:<18} {v * 1e3:10.3f} ms" for k, v in info["breakdown"].items() if v]
        self.timeline.add(self._reserved, info["tier"], lines)
        self._reserved.clear()


class ModelSelectionEnv(EndEdgeCloudEnv):
    """
    ## Description

    The TECS 2022 setting (Shahhosseini et al.): for each request pick the tier and the model
    variant, no partition, from whole-model latencies. The default scenario (``model_selection``)
    gives eight Raspberry Pi 4 class users thirteen ImageNet classifiers (MobileNet v3 small to
    ResNet50) with a Graviton3 edge and an H100 cloud; ``model_selection_mobilenet`` offers 26
    MobileNet-v1 (width x resolution x float/uint8) and EfficientNet-Lite variants whose latencies
    MLPerf measured on a Raspberry Pi 4 (users), a Graviton3 (edge) and a Graviton4 (cloud).
    Everything else (observation, reward, queues, arguments, rendering, ``e3gym/mo-ModelSelection-v1``
    for the vector reward) is as in :class:`EndEdgeCloudEnv`.

    ## Action Space

    ``MultiDiscrete([3, n_models])``: ``(tier, model)``.

    ## Example

    >>> import gymnasium as gym, e3gym
    >>> env = gym.make("e3gym/ModelSelection-v1")
    >>> obs, info = env.reset(seed=0)
    >>> int(env.action_space.nvec[0])
    3
    >>> obs, reward, terminated, truncated, info = env.step([2, 0])
    >>> info["tier_name"], info["cut"]
    ('cloud', 0)

    ## Version History

    * v1: physics v1 (see :class:`EndEdgeCloudEnv`).
    * v0: retired.
    """

    partition = False

    def __init__(self, scenario: str | Path | Mapping[str, Any] = "model_selection", **kwargs: Any):
        super().__init__(scenario, **kwargs)


class MOEndEdgeCloudEnv(EndEdgeCloudEnv):
    """
    ## Description

    ``e3gym/mo-EndEdgeCloud-v1``: :class:`EndEdgeCloudEnv` with MO-Gymnasium's vector reward.
    ``step()`` returns ``[-latency_s, accuracy, -energy_j]`` (float32, in ``reward_space``) as the
    reward, the same vector as ``info["vector_reward"]``; ``reward_mode`` and its weights do not
    apply. Everything else is the scalar env's. Make it with ``mo_gymnasium.make`` (which turns
    Gymnasium's passive checker off: it expects scalar rewards) and scalarise with
    ``mo_gymnasium.wrappers.LinearReward``.

    ## Example

    >>> import mo_gymnasium as mo_gym, e3gym
    >>> env = mo_gym.make("e3gym/mo-EndEdgeCloud-v1")
    >>> obs, info = env.reset(seed=0)
    >>> obs, reward, terminated, truncated, info = env.step([1, 0, 2])
    >>> reward.shape, reward.dtype, bool((reward == info["vector_reward"]).all())
    ((3,), dtype('float32'), True)

    ## Version History

    * v1: initial release, physics v1 (see :class:`EndEdgeCloudEnv`).
    """

    vector_reward = True


class MOModelSelectionEnv(ModelSelectionEnv):
    """
    ## Description

    ``e3gym/mo-ModelSelection-v1``: :class:`ModelSelectionEnv` with the vector reward
    ``[-latency_s, accuracy, -energy_j]`` of :class:`MOEndEdgeCloudEnv`.

    ## Example

    >>> import mo_gymnasium as mo_gym, e3gym
    >>> env = mo_gym.make("e3gym/mo-ModelSelection-v1")
    >>> obs, info = env.reset(seed=0)
    >>> obs, reward, terminated, truncated, info = env.step([2, 0])
    >>> import numpy as np
    >>> reward.shape, bool(reward[0] == np.float32(-info["latency_s"]))
    ((3,), True)

    ## Version History

    * v1: initial release, physics v1 (see :class:`EndEdgeCloudEnv`).
    """

    vector_reward = True
