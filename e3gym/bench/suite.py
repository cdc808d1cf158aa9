"""Benchmark suites: which agents run on which scenarios over which seeds, as versioned TOML data.

A suite file::

    id = "default"
    version = 1
    description = "..."
    max_steps = 200                   # requests per evaluation episode
    episodes = 1                      # evaluation episodes per cell (the first reset takes the cell's seed)
    seeds = [100, 101, 102]           # evaluation seeds: one cell per agent x scenario x seed
    train_seeds = [0, 1, 2, 3]        # seeds of training / warm-up episodes, disjoint from seeds
    bootstrap_reps = 2000             # bootstrap resamples of the CIs (0: IQM only, no CI; fast)

    [[scenarios]]
    id = "eec-mobile"                 # unique within the suite
    env = "e3gym/EndEdgeCloud-v1"
    scenario = "default"              # shipped name or TOML path, relative to the suite file (optional)
    overrides = { users = { count = 4 } }   # optional, merged over the scenario
    env_kwargs = { accuracy_penalty = 1.0 } # optional
    max_steps = 100                   # optional, overrides the suite's
    episodes = 200                    # optional, overrides the suite's
    reference = ["static_best", "oracle"]   # optional: the agents that score 0 and 1 here (default shown)
    train = { overrides = { users = { network = "fcc" } } }  # optional: the training variant (below)

    [[agents]]
    name = "ppo"                      # unique label in the tables
    spec = "ppo"                      # built-in name, RL algorithm, entry point or module:Class
    train_steps = 20000               # RL: environment steps of training on train_seeds
    warmup_episodes = 0               # online learners: episodes on train_seeds before evaluation
    kwargs = {}                       # passed to the agent (RL: over the defaults of e3gym.agents.rl_defaults)
    scenarios = ["eec-mobile"]        # optional: only these scenarios (default: all)

**Scores.** A cell's score is its mean return per episode, normalized per (scenario, seed) by the
scenario's reference pair: its low agent scores 0 and its high agent 1. (With fixed-length episodes
this is the normalized mean reward per step; with episodes that end on a decision, as in
FadingSplit-v0, it is the normalized cost per inference.) Every scenario's reference agents always
run on it.

**Held-out data.** A scenario's ``train`` table names a training variant: its keys (``scenario``,
``overrides``, ``env_kwargs``) replace the evaluation variant's. RL training, online learners'
warm-up and StaticBest's calibration then use the training variant only (and the training seeds);
the agents are built there and moved to the evaluation variant with ``move_to(env)``. Without a
``train`` table both use the scenario itself, on disjoint seeds.

Mistakes (unknown keys, env ids, scenarios, scenario keys, agents) are reported with the file,
the line and the key when the suite is loaded, before anything runs.
"""
from __future__ import annotations

import dataclasses
import re
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from e3gym.agents.train import ALGOS
from e3gym.errors import E3GymError, did_you_mean

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RL_ALGOS = ALGOS  # trained with Stable-Baselines3
REFERENCE_AGENTS = ("static_best", "oracle")  # the default pair: score 0 and score 1

SUITE_KEYS = {"id", "version", "description", "max_steps", "episodes", "seeds", "train_seeds", "bootstrap_reps",
              "scenarios", "agents"}
SCENARIO_KEYS = {"id", "env", "scenario", "overrides", "env_kwargs", "max_steps", "episodes", "description", "reference",
                 "train"}
TRAIN_KEYS = {"scenario", "overrides", "env_kwargs"}
AGENT_KEYS = {"name", "spec", "train_steps", "warmup_episodes", "kwargs", "scenarios"}
MAX_STEPS = 10 ** 9  # episode lengths and training budgets
MAX_EPISODES = 10 ** 4
MAX_BOOTSTRAP_REPS = 10 ** 6


class SuiteError(E3GymError):
    """A suite file is malformed; the message names the file, the line and the key."""


@dataclass(frozen=True)
class ScenarioEntry:
    """One scenario of a suite."""

    id: str
    env: str
    scenario: str | None = None
    overrides: dict = field(default_factory=dict)
    env_kwargs: dict = field(default_factory=dict)
    max_steps: int | None = None
    reference: tuple[str, str] = REFERENCE_AGENTS
    train: dict = field(default_factory=dict)
    episodes: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "reference", tuple(self.reference))  # a list after a JSON round trip

    @property
    def has_train_variant(self) -> bool:
        """Whether training, warm-up and calibration use a variant of their own."""
        return bool(self.train)

    def training_variant(self) -> "ScenarioEntry":
        """The scenario that training, warm-up and calibration use (itself without a ``train`` table)."""
        if not self.train:
            return self
        return dataclasses.replace(self, train={}, **self.train)

    def make_kwargs(self, suite_dir: Path | None = None) -> dict[str, Any]:
        """Keyword arguments for ``gymnasium.make`` (without the episode length)."""
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
    scenarios: tuple[str, ...] | None = None  # None: every scenario of the suite

    def __post_init__(self) -> None:
        if self.scenarios is not None:
            object.__setattr__(self, "scenarios", tuple(self.scenarios))

    def runs_on(self, scenario_id: str) -> bool:
        """Whether the agent has cells on ``scenario_id``."""
        return self.scenarios is None or scenario_id in self.scenarios

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
    episodes: int = 1
    bootstrap_reps: int = 2000

    def agents_on(self, scenario: ScenarioEntry) -> list[AgentEntry]:
        """The agents with cells on ``scenario`` (its reference pair among them)."""
        return [a for a in self.agents if a.runs_on(scenario.id)]

    def references(self) -> dict[str, tuple[str, str]]:
        """Scenario id -> its (low, high) reference agents."""
        return {s.id: s.reference for s in self.scenarios}

    def with_agents(self, names: list[str]) -> "Suite":
        """The suite restricted to (or extended with) the named agents; references are always kept.

        A name that is not one of the suite's agents is resolved as a built-in name, entry point or
        ``module:Class`` now, so a typo fails before any work. RL algorithms must come from the
        suite, which states their training budget.
        """
        from e3gym.agents.base import AgentSpecError, resolve_agent_class
        known = {a.name: a for a in self.agents}
        picked = []
        for n in names:
            if n in known:
                picked.append(known[n])
                continue
            if n in RL_ALGOS:
                raise SuiteError(f"--agents {n}: RL agents need a training budget; add an [[agents]] entry with "
                                 f"name = {n!r} and train_steps to {self.path or 'the suite'}")
            try:
                resolve_agent_class(n)
            except AgentSpecError as err:
                raise SuiteError(f"--agents {n}: {err}; the suite's agents: {', '.join(known)}") from None
            picked.append(AgentEntry(name=n, spec=n))
        return dataclasses.replace(self, agents=tuple(_with_references(picked, self.scenarios, known)))

    def with_seeds(self, n: int) -> "Suite":
        """The first ``n`` evaluation seeds (more are made by counting on, skipping training seeds)."""
        if not 1 <= n <= MAX_EPISODES:
            raise SuiteError(f"--seeds must be in 1..{MAX_EPISODES}, got {n}")
        seeds = list(self.seeds[:n])
        candidate = max(self.seeds) + 1
        while len(seeds) < n:
            if candidate not in self.train_seeds:
                seeds.append(candidate)
            candidate += 1
        return dataclasses.replace(self, seeds=tuple(seeds))

    def steps_of(self, scenario: ScenarioEntry) -> int:
        """Requests per evaluation episode of ``scenario``."""
        return scenario.max_steps or self.max_steps

    def episodes_of(self, scenario: ScenarioEntry) -> int:
        """Evaluation episodes per cell of ``scenario``."""
        return scenario.episodes or self.episodes


def suite_dir() -> Path:
    """Folder of the shipped suites."""
    return Path(str(resources.files("e3gym.bench.suites")))


def list_suites() -> list[str]:
    """Names of the shipped suites."""
    return sorted(p.stem for p in suite_dir().glob("*.toml"))


def _line_of(text: str, key: str) -> int | None:
    """1-based line of ``key`` (``name``, ``scenarios[2].env``, ``scenarios[0].overrides.cuont``) in TOML text."""
    lines = text.splitlines()
    start = 0
    m = re.match(r"(\w+)\[(\d+)\]\.?(.*)", key)
    if m:  # the n-th [[table]] header, then the key after it
        table, index, key = m.group(1), int(m.group(2)), m.group(3)
        headers = [i for i, line in enumerate(lines) if re.match(rf"\s*\[\[\s*{re.escape(table)}\s*\]\]", line)]
        if index < len(headers):
            start = headers[index]
            if not key:
                return start + 1
    for leaf in reversed(key.split(".")):  # the most specific part that can be found
        if not leaf:
            continue
        pattern = rf"(^\s*|[{{,]\s*){re.escape(leaf)}\s*="
        for i in range(start, len(lines)):
            if i > start and re.match(r"\s*\[", lines[i]) and m:  # stop at the next table
                break
            if re.search(pattern, lines[i]):
                return i + 1
    return start + 1 if m else None


def load_suite(spec: str | Path) -> Suite:
    """Load a shipped suite by name or a suite TOML file by path, validating every key."""
    path = Path(spec)
    if path.suffix != ".toml":
        path = suite_dir() / f"{spec}.toml"
        if not path.exists():
            raise SuiteError(f"unknown suite {str(spec)!r}{did_you_mean(str(spec), list_suites())}; "
                             f"shipped: {', '.join(list_suites())}, or pass a .toml path")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise SuiteError(f"{path}: cannot read suite: {err.strerror}") from None
    except UnicodeDecodeError:
        raise SuiteError(f"{path}: not valid TOML: not a UTF-8 text file") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SuiteError(f"{path}: not valid TOML: {err}") from None
    return _build(data, path, text)


def suite_from_dict(data: dict[str, Any], base_dir: str | Path = ".", name: str = "<suite>") -> Suite:
    """A suite from the same keys as a suite file, validated the same way (for scripts and notebooks).

    Relative scenario paths are taken from ``base_dir``; errors name the suite ``name``.
    """
    return _build(data, Path(base_dir) / name, "")


def _build(data: Any, path: Path, text: str) -> Suite:
    """Validate every key of a parsed suite (``text``, when there is one, gives error lines)."""
    if not isinstance(data, dict):
        raise SuiteError(f"{path}: a suite must be a table (dict), got {type(data).__name__}")
    def fail(key: str, msg: str) -> SuiteError:
        line = _line_of(text, key)
        return SuiteError(f"{path}{f':{line}' if line else ''}: key {key!r}: {msg}")

    def check(table: Any, allowed: set, where: str) -> None:
        if not isinstance(table, dict):
            raise fail(where.rstrip("."), "must be a table")
        for key in table:
            if key not in allowed:
                raise fail(f"{where}{key}", f"unknown key{did_you_mean(key, allowed)}; expected one of {sorted(allowed)}")

    def text_field(table: dict, key: str, where: str) -> None:
        if key in table and not (isinstance(table[key], str) and table[key].strip()):
            raise fail(f"{where}{key}", f"must be a non-empty string, got {table[key]!r}")

    def positive_int(value: Any, key: str, high: int = MAX_STEPS) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
            raise fail(key, f"must be an integer in 1..{high}, got {value!r}")
        return value

    check(data, SUITE_KEYS, "")
    for key in ("id", "description"):
        text_field(data, key, "")
    for key in ("id", "seeds", "scenarios", "agents"):
        if key not in data:
            raise SuiteError(f"{path}: missing key {key!r}")
    seeds = data["seeds"]
    train_seeds = data.get("train_seeds", [])
    for key, vals in (("seeds", seeds), ("train_seeds", train_seeds)):
        if not isinstance(vals, list) or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2 ** 32
                                                 for s in vals):
            raise fail(key, f"must be a list of integers in 0..{2 ** 32 - 1}, got {vals!r}")
        if len(set(vals)) != len(vals):
            raise fail(key, f"lists a seed twice: {vals!r}")
    if not seeds:
        raise fail("seeds", "needs at least one evaluation seed")
    if set(seeds) & set(train_seeds):
        raise fail("train_seeds", f"must be disjoint from seeds; both hold {sorted(set(seeds) & set(train_seeds))}")
    max_steps = positive_int(data.get("max_steps", 200), "max_steps")
    episodes = positive_int(data.get("episodes", 1), "episodes", MAX_EPISODES)
    for key in ("scenarios", "agents"):
        if not isinstance(data[key], list):
            raise fail(key, "must be an array of tables ([[" + key + "]])")

    from gymnasium.envs.registration import registry

    import e3gym  # noqa: F401  (registers the env ids checked below)
    from e3gym.agents.base import AgentSpecError, resolve_agent_class

    scenarios = []
    for i, s in enumerate(data["scenarios"]):
        check(s, SCENARIO_KEYS, f"scenarios[{i}].")
        if "id" not in s or "env" not in s:
            raise fail(f"scenarios[{i}]", "needs 'id' and 'env'")
        for key in ("id", "env", "scenario", "description"):
            text_field(s, key, f"scenarios[{i}].")
        if isinstance(s["env"], str) and "/mo-" in s["env"]:
            raise fail(f"scenarios[{i}].env", f"{s['env']} returns a vector reward; the leaderboard scores scalar "
                                              f"rewards: use {s['env'].replace('/mo-', '/')}")
        if s["env"] not in registry:
            e3 = sorted(k for k in registry if k.startswith("e3gym/"))
            raise fail(f"scenarios[{i}].env", f"unknown env id {s['env']!r}; registered: {', '.join(e3)}")
        for key in ("overrides", "env_kwargs"):
            if not isinstance(s.get(key, {}), dict):
                raise fail(f"scenarios[{i}].{key}", "must be a table")
        reference = s.get("reference", list(REFERENCE_AGENTS))
        if not (isinstance(reference, list) and len(reference) == 2 and all(isinstance(r, str) and r.strip()
                                                                            for r in reference)
                and reference[0] != reference[1]):
            raise fail(f"scenarios[{i}].reference", f"must be two different agent names [low, high], got {reference!r}")
        train = s.get("train", {})
        check(train, TRAIN_KEYS, f"scenarios[{i}].train.")
        for key in ("overrides", "env_kwargs"):
            if not isinstance(train.get(key, {}), dict):
                raise fail(f"scenarios[{i}].train.{key}", "must be a table")
        text_field(train, "scenario", f"scenarios[{i}].train.")
        entry = ScenarioEntry(str(s["id"]), s["env"], s.get("scenario"), s.get("overrides", {}),
                              s.get("env_kwargs", {}),
                              positive_int(s["max_steps"], f"scenarios[{i}].max_steps") if "max_steps" in s else None,
                              tuple(reference), dict(train),
                              positive_int(s["episodes"], f"scenarios[{i}].episodes", MAX_EPISODES) if "episodes" in s
                              else None)
        _check_scenario(entry, path.parent, lambda key, msg, i=i: fail(f"scenarios[{i}].{key}", msg))
        if entry.has_train_variant:
            _check_scenario(entry.training_variant(), path.parent,
                            lambda key, msg, i=i: fail(f"scenarios[{i}].train.{key}", msg))
        for ref in entry.reference:
            if ref not in [str(a.get("name")) for a in data["agents"] if isinstance(a, dict)]:
                try:
                    resolve_agent_class(ref)
                except AgentSpecError as err:
                    raise fail(f"scenarios[{i}].reference", str(err)) from None
        scenarios.append(entry)
    agents = []
    for i, a in enumerate(data["agents"]):
        check(a, AGENT_KEYS, f"agents[{i}].")
        if "name" not in a:
            raise fail(f"agents[{i}]", "needs 'name'")
        for key in ("name", "spec"):
            text_field(a, key, f"agents[{i}].")
        if not isinstance(a.get("kwargs", {}), dict):
            raise fail(f"agents[{i}].kwargs", "must be a table")
        only = a.get("scenarios")
        if only is not None and not (isinstance(only, list) and only and all(isinstance(x, str) for x in only)):
            raise fail(f"agents[{i}].scenarios", f"must be a non-empty list of scenario ids, got {only!r}")
        for key in ("train_steps", "warmup_episodes"):
            if key in a and (isinstance(a[key], bool) or not isinstance(a[key], int) or not 0 <= a[key] <= MAX_STEPS):
                raise fail(f"agents[{i}].{key}", f"must be an integer in 0..{MAX_STEPS}, got {a[key]!r}")
        entry = AgentEntry(str(a["name"]), str(a.get("spec", a["name"])), a.get("train_steps", 0),
                           a.get("warmup_episodes", 0), a.get("kwargs", {}), tuple(only) if only else None)
        if entry.is_rl:
            if entry.train_steps < 1:
                raise fail(f"agents[{i}].train_steps", f"RL agent {entry.name!r} needs train_steps >= 1")
        else:
            try:
                resolve_agent_class(entry.spec)
            except AgentSpecError as err:
                raise fail(f"agents[{i}].{'spec' if 'spec' in a else 'name'}", str(err)) from None
        if (entry.is_rl or entry.warmup_episodes) and not train_seeds:
            raise fail("train_seeds", f"agent {entry.name!r} trains, so the suite needs train_seeds")
        agents.append(entry)
    for kind, ids in (("scenarios", [x.id for x in scenarios]), ("agents", [x.name for x in agents])):
        dup = sorted({x for x in ids if ids.count(x) > 1})
        if dup:
            where = f"{kind}[{len(ids) - 1 - ids[::-1].index(dup[0])}].{'id' if kind == 'scenarios' else 'name'}"
            raise fail(where, f"duplicate {dup[0]!r}")
    ids = [x.id for x in scenarios]
    for i, a in enumerate(agents):
        for sid in a.scenarios or ():
            if sid not in ids:
                raise fail(f"agents[{i}].scenarios", f"unknown scenario {sid!r}{did_you_mean(sid, ids)}; "
                                                     f"the suite's: {', '.join(ids)}")
    by_name = {a.name: a for a in agents}
    for i, s in enumerate(scenarios):  # a reference the user listed must run where it is a reference
        for ref in s.reference:
            if ref in by_name and not by_name[ref].runs_on(s.id):
                raise fail(f"scenarios[{i}].reference", f"agent {ref!r} is this scenario's reference but its "
                                                        f"'scenarios' leave out {s.id!r}")
    agents = _with_references(agents, scenarios, {})
    reps = data.get("bootstrap_reps", 2000)
    if isinstance(reps, bool) or not isinstance(reps, int) or not 0 <= reps <= MAX_BOOTSTRAP_REPS:
        raise fail("bootstrap_reps", f"must be an integer in 0..{MAX_BOOTSTRAP_REPS}, got {reps!r}")
    return Suite(str(data["id"]), positive_int(data.get("version", 1), "version", 10 ** 6), str(data.get("description", "")), max_steps,
                 tuple(seeds), tuple(train_seeds), tuple(scenarios), tuple(agents), path, episodes, reps)


def _with_references(agents: list[AgentEntry], scenarios: tuple[ScenarioEntry, ...] | list[ScenarioEntry],
                     known: dict[str, AgentEntry]) -> list[AgentEntry]:
    """``agents`` plus every scenario's reference pair (they define the score, so they always run).

    A reference not among ``agents`` is taken from ``known`` (the suite's own entry) or made from its
    name, and runs only on the scenarios that reference it.
    """
    out = list(agents)
    names = [a.name for a in out]
    needed: dict[str, list[str]] = {}
    for s in scenarios:
        for ref in s.reference:
            needed.setdefault(ref, []).append(s.id)
    for ref, ids in needed.items():
        if ref in names:
            continue
        entry = known.get(ref) or AgentEntry(name=ref, spec=ref)
        if entry.scenarios is None and len(ids) < len(scenarios):
            entry = dataclasses.replace(entry, scenarios=tuple(ids))
        out.append(entry)
    return out


def _check_scenario(entry: ScenarioEntry, base_dir: Path, fail: Any) -> None:
    """Build the scenario's env once, so a bad scenario name, scenario key or env option fails now."""
    import gymnasium as gym

    from e3gym.scenarios import ScenarioError
    kwargs = entry.make_kwargs(base_dir)
    try:
        gym.make(entry.env, **kwargs).close()
    except ScenarioError as err:
        msg = str(err)
        bad = re.search(r"unknown key '([^']+)'", msg)
        if "unknown scenario" in msg or "cannot read scenario" in msg:
            key = "scenario"
        elif bad and not (entry.scenario or "").endswith(".toml"):
            key = f"overrides.{bad.group(1)}"
        else:
            key = "overrides" if entry.overrides else "scenario"
        raise fail(key, msg) from None
    except (TypeError, ValueError) as err:  # an env option the env does not take, or a bad value
        bad = re.search(r"argument '(\w+)'", str(err))
        key = f"env_kwargs.{bad.group(1)}" if bad else "env_kwargs"
        raise fail(key, f"{entry.env} rejects its options {sorted(kwargs)}: {err}") from None
