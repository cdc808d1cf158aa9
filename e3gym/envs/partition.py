"""Partition-v0: where to cut one DNN between a device and an edge server, frame by frame (ANS)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces

from e3gym import checks
from e3gym.core.cut_tables import CONTEXT_FEATURES, CutTable, cut_table
from e3gym.core.network import ConstantBandwidth, MarkovBandwidth, TraceBandwidth
from e3gym.core.partition import PartitionSystem, load_process
from e3gym.core.profiles import DeviceProfile, ProfileLibrary
from e3gym.envs.base import E3Env
from e3gym.errors import E3GymError
from e3gym.scenarios import bandwidth_process

N_CONTEXT = len(CONTEXT_FEATURES)
PER_CUT = N_CONTEXT + 1  # context + front-end delay
# Neurosurgeon's measured average uplinks (Kang et al., ASPLOS 2017): LTE 5.85 Mbps, Wi-Fi 18.88 Mbps.
DEFAULT_BANDWIDTH = {"kind": "markov", "states_mbps": [5.85, 18.88], "mean_dwell_s": 60.0}
DEFAULT_LOAD = {"kind": "markov", "factors": [1.0, 4.0], "mean_dwell_s": 120.0}


class PartitionEnv(E3Env[np.ndarray, int]):
    """
    ## Description

    One device, one edge server, one DNN, a video stream: for every frame choose the cut p, after
    Zhang, Chen, Xu, "Autodidactic Neurosurgeon" (WWW 2021). Layers ``[0, p)`` run on the device (the
    front-end delay of p comes from the device's per-cut table: for ``jetson-tx2-ans``, what ANS
    measured on a Jetson TX2); the rest is offloaded: upload of the tensor at p over a drifting link,
    compute on the edge, download of the result. The edge compute comes from a measured per-block
    profile of the same architecture (default: torchvision's VGG16 on an H100, eager fp32, at the cuts
    equivalent to ANS's) scaled by the server's background-load factor, which changes at unannounced
    times, plus log-normal run-to-run noise with the profile's spread. The best cut moves with the
    bandwidth and the load; neither is observed. Every delay comes from
    :class:`~e3gym.core.partition.PartitionSystem` (``env.system``).

    ## Action Space

    ``Discrete(n_cuts)``: the cut p; ``p = n_cuts - 1`` runs everything on the device.

    ## Observation Space

    ``Box(float32)`` of size ``8 * n_cuts + 1``. For cut p (``i = 8 p``):

    | index | observation | min | max |
    |---|---|---|---|
    | i + 0 | conv MACs after p / max over cuts | 0 | 1 |
    | i + 1 | number of conv layers after p / max | 0 | 1 |
    | i + 2 | fc MACs after p / max | 0 | 1 |
    | i + 3 | number of fc layers after p / max | 0 | 1 |
    | i + 4 | other ops after p / max | 0 | 1 |
    | i + 5 | number of other layers after p / max | 0 | 1 |
    | i + 6 | bits sent at p / max | 0 | 1 |
    | i + 7 | front-end (device) delay of p (s) | 0 | max front-end delay |
    | 8 n_cuts | 1 if the current frame is a key frame | 0 | 1 |

    The 7 context features are muLinUCB's raw context (``CONTEXT_FEATURES``) divided by their
    maximum over the cuts (``env.context_scale``; a feature that is 0 everywhere is divided by 1), so
    the raw magnitudes (1e10 MACs next to 10 layers) do not swamp the regression.

    ## Rewards

    ``-delay_s`` of the frame (front-end + upload + edge + download).
    ``info["vector_reward"] = [-delay_s]`` (accuracy is fixed by the model; the shipped TX2 table
    has no power figure, so energy is not modelled).

    ## Starting State

    Time 0, frame 0 (not a key frame); the bandwidth and load processes start from their (seeded)
    initial states.

    ## Episode End

    Continuing: the env never terminates. The registered ``max_episode_steps`` (1000 frames) truncates.

    ## Arguments

    * ``model``: ``"ans-vgg16"`` (default), ``"ans-tiny-yolov2"``, or any model whose profile has
      per-block FLOPs (e.g. ``"resnet50"`` with ``end_device="rpi4-cortex-a72"``).
    * ``end_device`` (``"jetson-tx2-ans"``), ``edge_device`` (``"h100-fp32"``): names, device JSON paths
      or :class:`~e3gym.core.profiles.DeviceProfile` objects. Tiny-YOLOv2 has no shipped edge
      profile: pass your own.
    * ``bandwidth``: a network preset (``"wifi"``, ``"lte"``, ``"mobile"``...) or table as in scenarios
      (constant, markov, trace); default Markov between LTE 5.85 and Wi-Fi 18.88 Mbps, 60 s mean dwell.
    * ``load``: the edge slowdown process (see :func:`~e3gym.core.partition.load_process`); default Markov over factors 1 and 4,
      120 s mean dwell. A reconstruction parameter: ANS changed the server's load, by how much is not known.
    * ``key_frame_prob`` (0.1) and ``key_frame_persistence`` (0.5): the key-frame flag is a two-state
      Markov chain with that stationary probability and P(key | previous key). A reconstruction
      parameter standing in for ANS's SSIM < 0.8 test on camera frames.
    * ``frame_interval_s`` (0.5): frames are sampled on a fixed clock and processed one at a time, so
      every policy meets the same bandwidth and load at the same frame.
    * ``propagation_ms`` (0): one-way delay added to the upload and the download.
    * ``edge_noise`` (True): log-normal run-to-run noise on the edge compute.
    * ``profiles``: a :class:`~e3gym.core.profiles.ProfileLibrary` (default: the shipped one).
    * ``render_mode``: None (default), ``"rgb_array"`` or ``"ansi"``.

    ``action_masks()`` is all True (every cut is valid), for sb3-contrib's MaskablePPO.

    ## Rendering

    ``"rgb_array"``: an (H, W, 3) uint8 image of the last 20 frames, one band per lane (device,
    uplink, edge, downlink): each frame a bar over its front-end, upload, edge and download
    intervals as the step computed them, green when it ran on the device, blue when offloaded;
    time runs left to right from the earliest start to the latest end shown. ``"ansi"``: the last
    frame as text (cut, delay, oracle cut, regret, components and intervals in ms). Nothing is
    recorded without a render mode, and rendering never changes a trajectory.

    ## Info

    ``delay_s``, ``breakdown`` (``frontend_s, upload_s, edge_s, download_s``), ``offload_delay_s``
    (what the device measures for an offloaded frame: upload + edge + download; 0 on-device),
    ``cut``, ``offloaded``, ``key_frame``, ``bandwidth_bps``, ``edge_slowdown``, ``expected_delay_s``
    (noise-free delay of the chosen cut), ``oracle_cut`` and ``oracle_delay_s`` (the best cut for this
    frame knowing the true bandwidth and load), ``regret_s`` (expected minus oracle delay), ``frame``,
    ``time_s``, ``vector_reward``.

    ## Example

    >>> import gymnasium as gym, e3gym
    >>> env = gym.make("e3gym/Partition-v0")
    >>> obs, info = env.reset(seed=0)
    >>> env.action_space, obs.shape
    (Discrete(23), (185,))
    >>> obs, reward, terminated, truncated, info = env.step(22)
    >>> round(info["delay_s"], 4), info["offloaded"]
    (0.4869, False)
    >>> bool(info["regret_s"] >= 0)
    True

    ## Version History

    * v0: initial release.
    """

    def __init__(self, model: str = "ans-vgg16", end_device: str | Path | DeviceProfile = "jetson-tx2-ans",
                 edge_device: str | Path | DeviceProfile = "h100-fp32", bandwidth: Any = None, load: Any = None,
                 key_frame_prob: float = 0.1, key_frame_persistence: float = 0.5, frame_interval_s: float = 0.5,
                 propagation_ms: float = 0.0, edge_noise: bool = True, profiles: ProfileLibrary | None = None,
                 render_mode: str | None = None):
        self._setup_render(render_mode, ["device", "uplink", "edge", "downlink"])
        for name, v in (("key_frame_prob", key_frame_prob), ("key_frame_persistence", key_frame_persistence)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
                raise E3GymError(f"{name} must be a number in [0, 1), got {v!r}")
        frame_interval_s = checks.number("frame_interval_s", frame_interval_s, high=checks.MAX_SECONDS, above=0.0)
        propagation_ms = checks.number("propagation_ms", propagation_ms, 0.0, checks.MAX_DELAY_MS)
        self.table: CutTable = cut_table(model, end_device, edge_device, profiles)
        if isinstance(bandwidth, (ConstantBandwidth, MarkovBandwidth, TraceBandwidth)) or hasattr(bandwidth, "next_segment"):
            bandwidth_spec = bandwidth
        else:
            bandwidth_spec = bandwidth_process({"_origin": "Partition-v0"}, "bandwidth",
                                               DEFAULT_BANDWIDTH if bandwidth is None else bandwidth)
        load_spec = load_process(DEFAULT_LOAD if load is None else load)
        self.key_frame_prob, self.key_frame_persistence = float(key_frame_prob), float(key_frame_persistence)
        # P(key | not key) that makes key_frame_prob the stationary share of key frames.
        self._p_key_after_plain = (key_frame_prob * (1 - key_frame_persistence) / (1 - key_frame_prob))
        if self._p_key_after_plain > 1:
            raise E3GymError(f"key_frame_prob={key_frame_prob} is not reachable with key_frame_persistence="
                             f"{key_frame_persistence}: raise the persistence")
        self.frame_interval_s = float(frame_interval_s)
        self.propagation_s = float(propagation_ms) / 1e3
        self.edge_noise = checks.flag("edge_noise", edge_noise)
        self._system = PartitionSystem(self.table, bandwidth_spec, load_spec, self.propagation_s, self.edge_noise,
                                       name="Partition-v0")

        n = self.table.n_cuts
        self.n_cuts = n
        raw_max = self.table.contexts.max(axis=0)
        self.context_scale = np.where(raw_max > 0, raw_max, 1.0)  # raw feature = normalized x scale
        self.contexts = self.table.contexts / self.context_scale
        front_max = float(np.float32(self.table.frontend_s.max())) or 1.0
        high = np.tile(np.concatenate([np.ones(N_CONTEXT), [front_max]]), n)
        self._setup_actions(spaces.Discrete(n))
        self.observation_space = spaces.Box(np.zeros(PER_CUT * n + 1, np.float32),
                                            np.append(high, 1.0).astype(np.float32), dtype=np.float32)
        self.reward_space = spaces.Box(np.array([-np.inf], np.float32), np.array([0.0], np.float32), dtype=np.float32)
        self._static_obs = np.concatenate(
            [np.column_stack([self.contexts, self.table.frontend_s]).ravel(), [0.0]]).astype(np.float32)

    @property
    def system(self) -> PartitionSystem:
        """The partition system (cut table, link, loaded edge) every delay comes from."""
        return self._system

    # ------------------------------------------------------------------ gymnasium API
    def _reset(self, options: dict | None) -> tuple[np.ndarray, dict]:
        link_rng, load_rng, key_rng, noise_rng = self.np_random.spawn(4)
        self._system.start(link_rng, load_rng, noise_rng)
        self._key_rng = key_rng
        self._frame = 0
        self._key = False  # the first frame has no predecessor to differ from
        if self.timeline is not None:
            self.timeline.clear()
        return self._observe(), {"frame": 0, "key_frame": False, "time_s": 0.0}

    def _step(self, cut: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        system = self._system
        t0 = self.time_s
        out = system.serve(cut, t0)
        expected = system.expected_delays(t0)
        oracle = int(np.argmin(expected))
        info = {
            "delay_s": out.latency_s, "breakdown": out.breakdown(), "offload_delay_s": out.offload_delay_s,
            "cut": cut, "offloaded": out.offloaded, "key_frame": self._key,
            "bandwidth_bps": system.bandwidth_at(t0), "edge_slowdown": system.load_factor_at(t0),
            "expected_delay_s": float(expected[cut]), "oracle_cut": oracle, "oracle_delay_s": float(expected[oracle]),
            "regret_s": float(expected[cut] - expected[oracle]), "frame": self._frame, "time_s": t0,
            "vector_reward": np.array(out.vector_reward, dtype=np.float32),
        }
        if self.timeline is not None:
            self._add_to_timeline(out.starts_s, info)
        self._frame += 1
        u = float(self._key_rng.random())
        self._key = u < (self.key_frame_persistence if self._key else self._p_key_after_plain)
        return self._observe(), -out.latency_s, False, False, info

    # ------------------------------------------------------------------ helpers
    @property
    def time_s(self) -> float:
        """When the current frame starts (frames every ``frame_interval_s``)."""
        return self._frame * self.frame_interval_s

    def _add_to_timeline(self, starts_s: tuple[float, ...], info: dict) -> None:
        parts = [info["breakdown"][k] for k in ("frontend_s", "upload_s", "edge_s", "download_s")]
        bars = [(lane, t, t + d) for lane, (t, d) in enumerate(zip(starts_s, parts)) if d > 0]
        where = "edge" if info["offloaded"] else "device"
        lines = [f"frame {info['frame']} at {info['time_s'] * 1e3:.3f} ms: cut {info['cut']} ({where}), delay "
                 f"{info['delay_s'] * 1e3:.3f} ms; oracle cut {info['oracle_cut']}, regret {info['regret_s'] * 1e3:.3f} ms",
                 "breakdown:"] + [f"  {k:<11} {v * 1e3:10.3f} ms" for k, v in info["breakdown"].items()]
        self.timeline.add(bars, 1 if info["offloaded"] else 0, lines)

    def expected_delays(self) -> np.ndarray:
        """Noise-free delay of every cut for the current frame, under the true bandwidth and load (clairvoyant)."""
        return self._system.expected_delays(self.time_s)

    def split_observation(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        """(normalized contexts (n_cuts, 7), front-end delays (n_cuts,), key-frame flag) of an observation."""
        obs = np.asarray(obs, dtype=float)
        per_cut = obs[:-1].reshape(self.n_cuts, PER_CUT)
        return per_cut[:, :N_CONTEXT], per_cut[:, N_CONTEXT], bool(obs[-1] > 0.5)

    def _observe(self) -> np.ndarray:
        obs = self._static_obs.copy()
        obs[-1] = 1.0 if self._key else 0.0
        return obs
