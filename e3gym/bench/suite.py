"""Benchmark suites: which agents run on which scenarios over which seeds, as versioned TOML data.

A suite file::

    id = "default"
    version = 1
    description = "..."
    max_steps = 200                   # requests per evaluation episode
    seeds = [100, 101, 102]           # evaluation seeds (one episode each)
    train_seeds = [0, 1, 2, 3]        # seeds of training / warm-up episodes, disjoint from seeds

    [[scenarios]]
    id = "eec-mobile"                 # unique within the suite
    env = "e3gym/EndEdgeCloud-v0"
    scenario = "default"              # shipped name or TOML path (optional)
    overrides = { users = { count = 4 } }   # optional, merged over the scenario
    env_kwargs = { accuracy_penalty = 1.0 } # optional

    [[agents]]
    name = "ppo"                      # unique label in the tables
    spec = "ppo"                      # built-in name, RL algorithm, entry point or module:Class
    train_steps = 20000               # RL: environment steps of training on train_seeds
    warmup_episodes = 0               # online learners: episodes on train_seeds before evaluation
    kwargs = {}                       # passed to the agent (RL: to the SB3 algorithm)

Mistakes are reported with the file, the line and the key before anything runs.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RL_ALGOS = ("ppo", "a2c", "dqn", "maskable_ppo")
REFERENCE_AGENTS = ("static_best", "oracle")  # score 0 and score 1: always run

SUITE_KEYS = {"id", "version", "description", "max_steps", "seeds", "train_seeds", "scenarios", "agents"}
SCENARIO_KEYS = {"id", "env", "scenario", "overrides", "env_kwargs", "description"}
AGENT_KEYS = {"name", "spec", "train_steps", "warmup_episodes", "kwargs"}


class SuiteError(ValueError):
    """A suite file is malformed; the message names the file, the line and the key."""


@dataclass(frozen=True)
class ScenarioEntry:
    """One scenario of a suite."""

    id: str
    env: str
    scenario: str | None = None
    overrides: dict = field(default_factory=dict)
    env_kwargs: dict = field(default_factory=dict)

    def make_kwargs(self, suite_dir: Path | None = None) -> dict[str, Any]:
        """Keyword arguments for ``gymnasium.make``."""
        kwargs = dict(self.env_kwargs)
        if self.scenario is not None:
            path = Path(self.scenario)
            if path.suffix == ".toml" and not path.is_absolute() and suite_dir is not None:
                path = suite_dir / path
            kwargs["scenario"] = str(path) if path.suffix == ".toml" else self.scenario
        if self.overrides:
            kwargs["scenario_overrides"] = self.overrides
        return kwargs


@dataclass(frozen=True)
class AgentEntry:
    """One agent of a suite."""

    name: str
    spec: str
    train_steps: int = 0
    warmup_episodes: int = 0
    kwargs: dict = field(default_factory=dict)

    @property
    def is_rl(self) -> bool:
        """Trained offline with Stable-Baselines3."""
        return self.spec in RL_ALGOS


@dataclass(frozen=True)
class Suite:
    """A loaded, validated suite."""

    id: str
    version: int
    description: str
    max_steps: int
    seeds: tuple[int, ...]
    train_seeds: tuple[int, ...]
    scenarios: tuple[ScenarioEntry, ...]
    agents: tuple[AgentEntry, ...]
    path: Path | None = None

    def with_agents(self, names: list[str]) -> "Suite":
        """The suite restricted to (or extended with) the named agents; references are always kept."""
        known = {a.name: a for a in self.agents}
        picked = [known.get(n) or AgentEntry(name=n, spec=n) for n in names]
        for ref in REFERENCE_AGENTS:
            if ref not in [a.name for a in picked]:
                picked.append(known.get(ref) or AgentEntry(name=ref, spec=ref))
        return Suite(self.id, self.version, self.description, self.max_steps, self.seeds, self.train_seeds,
                     self.scenarios, tuple(picked), self.path)

    def with_seeds(self, n: int) -> "Suite":
        """The first ``n`` evaluation seeds (more are made by counting on from the last)."""
        seeds = list(self.seeds[:n])
        while len(seeds) < n:
            seeds.append(seeds[-1] + 1 if seeds else 100)
        return Suite(self.id, self.version, self.description, self.max_steps, tuple(seeds), self.train_seeds,
                     self.scenarios, self.agents, self.path)


def suite_dir() -> Path:
    """Folder of the shipped suites."""
    return Path(str(resources.files("e3gym.bench.suites")))


def list_suites() -> list[str]:
    """Names of the shipped suites."""
    return sorted(p.stem for p in suite_dir().glob("*.toml"))


def _line_of(text: str, key: str) -> int | None:
    for i, line in enumerate(text.splitlines(), 1):
        if re.match(rf"\s*{re.escape(key)}\s*=", line) or re.search(rf"[{{,]\s*{re.escape(key)}\s*=", line):
            return i
    return None


def load_suite(spec: str | Path) -> Suite:
    """Load a shipped suite by name or a suite TOML file by path, validating every key."""
    path = Path(spec)
    if path.suffix != ".toml":
        path = suite_dir() / f"{spec}.toml"
        if not path.exists():
            raise SuiteError(f"unknown suite {str(spec)!r}; shipped: {', '.join(list_suites())}, or pass a .toml path")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise SuiteError(f"{path}: cannot read suite: {err.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SuiteError(f"{path}: not valid TOML: {err}") from None

    def fail(key: str, msg: str) -> SuiteError:
        line = _line_of(text, key.split(".")[-1].split("]")[-1])
        return SuiteError(f"{path}{f':{line}' if line else ''}: key {key!r}: {msg}")

    def check(table: dict, allowed: set, where: str) -> None:
        for key in table:
            if key not in allowed:
                raise fail(f"{where}{key}", f"unknown key; expected one of {sorted(allowed)}")

    check(data, SUITE_KEYS, "")
    for key in ("id", "seeds", "scenarios", "agents"):
        if key not in data:
            raise SuiteError(f"{path}: missing key {key!r}")
    seeds = data["seeds"]
    train_seeds = data.get("train_seeds", [])
    for key, vals in (("seeds", seeds), ("train_seeds", train_seeds)):
        if not isinstance(vals, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in vals):
            raise fail(key, "must be a list of integers")
    if not seeds:
        raise fail("seeds", "needs at least one evaluation seed")
    if set(seeds) & set(train_seeds):
        raise fail("train_seeds", f"must be disjoint from seeds; both hold {sorted(set(seeds) & set(train_seeds))}")

    import e3gym  # noqa: F401  (registers the env ids checked below)
    from gymnasium.envs.registration import registry

    scenarios = []
    for i, s in enumerate(data["scenarios"]):
        check(s, SCENARIO_KEYS, f"scenarios[{i}].")
        if "id" not in s or "env" not in s:
            raise fail(f"scenarios[{i}]", "needs 'id' and 'env'")
        if s["env"] not in registry:
            raise fail(f"scenarios[{i}].env", f"unknown env id {s['env']!r}")
        scenarios.append(ScenarioEntry(s["id"], s["env"], s.get("scenario"), s.get("overrides", {}),
                                       s.get("env_kwargs", {})))
    agents = []
    from e3gym.agents.base import AgentSpecError, resolve_agent_class
    for i, a in enumerate(data["agents"]):
        check(a, AGENT_KEYS, f"agents[{i}].")
        if "name" not in a:
            raise fail(f"agents[{i}]", "needs 'name'")
        entry = AgentEntry(a["name"], a.get("spec", a["name"]), int(a.get("train_steps", 0)),
                           int(a.get("warmup_episodes", 0)), a.get("kwargs", {}))
        if entry.is_rl:
            if entry.train_steps < 1:
                raise fail(f"agents[{i}].train_steps", f"RL agent {entry.name!r} needs train_steps >= 1")
        else:
            try:
                resolve_agent_class(entry.spec)
            except AgentSpecError as err:
                raise fail(f"agents[{i}].spec", str(err)) from None
        if (entry.is_rl or entry.warmup_episodes) and not train_seeds:
            raise fail("train_seeds", f"agent {entry.name!r} trains, so the suite needs train_seeds")
        agents.append(entry)
    for kind, items in (("scenarios", scenarios), ("agents", agents)):
        ids = [x.id if kind == "scenarios" else x.name for x in items]
        dup = {x for x in ids if ids.count(x) > 1}
        if dup:
            raise fail(kind, f"duplicate {'id' if kind == 'scenarios' else 'name'} {sorted(dup)[0]!r}")
    max_steps = data.get("max_steps", 200)
    if not isinstance(max_steps, int) or max_steps < 1:
        raise fail("max_steps", f"must be an integer >= 1, got {max_steps!r}")
    return Suite(str(data["id"]), int(data.get("version", 1)), str(data.get("description", "")), max_steps,
                 tuple(seeds), tuple(train_seeds), tuple(scenarios), tuple(agents), path)
