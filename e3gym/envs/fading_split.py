"""FadingSplit-v0 and ModelPlacement-v0: the two timescales of Yan, Bi, Zhang (IEEE TWC 2022)."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from gymnasium import spaces

from e3gym.core import coinference
from e3gym.core.coinference import (
    BANDWIDTH_HZ,
    KAPPA,
    NOISE_W,
    LayerModel,
    PeriodOutcome,
    PlacementModel,
    SplitProblem,
    build_layers,
    build_problem,
)
from e3gym.core.profiles import ProfileLibrary
from e3gym.envs.base import E3Env
from e3gym.errors import E3GymError

GAIN_OBS_MAX = 50.0  # h ~ Exp(1): P(h > 50) = e^-50, so the clip never bites in practice


class FadingSplitEnv(E3Env[np.ndarray, int]):
    """
    ## Description

    Online model splitting over a fading channel, after Yan, Bi, Zhang, "Optimal Model Placement and
    Online Model Splitting for Device-Edge Co-Inference" (IEEE TWC 2022). One episode is one
    inference: the device runs the placed layers one at a time; before each layer (and before the
    first, on the raw input) it sees the channel gain of the current fading block and either uploads
    the current tensor (stop) or computes one more layer (continue). After the M-th layer it must
    stop; after the last layer of the model nothing is sent. Cost = time + ``energy_weight`` x device
    energy; every figure comes from :mod:`e3gym.core.coinference`, the functions the stopping rules use.

    ## Action Space

    ``Discrete(2)``: 0 = continue (compute layer l+1), 1 = stop (upload now). At stage M any action stops.

    ## Observation Space

    ``Box(float32)`` of size 5:

    | index | observation | min | max |
    |---|---|---|---|
    | 0 | stage l / N (layers done on the device) | 0 | 1 |
    | 1 | channel power gain h of the current block (Exp(1), clipped) | 0 | 50 |
    | 2 | cost of stopping now, S_l(h) (s) | 0 | S at the SNR floor, max over l |
    | 3 | cost of computing the next layer, C_{l+1} (s; 0 at l = N) | 0 | max over l |
    | 4 | layers left before the forced stop, (M - l) / N | 0 | 1 |

    ## Rewards

    Minus the cost of each step: ``-C_{l+1}`` on continue, ``-S_l(h)`` on stop. The episode's return is
    minus the inference's cost. ``info["vector_reward"] = [-time_s, -energy_j]`` of the step.

    ## Starting State

    Stage 0 (the raw input), a fresh gain.

    ## Episode End

    Terminates at the stop (at the latest after M + 1 steps). Registered without a step limit. Steps
    after the stop stay in the terminal state at zero cost (call ``reset`` for the next inference).

    ## Arguments

    * ``layers``: ``"mlp"`` (default; parametric MLP with equal neurons, ``layers_kwargs`` of
      :meth:`LayerModel.mlp`: ``n_layers`` 6, ``width`` 256, ``input_dim`` 784, ``bits_per_value`` 32,
      ``cycles_per_bit`` 100), a model-profile name (``layers_kwargs`` of :meth:`LayerModel.from_profile`),
      or a :class:`LayerModel`.
    * ``horizon``: M, layers placed on the device (default: all N).
    * ``mean_snr_db``: average SNR; default None computes it from ``tx_power_w`` (0.1 W), ``distance_m``
      (40 m) and ``noise_w`` (1e-10 W) with Huang et al.'s path loss (A_d 4.11, 915 MHz, d_e 2.8).
    * ``bandwidth_hz`` (2e6), ``min_snr_db`` (-10, the SNR floor), ``cpu_hz`` (1e9), ``kappa`` (1e-26),
      ``energy_weight`` (0.1 s/J), ``edge_hz`` (None: edge compute not counted).
      W, N0, kappa and the 100 cycles/bit are Huang, Bi, Zhang (IEEE TMC 2020); P, f, distance and the
      energy weight are reconstruction choices.
    * ``render_mode``: None (default), ``"rgb_array"`` or ``"ansi"``.

    ``action_masks()`` is all True (both actions are valid at every stage), for sb3-contrib's MaskablePPO.

    ## Rendering

    ``"rgb_array"``: an (H, W, 3) uint8 image of the last 20 inferences on one clock (each starts
    where the previous one's last step ended), one band per lane (device, uplink, edge): a bar per
    layer computed on the device, then the upload and the edge compute of the stop, green for an
    inference that ran entirely on the device (or is still running there), blue once it offloads.
    ``"ansi"``: the last step and the current inference's intervals in ms. Nothing is recorded
    without a render mode, and rendering never changes a trajectory.

    ## Info

    ``stage`` and ``gain`` (the state of the next decision), ``decided_stage``, ``stopped``,
    ``time_s``, ``energy_j``, ``cost`` (this step), ``total_cost`` (this inference so far), ``horizon``,
    ``vector_reward``.

    ## Example

    >>> import gymnasium as gym, e3gym
    >>> env = gym.make("e3gym/FadingSplit-v0")
    >>> obs, info = env.reset(seed=0)
    >>> env.action_space, obs.shape, info["stage"]
    (Discrete(2), (5,), 0)
    >>> obs, reward, terminated, truncated, info = env.step(1)
    >>> terminated, info["decided_stage"], reward == -info["cost"]
    (True, 0, True)

    ## Version History

    * v0: initial release.
    """

    def __init__(self, layers: str | LayerModel = "mlp", layers_kwargs: Mapping[str, Any] | None = None,
                 horizon: int | None = None, mean_snr_db: float | None = None, distance_m: float = 40.0,
                 tx_power_w: float = 0.1, noise_w: float = NOISE_W, bandwidth_hz: float = BANDWIDTH_HZ,
                 min_snr_db: float = -10.0, cpu_hz: float = 1e9, kappa: float = KAPPA,
                 energy_weight: float = 0.1, edge_hz: float | None = None, profiles: ProfileLibrary | None = None,
                 render_mode: str | None = None):
        self._setup_render(render_mode, ["device", "uplink", "edge"])
        self._clock, self._bars = 0.0, []  # the timeline's clock and the current inference's bars
        lm = build_layers(layers, layers_kwargs, profiles)
        self.problem = build_problem(lm, mean_snr_db, distance_m, tx_power_w, noise_w, bandwidth_hz, min_snr_db,
                                     cpu_hz, kappa, energy_weight, edge_hz)
        n = self.problem.n_layers
        self.horizon = n if horizon is None else coinference.check_horizon(self.problem, horizon)
        self.n_layers = n
        p = self.problem
        stop_max = max(float(p.stop_cost(l, 0.0)) for l in range(n + 1))  # the floor rate is the slowest
        cont_max = max(p.continue_cost(l) for l in range(n))
        high = np.array([1.0, GAIN_OBS_MAX, stop_max, cont_max, 1.0], dtype=np.float32)
        self.observation_space = spaces.Box(np.zeros(5, np.float32), high, dtype=np.float32)
        self._setup_actions(spaces.Discrete(2))
        self.reward_space = spaces.Box(np.full(2, -np.inf, np.float32), np.zeros(2, np.float32), dtype=np.float32)

    @property
    def system(self) -> SplitProblem:
        """The splitting problem (layers, channel, device) every cost comes from; the same object as ``problem``."""
        return self.problem

    def _reset(self, options: dict | None) -> tuple[np.ndarray, dict]:
        self._stage, self._total = 0, 0.0
        self._bars = []  # a new inference; the timeline's clock runs on
        self._gain = float(self.problem.channel.sample(self.np_random))
        return self._observe(), {"stage": 0, "gain": self._gain, "horizon": self.horizon}

    def _step(self, a: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._stage < 0:  # after the stop the state is absorbing: no cost, still terminated
            zero = np.zeros(2, dtype=np.float32)
            return self._last_obs.copy(), 0.0, True, False, {
                "stage": self._stop_stage, "gain": self._gain, "decided_stage": self._stop_stage, "stopped": True,
                "time_s": 0.0, "energy_j": 0.0, "cost": 0.0, "total_cost": self._total, "horizon": self.horizon,
                "vector_reward": zero}
        l, p = self._stage, self.problem
        stop = a == 1 or l >= self.horizon
        out = p.decide(l, stop, self._gain)
        time, energy, cost = out.latency_s, out.energy_j, out.cost
        self._total += cost
        if self.timeline is not None:
            self._add_to_timeline(l, stop, time, energy, cost)
        info = {"decided_stage": l, "stopped": stop, "time_s": time, "energy_j": energy, "cost": cost,
                "total_cost": self._total, "horizon": self.horizon,
                "vector_reward": np.array([-time, -energy], dtype=np.float32)}
        if stop:
            obs = self._observe()
            self._last_obs, self._stop_stage, self._stage = obs, l, -1
            info.update(stage=l, gain=self._gain)
            return obs, -cost, True, False, info
        self._stage = l + 1
        self._gain = float(p.channel.sample(self.np_random))
        info.update(stage=self._stage, gain=self._gain)
        return self._observe(), -float(cost), False, False, info

    def _add_to_timeline(self, stage: int, stop: bool, time: float, energy: float, cost: float) -> None:
        t, p = self._clock, self.problem
        if stop:  # the upload at the current gain, then the edge compute (when counted)
            upload = float(p.upload_time_s(stage, self._gain))
            self._bars += [(lane, a, b) for lane, a, b in ((1, t, t + upload), (2, t + upload, t + time)) if b > a]
        else:
            self._bars.append((0, t, t + time))
        self._clock = t + time
        what = (f"stop: upload {p.upload_bits(stage):.0f} bits at gain {self._gain:.3f}" if stop
                else f"continue: layer {stage + 1} on the device")
        lines = [f"inference step at stage {stage} of {self.n_layers} (horizon {self.horizon}): {what}",
                 f"  step time {time * 1e3:.3f} ms, energy {energy * 1e3:.4f} mJ, cost {cost:.6f}; "
                 f"inference cost so far {self._total:.6f}"]
        offloaded = stop and p.upload_bits(stage) > 0
        self.timeline.add(self._bars, 1 if offloaded else 0, lines, replace_last=stage > 0)

    def _observe(self) -> np.ndarray:
        l, p, n = self._stage, self.problem, self.n_layers
        cont = p.continue_cost(l) if l < n else 0.0
        obs = [l / n, min(self._gain, GAIN_OBS_MAX), float(p.stop_cost(l, self._gain)), cont, (self.horizon - l) / n]
        return np.minimum(np.array(obs, dtype=np.float32), self.observation_space.high)


class ModelPlacementEnv(E3Env[np.ndarray, int]):
    """
    ## Description

    The slow timescale of Yan, Bi, Zhang (IEEE TWC 2022): the model is retrained at the edge
    periodically, and at the start of each model-update period the first M layers must be placed on
    the device (their parameters downloaded once over the fading channel, the cost amortized over the
    K inferences of the period). Inside the period every inference is split online by a stopping rule
    with horizon M (``rule``: the optimal backward-induction rule or OSLA). The period's mean SNR
    (large-scale fading as the user moves) is observed before choosing M and drifts between periods.

    ## Action Space

    ``Discrete(N + 1)``: M, the number of layers placed (0: nothing placed, every input offloaded).

    ## Observation Space

    ``Box(float32)`` of size 1:

    | index | observation | min | max |
    |---|---|---|---|
    | 0 | mean SNR of the coming period (dB) | snr_low_db | snr_high_db |

    ## Rewards

    Minus the period's cost per inference: (parameter download + the K inferences) / K, each inference
    simulated stage by stage with the rule's thresholds (from :mod:`e3gym.core.coinference`).
    ``info["vector_reward"] = [-time_s, -energy_j]`` per inference.

    ## Starting State

    A mean SNR uniform in ``[snr_low_db, snr_high_db]``, or ``reset(options={"mean_snr_db": x})``
    (with ``snr_step_db=0`` the SNR then stays at x).

    ## Episode End

    Continuing: never terminates. The registered ``max_episode_steps`` (100 periods) truncates.

    ## Arguments

    * ``layers``, ``layers_kwargs``, ``tx_power_w``, ``noise_w``, ``bandwidth_hz``, ``min_snr_db``,
      ``cpu_hz``, ``kappa``, ``energy_weight``, ``edge_hz``: as in :class:`FadingSplitEnv`. The layers
      need ``param_bits`` (the MLP has them; model profiles need ``param_bytes`` per block).
    * ``n_inferences``: K, inferences per period (5000).
    * ``rule``: ``"optimal"`` (default) or ``"osla"``.
    * ``rx_power_w``: device receive power during the download (0: only its time is counted).
    * ``snr_low_db`` (-5), ``snr_high_db`` (20), ``snr_step_db`` (3): the mean SNR follows a random walk
      with that per-period standard deviation, clipped to the range (a reconstruction parameter).
      The download uses the same channel (reciprocity).
    * ``render_mode``: None (default), ``"rgb_array"`` or ``"ansi"``.

    ``action_masks()`` is all True (every M is valid), for sb3-contrib's MaskablePPO.

    ## Rendering

    ``"rgb_array"``: an (H, W, 3) uint8 image of the last 20 periods, each drawn as its mean
    inference, one period after the other: the parameter download amortised over the K inferences,
    the mean device compute, then the mean upload (plus edge compute), one band per lane (parameter
    download, device compute, upload) from the step's own simulation; so a period spans its time per
    inference, ``-info["vector_reward"][0]``. Blue when any inference offloaded, green when all ran on
    the device. ``"ansi"``: the last period as text. Nothing is recorded without a render mode, and
    rendering never changes a trajectory.

    ## Info

    ``mean_snr_db``, ``horizon``, ``download_cost``, ``inference_cost`` (mean over the period),
    ``expected_cost`` (the analytical expected cost per inference of this M at this SNR),
    ``stop_stages`` (histogram), ``vector_reward``.

    ## Example

    >>> import gymnasium as gym, e3gym
    >>> env = gym.make("e3gym/ModelPlacement-v0")
    >>> obs, info = env.reset(seed=0)
    >>> env.action_space
    Discrete(7)
    >>> obs, reward, terminated, truncated, info = env.step(2)
    >>> info["horizon"], bool(reward < 0)
    (2, True)

    ## Version History

    * v0: initial release.
    """

    def __init__(self, layers: str | LayerModel = "mlp", layers_kwargs: Mapping[str, Any] | None = None,
                 n_inferences: int = 5000, rule: str = "optimal", rx_power_w: float = 0.0,
                 snr_low_db: float = -5.0, snr_high_db: float = 20.0, snr_step_db: float = 3.0,
                 tx_power_w: float = 0.1, noise_w: float = NOISE_W, bandwidth_hz: float = BANDWIDTH_HZ,
                 min_snr_db: float = -10.0, cpu_hz: float = 1e9, kappa: float = KAPPA,
                 energy_weight: float = 0.1, edge_hz: float | None = None, profiles: ProfileLibrary | None = None,
                 render_mode: str | None = None):
        self._setup_render(render_mode, ["parameter download", "device compute", "upload (+ edge)"])
        self._model = PlacementModel(
            build_layers(layers, layers_kwargs, profiles), n_inferences=n_inferences, rule=rule, rx_power_w=rx_power_w,
            snr_low_db=snr_low_db, snr_high_db=snr_high_db, snr_step_db=snr_step_db, tx_power_w=tx_power_w,
            noise_w=noise_w, bandwidth_hz=bandwidth_hz, min_snr_db=min_snr_db, cpu_hz=cpu_hz, kappa=kappa,
            energy_weight=energy_weight, edge_hz=edge_hz)
        m = self._model
        self.layers, self.n_layers = m.layers, m.n_layers
        self.n_inferences, self.rule, self.rx_power_w = m.n_inferences, m.rule, m.rx_power_w
        self.snr_low_db, self.snr_high_db, self.snr_step_db = m.snr_low_db, m.snr_high_db, m.snr_step_db
        self._setup_actions(spaces.Discrete(self.n_layers + 1))
        self.observation_space = spaces.Box(np.array([snr_low_db], np.float32), np.array([snr_high_db], np.float32),
                                            dtype=np.float32)
        self.reward_space = spaces.Box(np.full(2, -np.inf, np.float32), np.zeros(2, np.float32), dtype=np.float32)
        self._snr: float | None = None

    @property
    def system(self) -> PlacementModel:
        """The placement model (layers, channel parameters, period length, rule, SNR drift) of every period."""
        return self._model

    def problem_at(self, mean_snr_db: float) -> SplitProblem:
        """The splitting problem of a period with this mean SNR (:meth:`PlacementModel.problem_at`)."""
        return self._model.problem_at(mean_snr_db)

    @property
    def mean_snr_db(self) -> float:
        """Mean SNR of the coming period."""
        return self._snr

    def _reset(self, options: dict | None) -> tuple[np.ndarray, dict]:
        start = (options or {}).get("mean_snr_db")
        if start is None:
            start = self._model.first_snr_db(self.np_random)
        elif isinstance(start, bool) or not isinstance(start, (int, float)) \
                or not self.snr_low_db <= start <= self.snr_high_db:
            raise E3GymError(f"options['mean_snr_db'] must be a number in [{self.snr_low_db}, {self.snr_high_db}], "
                             f"got {start!r}")
        self._snr = float(np.float32(start))
        self._period, self._clock = 0, 0.0
        if self.timeline is not None:
            self.timeline.clear()
        return self._observe(), {"mean_snr_db": self._snr}

    def _step(self, m: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        rng = self.np_random
        out = self._model.run_period(self._snr, m, rng)
        info = {"mean_snr_db": self._snr, "horizon": m, "download_cost": out.download_cost,
                "inference_cost": out.inference_cost, "expected_cost": out.expected_cost,
                "stop_stages": out.stop_stages, "vector_reward": np.array(out.vector_reward, dtype=np.float32)}
        if self.timeline is not None:
            self._add_to_timeline(out, info)
        self._period += 1
        # float32: the state is exactly what the observation shows
        self._snr = float(np.float32(self._model.next_snr_db(self._snr, rng)))
        return self._observe(), -float(out.cost), False, False, info

    def _add_to_timeline(self, out: PeriodOutcome, info: dict) -> None:
        k, m, t = self.n_inferences, info["horizon"], self._clock
        download, compute, upload = out.mean_inference_s()
        ends = np.cumsum([download, compute, upload]) + t
        starts = [t, *ends[:2]]
        bars = [(lane, float(a), float(b)) for lane, (a, b) in enumerate(zip(starts, ends)) if b > a]
        self._clock = t + out.time_s
        lines = [f"period {self._period}: mean SNR {info['mean_snr_db']:.2f} dB, M = {m} layers placed, "
                 f"{k} inferences",
                 f"  per inference: time {out.time_s * 1e3:.3f} ms (download {download * 1e3:.4f}, device "
                 f"{compute * 1e3:.3f}, upload {upload * 1e3:.3f}), cost {out.cost:.6f}",
                 f"  inferences stopped at stages 0..{m}: {info['stop_stages']}"]
        self.timeline.add(bars, 1 if out.offloaded else 0, lines)

    def _observe(self) -> np.ndarray:
        return np.clip(np.array([self._snr], dtype=np.float32), self.observation_space.low, self.observation_space.high)
