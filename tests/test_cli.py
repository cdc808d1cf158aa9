"""The e3gym command: version, help."""
from __future__ import annotations

import pytest

import e3gym
from e3gym.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"e3gym {e3gym.__version__}"


def test_bare_command_prints_help(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "usage: e3gym" in out and "bench" in out and "profile" in out
