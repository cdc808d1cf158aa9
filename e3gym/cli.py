"""The ``e3gym`` command. Each subcommand lives in its own module with ``add_arguments`` and ``run``."""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

# name -> (module, one-line help); modules are imported only when their command runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("e3gym.agents.train", "train a Stable-Baselines3 agent on an e3gym env"),
    "bench": ("e3gym.bench.cli", "run the leaderboard: every agent x scenario x seed of a suite"),
    "profile": ("e3gym.profiler.cli", "measure model and device profiles on this machine (per-block latency, FLOPs)"),
    "profiles": ("e3gym.profiler.listing", "list the shipped and your own profiles, or show one"),
    "validate": ("e3gym.validate.cli", "measure the simulator against a real split execution (namespaces, tc, TCP)"),
}


def _available() -> dict[str, tuple[str, str]]:
    out = {}
    for name, (module, help_text) in COMMANDS.items():
        if importlib.util.find_spec(module) is not None:
            out[name] = (module, help_text)
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``e3gym`` console script."""
    from e3gym import __version__
    from e3gym.errors import DependencyNotInstalled, E3GymError
    parser = argparse.ArgumentParser(prog="e3gym", description="End-edge-cloud inference orchestration gym.")
    parser.add_argument("--version", action="version", version=f"e3gym {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands = _available()
    for name, (module, help_text) in commands.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(sp)
    args = parser.parse_args(argv)
    if args.command is None:  # a bare `e3gym`: say what there is
        parser.print_help()
        return 0
    module = importlib.import_module(commands[args.command][0])
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except E3GymError as err:  # bad input, with a full one-line message; anything else is a bug: traceback
        print(f"e3gym {args.command}: error: {err}", file=sys.stderr)
        return 2
    except DependencyNotInstalled as err:  # an optional extra this command needs
        print(f"e3gym {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
