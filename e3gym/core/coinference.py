"""Device-edge co-inference over a block-fading channel: the channel, the costs of every decision,
optimal stopping, OSLA and model placement.

After Yan, Bi, Zhang, "Optimal Model Placement and Online Model Splitting for Device-Edge
Co-Inference", IEEE TWC 21(10):8354-8367, 2022 (arXiv 2105.13618). No public code exists; the model
below is the reconstruction described in the reference notes (``ALGORITHMS.md``), every choice a
parameter:

* layers l = 1..N; ``d_l`` bits leave layer l (``d_0``: the input), layer l takes ``c_l`` CPU cycles;
* after layer l (l = 0: raw input) the device sees a fresh channel power gain ``h ~ Exp(1)`` (Rayleigh
  block fading, i.i.d. across stages) and either **stops**, uploading ``d_l`` bits at rate
  ``R(h) = W log2(1 + max(snr h, snr_min))`` (time ``d_l / R``, energy ``P d_l / R``), or **continues**
  (time ``c_{l+1} / f``, energy ``kappa f^2 c_{l+1}``);
* at stage M (the layers placed on the device) it must stop; at l = N nothing is sent;
* cost = time + ``energy_weight`` x energy (seconds; ``energy_weight`` in s/J);
* the SNR floor ``snr_min``: with no floor ``E[1/R]`` diverges near h = 0 and a forced upload has
  infinite expected cost.

:class:`FadingChannel` owns the rate law; :class:`e3gym.core.network.RayleighFading` (the bandwidth
process of the request envs' fading links) draws its blocks from one, so the law exists once.

Backward induction: ``J_M(h) = S_M(h)``, ``J_l(h) = min(S_l(h), C_{l+1} + E[J_{l+1}])``. ``S_l`` falls
as h grows, so every rule here stops at stage l iff ``h >= tau_l``; a rule is its thresholds, and one
recursion (:func:`evaluate_policy`) gives the exact expected cost of any of them. OSLA stops iff
``S_l(h) <= C_{l+1} + E[S_{l+1}]``, a closed-form threshold.

Placement (the slow timescale, :class:`PlacementModel`): at the start of each model-update period
the first M layers' parameters are downloaded once over the (reciprocal) channel and the K
inferences of the period are split online with horizon M; the period's mean SNR drifts between
periods.

Typical parameters (Huang, Bi, Zhang, "Deep Reinforcement Learning for Online Computation Offloading
in Wireless Powered Mobile-Edge Computing Networks", IEEE TMC 2020): path loss
``A_d (3e8 / (4 pi f_c d))^d_e`` with A_d = 4.11, f_c = 915 MHz, d_e = 2.8; W = 2 MHz; N0 = 1e-10 W;
kappa = 1e-26; 100 cycles per bit. Pure numpy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from e3gym.core.profiles import ProfileLibrary, builtin_library
from e3gym.errors import E3GymError

SPEED_OF_LIGHT = 3e8
HUANG_TMC2020 = "Huang, Bi, Zhang, IEEE TMC 2020 (DROO)"
ANTENNA_GAIN = 4.11  # A_d, Huang et al. TMC 2020
CARRIER_HZ = 915e6  # f_c
PATH_LOSS_EXPONENT = 2.8  # d_e
BANDWIDTH_HZ = 2e6  # W
NOISE_W = 1e-10  # N0 (noise power)
KAPPA = 1e-26  # effective switched capacitance
CYCLES_PER_BIT = 100.0  # phi

# Gauss-Legendre nodes for the channel integrals (fixed, so results are deterministic).
_GL_X, _GL_W = np.polynomial.legendre.leggauss(12)
_INTEGRAL_SPAN = 60.0  # e^-60: the rest of the Exp(1) tail is below double precision


def _check(name: str, value: float, low: float = 0.0, strict: bool = True, allow_inf: bool = False) -> float:
    """A finite number above ``low`` (or at it when not strict); ValueError naming ``name`` otherwise."""
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = (math.isfinite(value) or (allow_inf and value == math.inf)) and (value > low if strict else value >= low)
    if not ok:
        raise E3GymError(f"{name} must be a {'finite ' if not allow_inf else ''}number {'>' if strict else '>='} "
                         f"{low:g}, got {value!r}")
    return float(value)


def path_loss_gain(distance_m: float, carrier_hz: float = CARRIER_HZ, antenna_gain: float = ANTENNA_GAIN,
                   exponent: float = PATH_LOSS_EXPONENT) -> float:
    """Average channel power gain ``A_d (c / (4 pi f_c d))^d_e`` (Huang et al., TMC 2020)."""
    _check("distance_m", distance_m)
    _check("carrier_hz", carrier_hz)
    _check("antenna_gain", antenna_gain)
    _check("exponent", exponent)
    return antenna_gain * (SPEED_OF_LIGHT / (4 * math.pi * carrier_hz * distance_m)) ** exponent


def mean_snr_db(tx_power_w: float, distance_m: float, noise_w: float = NOISE_W, **path_loss: float) -> float:
    """Average received SNR (dB) of a transmitter at ``distance_m``: ``P g / N0``."""
    _check("tx_power_w", tx_power_w)
    _check("noise_w", noise_w)
    return 10 * math.log10(tx_power_w * path_loss_gain(distance_m, **path_loss) / noise_w)


_snr_of_link = mean_snr_db  # for functions whose own argument is called mean_snr_db


class FadingChannel:
    """Rayleigh block fading: gain ``h ~ Exp(1)``, rate ``W log2(1 + max(snr h, snr_min))``.

    Args:
        bandwidth_hz: W.
        mean_snr_db: average received SNR (transmit power and path loss folded in).
        min_snr_db: SNR floor; must be below the mean. Deep fades are raised to it, so the rate never
            drops below ``W log2(1 + snr_min)`` and expected upload times stay finite.
    """

    def __init__(self, bandwidth_hz: float = BANDWIDTH_HZ, mean_snr_db: float = 10.0, min_snr_db: float = -10.0):
        self.bandwidth_hz = _check("bandwidth_hz", bandwidth_hz)
        for name, v in (("mean_snr_db", mean_snr_db), ("min_snr_db", min_snr_db)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise E3GymError(f"{name} must be a finite number (dB), got {v!r}")
        if min_snr_db >= mean_snr_db:
            raise E3GymError(f"min_snr_db ({min_snr_db}) must be below mean_snr_db ({mean_snr_db})")
        self.mean_snr_db, self.min_snr_db = float(mean_snr_db), float(min_snr_db)
        self.mean_snr = 10 ** (mean_snr_db / 10)
        self.min_snr = 10 ** (min_snr_db / 10)
        self.floor_gain = self.min_snr / self.mean_snr  # gains below it get the floor rate
        self.floor_rate_bps = self.block_rate_bps(0.0)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(bandwidth_hz={self.bandwidth_hz:g}, mean_snr_db={self.mean_snr_db:g}, "
                f"min_snr_db={self.min_snr_db:g})")

    def rate_bps(self, gain: float | np.ndarray) -> float | np.ndarray:
        """Shannon rate at power gain ``gain`` (floored at the minimum SNR), elementwise in numpy."""
        return self._shannon(np.asarray(gain, dtype=float), np.maximum, np.log2)

    def block_rate_bps(self, gain: float) -> float:
        """The same rate of one gain in Python floats (``math.log2``), as the fading links' blocks take it."""
        return self._shannon(float(gain), max, math.log2)

    def _shannon(self, gain, maximum, log2):
        # The one rate law, W log2(1 + max(snr h, snr_min)). numpy's vectorized log2 and math.log2 may
        # differ in the last bit, so each caller keeps the arithmetic its trajectories were made with.
        return self.bandwidth_hz * log2(1 + maximum(self.mean_snr * gain, self.min_snr))

    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...] | None = None) -> float | np.ndarray:
        """Independent gains."""
        return rng.standard_exponential(size)

    def prob_at_least(self, tau: float) -> float:
        """P(h >= tau)."""
        return 0.0 if tau == math.inf else math.exp(-max(tau, 0.0))

    def inv_rate_tail(self, tau: float = 0.0) -> float:
        """``E[1 / R(h); h >= tau]`` (s/bit): the floor part in closed form, the rest by Gauss-Legendre."""
        if tau == math.inf:
            return 0.0
        tau = max(tau, 0.0)
        out = 0.0
        if tau < self.floor_gain:
            out += (math.exp(-tau) - math.exp(-self.floor_gain)) / self.floor_rate_bps
        a = max(tau, self.floor_gain)
        # Geometric breakpoints resolve the fast change of 1/log(1 + snr h) just above a.
        edges = np.concatenate([[0.0], np.geomspace(1e-9, _INTEGRAL_SPAN, 160)])
        lo, hi = edges[:-1, None], edges[1:, None]
        u = (hi - lo) / 2 * _GL_X[None, :] + (hi + lo) / 2
        h = a + u
        f = np.exp(-h) / (self.bandwidth_hz * np.log2(1 + self.mean_snr * h))
        return out + float(np.sum((hi - lo) / 2 * _GL_W[None, :] * f))

    def gain_for_rate(self, rate_bps: float) -> float:
        """Smallest gain whose rate reaches ``rate_bps`` (0 when the floor does, inf when none does)."""
        if rate_bps <= self.floor_rate_bps:
            return 0.0
        with np.errstate(over="ignore"):
            q = float(np.expm1(rate_bps / self.bandwidth_hz * math.log(2)))
        return q / self.mean_snr if math.isfinite(q) else math.inf


class DiscreteChannel(FadingChannel):
    """A channel whose gain takes finitely many values (for exact checks and user-measured histograms).

    Args:
        gains: gain values (multiples of the mean SNR, like ``h``).
        probs: their probabilities (sum 1).
        bandwidth_hz, mean_snr_db, min_snr_db: as for :class:`FadingChannel`.
    """

    def __init__(self, gains: Sequence[float], probs: Sequence[float], bandwidth_hz: float = BANDWIDTH_HZ,
                 mean_snr_db: float = 10.0, min_snr_db: float = -10.0):
        super().__init__(bandwidth_hz, mean_snr_db, min_snr_db)
        g, p = np.asarray(gains, dtype=float), np.asarray(probs, dtype=float)
        if g.ndim != 1 or g.shape != p.shape or len(g) == 0:
            raise E3GymError(f"gains and probs must be equal-length non-empty lists, got {len(g)} and {len(p)}")
        if np.any(g < 0) or not np.all(np.isfinite(g)):
            raise E3GymError(f"gains must be finite and >= 0, got {g.tolist()}")
        if np.any(p < 0) or not np.isclose(p.sum(), 1.0):
            raise E3GymError(f"probs must be >= 0 and sum to 1, got {p.tolist()}")
        self.gains, self.probs = g, p / p.sum()

    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...] | None = None) -> float | np.ndarray:
        return self.gains[rng.choice(len(self.gains), size=size, p=self.probs)]

    def prob_at_least(self, tau: float) -> float:
        return float(self.probs[self.gains >= tau].sum())

    def inv_rate_tail(self, tau: float = 0.0) -> float:
        keep = self.gains >= tau
        return float(np.sum(self.probs[keep] / self.rate_bps(self.gains[keep])))


@dataclass(frozen=True)
class LayerModel:
    """A layered model as the device sees it: bits out of each layer, cycles and parameters of each layer."""

    bits: tuple[float, ...]  # d_0 .. d_N (d_0: the input)
    cycles: tuple[float, ...]  # c_1 .. c_N
    param_bits: tuple[float, ...] | None = None  # p_1 .. p_N (what placing layer l downloads)
    name: str = "model"
    source: str = ""

    def __post_init__(self) -> None:
        if len(self.cycles) < 1 or len(self.bits) != len(self.cycles) + 1:
            raise E3GymError(f"bits must hold one more value than cycles (d_0..d_N vs c_1..c_N), got "
                             f"{len(self.bits)} and {len(self.cycles)}")
        for name, seq in (("bits", self.bits), ("cycles", self.cycles), ("param_bits", self.param_bits or ())):
            for i, v in enumerate(seq):
                _check(f"{name}[{i}]", v, strict=False)
        if self.param_bits is not None and len(self.param_bits) != len(self.cycles):
            raise E3GymError(f"param_bits must hold one value per layer ({len(self.cycles)}), got {len(self.param_bits)}")

    @property
    def n_layers(self) -> int:
        """N."""
        return len(self.cycles)

    @classmethod
    def mlp(cls, n_layers: int = 6, width: int = 256, input_dim: int = 784, bits_per_value: int = 32,
            cycles_per_bit: float = CYCLES_PER_BIT, cycles_per_mac: float | None = None) -> "LayerModel":
        """An MLP whose every layer has ``width`` neurons, fully parametric.

        Cycles: ``cycles_per_bit`` x the layer's input bits (phi = 100, Huang et al. TMC 2020) by default,
        or ``cycles_per_mac`` x its multiply-accumulates when given. Parameters: weights and biases.
        """
        if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
            raise E3GymError(f"n_layers must be an integer >= 1, got {n_layers!r}")
        for name, v in (("width", width), ("input_dim", input_dim), ("bits_per_value", bits_per_value)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise E3GymError(f"{name} must be an integer >= 1, got {v!r}")
        _check("cycles_per_bit", cycles_per_bit)
        dims = [input_dim] + [width] * n_layers
        bits = tuple(float(d * bits_per_value) for d in dims)
        if cycles_per_mac is None:
            cycles = tuple(cycles_per_bit * bits[i] for i in range(n_layers))
            how = f"{cycles_per_bit:g} cycles per input bit"
        else:
            _check("cycles_per_mac", cycles_per_mac)
            cycles = tuple(cycles_per_mac * dims[i] * dims[i + 1] for i in range(n_layers))
            how = f"{cycles_per_mac:g} cycles per MAC"
        params = tuple(float((dims[i] + 1) * dims[i + 1] * bits_per_value) for i in range(n_layers))
        return cls(bits, cycles, params, f"mlp-{input_dim}-{width}x{n_layers}",
                   f"MLP with equal neurons ({width} per layer, input {input_dim}, {bits_per_value}-bit values); {how}")

    @classmethod
    def from_profile(cls, model, cycles_per_flop: float = 1.0, cycles_per_bit: float = CYCLES_PER_BIT) -> "LayerModel":
        """Layers = the blocks of a :class:`~e3gym.core.profiles.ModelProfile`.

        Bits: the profile's input bytes and block output bytes x 8. Cycles: the block's FLOPs (all kinds)
        x ``cycles_per_flop`` when every block has FLOPs (default 1, a scalar core; set it for your CPU),
        else ``cycles_per_bit`` x the block's input bits (phi, Huang et al.). Measured latency is not
        turned into cycles: no device profile carries a clock frequency. Parameters: ``param_bytes`` x 8
        when every block has them, else None (placement then cannot be priced).
        """
        if not model.has_blocks:
            raise E3GymError(f"model {model.name!r} has no blocks: it cannot be split layer by layer")
        bits = (float(model.input_bytes * 8),) + tuple(float(b.output_bytes * 8) for b in model.blocks)
        if all(b.flops is not None for b in model.blocks):
            _check("cycles_per_flop", cycles_per_flop)
            cycles = tuple(cycles_per_flop * sum(b.flops.values()) for b in model.blocks)
            how = f"cycles = FLOPs x {cycles_per_flop:g}"
        else:
            _check("cycles_per_bit", cycles_per_bit)
            cycles = tuple(cycles_per_bit * d for d in bits[:-1])
            how = f"no FLOPs in the profile: cycles = {cycles_per_bit:g} x input bits"
        params = (tuple(float(b.param_bytes * 8) for b in model.blocks)
                  if all(b.param_bytes is not None for b in model.blocks) else None)
        return cls(bits, cycles, params, model.name, f"blocks of {model.name} ({model.source_file}); {how}")


@dataclass(frozen=True)
class StepOutcome:
    """One decision's outcome, in the convention of the other system models: its time (``latency_s``),
    the device energy and the cost ``latency_s + energy_weight * energy_j``."""

    latency_s: float
    energy_j: float
    cost: float

    @property
    def vector_reward(self) -> tuple[float, float]:
        """(-time, -energy)."""
        return (-self.latency_s, -self.energy_j)


@dataclass(frozen=True)
class SplitProblem:
    """One device, one edge server, one layered model, one fading channel: the costs of every decision.

    Args:
        layers: the model.
        channel: the uplink (and, for placement, the downlink).
        tx_power_w: P, transmit power.
        cpu_hz: f, device CPU frequency.
        kappa: effective switched capacitance (energy per cycle = kappa f^2).
        energy_weight: beta (s/J): cost = time + beta x energy.
        edge_hz: edge CPU frequency for the layers after the cut (adds their time to a stop);
            None leaves edge compute out, as in the reconstruction.
    """

    layers: LayerModel
    channel: FadingChannel
    tx_power_w: float = 0.1
    cpu_hz: float = 1e9
    kappa: float = KAPPA
    energy_weight: float = 0.1
    edge_hz: float | None = None
    _edge_time: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check("tx_power_w", self.tx_power_w)
        _check("cpu_hz", self.cpu_hz)
        _check("kappa", self.kappa, strict=False)
        _check("energy_weight", self.energy_weight, strict=False)
        if self.edge_hz is not None:
            _check("edge_hz", self.edge_hz)
        c = np.asarray(self.layers.cycles)
        tail = np.concatenate([np.cumsum(c[::-1])[::-1], [0.0]])  # cycles of layers l+1..N, l = 0..N
        object.__setattr__(self, "_edge_time", tuple(tail / self.edge_hz) if self.edge_hz else (0.0,) * len(tail))

    @property
    def n_layers(self) -> int:
        """N."""
        return self.layers.n_layers

    def check_stage(self, stage: int, name: str = "stage") -> int:
        """``stage`` as an int in [0, N]; ValueError naming ``name`` otherwise."""
        if isinstance(stage, bool) or not isinstance(stage, (int, np.integer)) or not 0 <= stage <= self.n_layers:
            raise E3GymError(f"{name} must be an integer in [0, {self.n_layers}] (the model's layers), got {stage!r}")
        return int(stage)

    # -------------------------------------------------------------- one decision
    def upload_bits(self, stage: int) -> float:
        """Bits a stop at ``stage`` uploads (nothing after the last layer)."""
        return 0.0 if stage == self.n_layers else self.layers.bits[stage]

    def upload_time_s(self, stage: int, gain: float | np.ndarray) -> float | np.ndarray:
        """Airtime of the upload of a stop at ``stage`` under ``gain``."""
        return self.upload_bits(stage) / self.channel.rate_bps(gain)

    def stop_time_s(self, stage: int, gain: float | np.ndarray) -> float | np.ndarray:
        """Upload time (plus edge compute when counted) of stopping at ``stage`` under ``gain``."""
        return self.upload_time_s(stage, gain) + self._edge_time[stage]

    def stop_energy_j(self, stage: int, gain: float | np.ndarray) -> float | np.ndarray:
        """Device transmit energy of stopping at ``stage``."""
        return self.tx_power_w * self.upload_bits(stage) / self.channel.rate_bps(gain)

    def stop_cost(self, stage: int, gain: float | np.ndarray) -> float | np.ndarray:
        """``S_l(h)``."""
        return self.stop_time_s(stage, gain) + self.energy_weight * self.stop_energy_j(stage, gain)

    def continue_time_s(self, stage: int) -> float:
        """Time to compute layer ``stage + 1`` on the device."""
        return self.layers.cycles[stage] / self.cpu_hz

    def continue_energy_j(self, stage: int) -> float:
        """Energy to compute layer ``stage + 1``: kappa f^2 c."""
        return self.kappa * self.cpu_hz ** 2 * self.layers.cycles[stage]

    def continue_cost(self, stage: int) -> float:
        """``C_{l+1}``."""
        return self.continue_time_s(stage) + self.energy_weight * self.continue_energy_j(stage)

    def decide(self, stage: int, stop: bool, gain: float) -> "StepOutcome":
        """The outcome of one decision at ``stage``: stop (upload now, under ``gain``) or compute one more layer."""
        if stop:
            time, energy = float(self.stop_time_s(stage, gain)), float(self.stop_energy_j(stage, gain))
        else:
            time, energy = self.continue_time_s(stage), self.continue_energy_j(stage)
        return StepOutcome(time, energy, time + self.energy_weight * energy)

    # -------------------------------------------------------------- expectations over the channel
    def _upload_weight(self, stage: int) -> float:
        # S_l(h) = a / R(h) + e with a = d_l (1 + beta P)
        return self.upload_bits(stage) * (1 + self.energy_weight * self.tx_power_w)

    def stop_cost_tail(self, stage: int, tau: float = 0.0) -> float:
        """``E[S_l(h); h >= tau]``."""
        p = self.channel.prob_at_least(tau)
        return self._upload_weight(stage) * self.channel.inv_rate_tail(tau) + self._edge_time[stage] * p

    def stop_threshold(self, stage: int, value: float) -> float:
        """Smallest gain with ``S_l(h) <= value`` (0: stop on any gain; inf: never)."""
        a, e = self._upload_weight(stage), self._edge_time[stage]
        if value < e:
            return math.inf
        if a == 0.0:
            return 0.0
        if value == e:
            return math.inf
        return self.channel.gain_for_rate(a / (value - e))


@dataclass(frozen=True)
class StoppingPolicy:
    """A threshold rule (stop at stage l < M iff h >= tau_l; stage M always stops) and its exact values.

    ``values[l]`` is the expected cost-to-go at stage l before its gain is seen; ``values[0]`` is the
    rule's expected cost per inference.
    """

    name: str
    horizon: int
    thresholds: tuple[float, ...]
    values: tuple[float, ...]

    @property
    def expected_cost(self) -> float:
        """Expected cost of one inference."""
        return self.values[0]

    def stops(self, stage: int, gain: float) -> bool:
        """Whether the rule stops at ``stage`` with gain ``gain``."""
        return stage >= self.horizon or gain >= self.thresholds[stage]


def check_horizon(problem: SplitProblem, horizon: int) -> int:
    """``horizon`` (M, the layers placed on the device) as an int in [0, N]; ValueError naming it otherwise."""
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or not 0 <= horizon <= problem.n_layers:
        raise E3GymError(f"horizon must be an integer in [0, {problem.n_layers}] (layers placed on the device; "
                         f"the model has {problem.n_layers}), got {horizon!r}")
    return int(horizon)


def evaluate_policy(problem: SplitProblem, horizon: int, thresholds: Sequence[float], name: str = "thresholds") -> StoppingPolicy:
    """Exact expected cost-to-go of a threshold rule: ``W_l = P(h < tau_l)(C_{l+1} + W_{l+1}) + E[S_l; h >= tau_l]``."""
    horizon = check_horizon(problem, horizon)
    tau = [float(t) for t in thresholds]
    if len(tau) != horizon or any(not (t >= 0) for t in tau):
        raise E3GymError(f"thresholds must be {horizon} numbers >= 0 (one per stage before the horizon), got {tau}")
    values = [0.0] * (horizon + 1)
    values[horizon] = problem.stop_cost_tail(horizon)
    for l in range(horizon - 1, -1, -1):
        p_stop = problem.channel.prob_at_least(tau[l])
        values[l] = (1 - p_stop) * (problem.continue_cost(l) + values[l + 1]) + problem.stop_cost_tail(l, tau[l])
    return StoppingPolicy(name, horizon, tuple(tau), tuple(values))


def optimal_policy(problem: SplitProblem, horizon: int) -> StoppingPolicy:
    """Backward induction: stop iff ``S_l(h) <= C_{l+1} + E[J_{l+1}]``."""
    horizon = check_horizon(problem, horizon)
    values = [0.0] * (horizon + 1)
    tau = [0.0] * horizon
    values[horizon] = problem.stop_cost_tail(horizon)
    for l in range(horizon - 1, -1, -1):
        go_on = problem.continue_cost(l) + values[l + 1]
        tau[l] = problem.stop_threshold(l, go_on)
        p_stop = problem.channel.prob_at_least(tau[l])
        values[l] = (1 - p_stop) * go_on + problem.stop_cost_tail(l, tau[l])
    return StoppingPolicy("optimal", horizon, tuple(tau), tuple(values))


def osla_policy(problem: SplitProblem, horizon: int) -> StoppingPolicy:
    """One-stage look-ahead: stop iff ``S_l(h) <= C_{l+1} + E[S_{l+1}]`` (closed-form threshold)."""
    horizon = check_horizon(problem, horizon)
    tau = [problem.stop_threshold(l, problem.continue_cost(l) + problem.stop_cost_tail(l + 1))
           for l in range(horizon)]
    return evaluate_policy(problem, horizon, tau, "osla")


def fixed_stage_policy(problem: SplitProblem, horizon: int, stage: int) -> StoppingPolicy:
    """Always stop at ``stage`` (0: offload the input; ``horizon``: run all placed layers first)."""
    horizon = check_horizon(problem, horizon)
    if isinstance(stage, bool) or not isinstance(stage, (int, np.integer)) or not 0 <= stage <= horizon:
        raise E3GymError(f"stage must be an integer in [0, horizon={horizon}], got {stage!r}")
    tau = [math.inf] * horizon
    if stage < horizon:
        tau[stage] = 0.0
    return evaluate_policy(problem, horizon, tau, f"stop-at-{stage}")


RULES = {"optimal": optimal_policy, "osla": osla_policy}


def simulate(problem: SplitProblem, policy: StoppingPolicy, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Monte-Carlo of ``n`` inferences under ``policy``: cost, time, energy and stop stage of each."""
    m = policy.horizon
    gains = problem.channel.sample(rng, (n, m + 1))
    tau = np.array(list(policy.thresholds) + [0.0])
    stop_here = gains >= tau[None, :]
    stop_here[:, m] = True
    stage = np.argmax(stop_here, axis=1)
    h = gains[np.arange(n), stage]
    cont_t = np.concatenate([[0.0], np.cumsum([problem.continue_time_s(l) for l in range(m)])])
    cont_e = np.concatenate([[0.0], np.cumsum([problem.continue_energy_j(l) for l in range(m)])])
    time = cont_t[stage].copy()
    energy = cont_e[stage].copy()
    for l in np.unique(stage):
        sel = stage == l
        time[sel] += problem.stop_time_s(int(l), h[sel])
        energy[sel] += problem.stop_energy_j(int(l), h[sel])
    return {"cost": time + problem.energy_weight * energy, "time_s": time, "energy_j": energy, "stage": stage}


# ------------------------------------------------------------------ building a problem
def build_layers(layers: str | LayerModel, layers_kwargs: Mapping[str, Any] | None = None,
                 profiles: ProfileLibrary | None = None) -> LayerModel:
    """A LayerModel from ``"mlp"`` (parametric), a model-profile name, or a LayerModel."""
    kwargs = dict(layers_kwargs or {})
    if isinstance(layers, LayerModel):
        if kwargs:
            raise E3GymError("layers_kwargs applies only when layers is 'mlp' or a profile name")
        return layers
    if layers == "mlp":
        return LayerModel.mlp(**kwargs)
    if not isinstance(layers, str):
        raise E3GymError(f"layers must be 'mlp', a model-profile name or a LayerModel, got {layers!r}")
    return LayerModel.from_profile((profiles or builtin_library()).model(layers), **kwargs)


def build_problem(layers: LayerModel, mean_snr_db: float | None, distance_m: float, tx_power_w: float,
                  noise_w: float, bandwidth_hz: float, min_snr_db: float, cpu_hz: float, kappa: float,
                  energy_weight: float, edge_hz: float | None) -> SplitProblem:
    """The SplitProblem of these parameters (mean SNR given, or from distance and power by the path-loss model)."""
    if mean_snr_db is None:
        mean_snr_db = _snr_of_link(tx_power_w, distance_m, noise_w)
    channel = FadingChannel(bandwidth_hz, mean_snr_db, min_snr_db)
    return SplitProblem(layers, channel, tx_power_w=tx_power_w, cpu_hz=cpu_hz, kappa=kappa,
                        energy_weight=energy_weight, edge_hz=edge_hz)


# ------------------------------------------------------------------ placement (slow timescale)
def download_bits(problem: SplitProblem, horizon: int) -> float:
    """Bits of the parameters of layers 1..M (what placing M layers downloads)."""
    horizon = check_horizon(problem, horizon)
    if horizon == 0:
        return 0.0
    if problem.layers.param_bits is None:
        raise E3GymError(f"layers {problem.layers.name!r} have no param_bits: placement cannot be priced")
    return sum(problem.layers.param_bits[:horizon])


def download_cost(problem: SplitProblem, horizon: int, rx_power_w: float = 0.0) -> float:
    """Expected cost of downloading layers 1..M's parameters over the (reciprocal) channel."""
    horizon = check_horizon(problem, horizon)
    _check("rx_power_w", rx_power_w, strict=False)
    if horizon == 0:
        return 0.0
    bits = download_bits(problem, horizon)
    return bits * (1 + problem.energy_weight * rx_power_w) * problem.channel.inv_rate_tail(0.0)


def sample_download_s(problem: SplitProblem, horizon: int, rng: np.random.Generator) -> float:
    """Airtime of one download of layers 1..M's parameters at a fresh gain; 0, drawing nothing, when M = 0."""
    horizon = check_horizon(problem, horizon)
    if horizon == 0:
        return 0.0
    return download_bits(problem, horizon) / float(problem.channel.rate_bps(problem.channel.sample(rng)))


def placement_cost(problem: SplitProblem, horizon: int, n_inferences: int, rule: str = "optimal",
                   rx_power_w: float = 0.0) -> float:
    """Expected cost per inference of placing M layers for a period of ``n_inferences`` inferences."""
    if isinstance(n_inferences, bool) or not isinstance(n_inferences, (int, np.integer)) or n_inferences < 1:
        raise E3GymError(f"n_inferences must be an integer >= 1, got {n_inferences!r}")
    if rule not in RULES:
        raise E3GymError(f"rule must be one of {sorted(RULES)}, got {rule!r}")
    policy = RULES[rule](problem, horizon)
    return download_cost(problem, horizon, rx_power_w) / n_inferences + policy.expected_cost


@dataclass(frozen=True)
class PeriodOutcome:
    """One model-update period: the download, the K simulated inferences, and the costs per inference.

    ``time_s`` and ``energy_j`` are per inference, the download amortized over the K inferences;
    ``cost = time_s + energy_weight x energy_j``. ``simulation`` holds each inference's ``cost``,
    ``time_s``, ``energy_j`` and stop ``stage`` (:func:`simulate`).
    """

    problem: SplitProblem
    horizon: int
    download_s: float  # airtime of the parameter download
    download_energy_j: float  # receive energy of the download
    simulation: dict[str, np.ndarray]
    time_s: float
    energy_j: float
    cost: float
    expected_cost: float  # the analytical expected cost per inference of this M at this SNR

    @property
    def n_inferences(self) -> int:
        """K."""
        return len(self.simulation["stage"])

    @property
    def download_cost(self) -> float:
        """Cost of the download (time + energy_weight x energy), not amortized."""
        return self.download_s + self.problem.energy_weight * self.download_energy_j

    @property
    def inference_cost(self) -> float:
        """Mean cost of the period's inferences (without the download)."""
        return float(self.simulation["cost"].mean())

    @property
    def stop_stages(self) -> list[int]:
        """How many inferences stopped at each stage 0..M."""
        return np.bincount(self.simulation["stage"], minlength=self.horizon + 1).tolist()

    @property
    def offloaded(self) -> bool:
        """Whether any inference uploaded something."""
        return any(self.problem.upload_bits(s) > 0 for s, n in enumerate(self.stop_stages) if n)

    @property
    def vector_reward(self) -> tuple[float, float]:
        """``(-time_s, -energy_j)`` per inference."""
        return -self.time_s, -self.energy_j

    def mean_inference_s(self) -> tuple[float, float, float]:
        """(download share, device compute, upload and edge compute) of the mean inference's time (s)."""
        k = self.n_inferences
        # device time of a stop at stage s: layers 1..s; the rest of an inference's time is its upload (+ edge)
        prefix = np.concatenate([[0.0], np.cumsum([self.problem.continue_time_s(l) for l in range(self.horizon)])])
        compute = float(prefix[self.simulation["stage"]].sum()) / k
        upload = max(float(self.simulation["time_s"].sum()) / k - compute, 0.0)
        return self.download_s / k, compute, upload


@dataclass(frozen=True)
class PlacementModel:
    """The slow timescale: every period, place M layers, download their parameters, split K inferences.

    The period's mean SNR (large-scale fading as the user moves) follows a random walk with standard
    deviation ``snr_step_db`` per period, clipped to ``[snr_low_db, snr_high_db]`` (a reconstruction
    parameter). The download uses the period's channel (reciprocity).

    Args:
        layers: the model (needs ``param_bits``).
        n_inferences: K, inferences per period.
        rule: the splitting rule inside a period, ``"optimal"`` or ``"osla"``.
        rx_power_w: device receive power during the download (0: only its time is counted).
        snr_low_db, snr_high_db, snr_step_db: the range and per-period step of the mean SNR.
        tx_power_w, noise_w, bandwidth_hz, min_snr_db, cpu_hz, kappa, energy_weight, edge_hz: as for
            :class:`SplitProblem` and :class:`FadingChannel`.
    """

    layers: LayerModel
    n_inferences: int = 5000
    rule: str = "optimal"
    rx_power_w: float = 0.0
    snr_low_db: float = -5.0
    snr_high_db: float = 20.0
    snr_step_db: float = 3.0
    tx_power_w: float = 0.1
    noise_w: float = NOISE_W
    bandwidth_hz: float = BANDWIDTH_HZ
    min_snr_db: float = -10.0
    cpu_hz: float = 1e9
    kappa: float = KAPPA
    energy_weight: float = 0.1
    edge_hz: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.n_inferences, bool) or not isinstance(self.n_inferences, int) or self.n_inferences < 1:
            raise E3GymError(f"n_inferences must be an integer >= 1, got {self.n_inferences!r}")
        if self.rule not in RULES:
            raise E3GymError(f"rule must be one of {sorted(RULES)}, got {self.rule!r}")
        _check("rx_power_w", self.rx_power_w, strict=False)
        _check("snr_step_db", self.snr_step_db, strict=False)
        for name in ("snr_low_db", "snr_high_db"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise E3GymError(f"{name} must be a finite number (dB), got {v!r}")
        if not self.min_snr_db < self.snr_low_db < self.snr_high_db:
            raise E3GymError(f"need min_snr_db < snr_low_db < snr_high_db, got {self.min_snr_db}, {self.snr_low_db}, "
                             f"{self.snr_high_db}")
        if self.layers.param_bits is None:
            raise E3GymError(f"layers {self.layers.name!r} have no parameter sizes (param_bits): placement cannot be "
                             f"priced")
        for name in ("rx_power_w", "snr_low_db", "snr_high_db", "snr_step_db"):
            object.__setattr__(self, name, float(getattr(self, name)))
        self.problem_at(self.snr_high_db)  # validates the physical parameters now

    @property
    def n_layers(self) -> int:
        """N (M ranges over 0..N)."""
        return self.layers.n_layers

    def problem_at(self, mean_snr_db: float) -> SplitProblem:
        """The splitting problem of a period with this mean SNR."""
        return build_problem(self.layers, mean_snr_db, 1.0, self.tx_power_w, self.noise_w, self.bandwidth_hz,
                             self.min_snr_db, self.cpu_hz, self.kappa, self.energy_weight, self.edge_hz)

    def expected_cost(self, mean_snr_db: float, horizon: int, rule: str | None = None) -> float:
        """Analytical expected cost per inference of placing ``horizon`` layers at this SNR (default: own rule)."""
        return placement_cost(self.problem_at(mean_snr_db), horizon, self.n_inferences,
                              self.rule if rule is None else rule, self.rx_power_w)

    def first_snr_db(self, rng: np.random.Generator) -> float:
        """A starting mean SNR, uniform over the range."""
        return rng.uniform(self.snr_low_db, self.snr_high_db)

    def next_snr_db(self, mean_snr_db: float, rng: np.random.Generator) -> float:
        """The next period's mean SNR: one step of the clipped random walk."""
        walk = mean_snr_db + self.snr_step_db * float(rng.standard_normal())
        return min(max(walk, self.snr_low_db), self.snr_high_db)

    def run_period(self, mean_snr_db: float, horizon: int, rng: np.random.Generator) -> PeriodOutcome:
        """Place ``horizon`` layers for one period at this mean SNR: the download, then K inferences, from ``rng``."""
        problem = self.problem_at(mean_snr_db)
        policy = RULES[self.rule](problem, horizon)
        k = self.n_inferences
        download_s = sample_download_s(problem, horizon, rng)
        download_energy_j = self.rx_power_w * download_s
        sim = simulate(problem, policy, rng, k)
        time_s = (download_s + sim["time_s"].sum()) / k
        energy_j = (download_energy_j + sim["energy_j"].sum()) / k
        return PeriodOutcome(problem=problem, horizon=policy.horizon, download_s=download_s,
                             download_energy_j=download_energy_j, simulation=sim, time_s=time_s, energy_j=energy_j,
                             cost=time_s + problem.energy_weight * energy_j,
                             expected_cost=download_cost(problem, horizon, self.rx_power_w) / k + policy.expected_cost)
