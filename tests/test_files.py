"""e3gym.files: an interrupted or failed write leaves the old file as it was and no temporary file; 0644."""
from __future__ import annotations

import csv
import json
import math
import stat
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import e3gym.files
from e3gym.files import (
    open_atomic,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
    write_texts_atomic,
)

OLD = "old content\n"
LONE_SURROGATE = "half \ud800 written"  # cannot be encoded as UTF-8: fails inside the write


def listing(folder: Path) -> list[str]:
    """Every entry of ``folder``, hidden temporary files included."""
    return sorted(p.name for p in folder.iterdir())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def old(tmp_path: Path) -> Path:
    path = tmp_path / "result.json"
    path.write_text(OLD, encoding="utf-8")
    return path


def interrupt(*args, **kwargs):
    raise KeyboardInterrupt  # as Ctrl-C just before the file would move into place


def test_text_is_written_with_mode_0644_and_parents_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "out.txt"
    write_text_atomic(path, "héllo\n")
    assert path.read_bytes() == "héllo\n".encode()
    assert mode(path) == 0o644
    assert listing(path.parent) == ["out.txt"]


def test_replacing_keeps_mode_0644_even_if_the_old_file_was_private(old: Path) -> None:
    old.chmod(0o600)
    write_text_atomic(old, "new\n")
    assert old.read_text(encoding="utf-8") == "new\n" and mode(old) == 0o644


@pytest.mark.parametrize("write", [
    lambda p: write_text_atomic(p, "new\n"),
    lambda p: write_bytes_atomic(p, b"new\n"),
    lambda p: write_json_atomic(p, {"new": 1}),
    lambda p: write_texts_atomic({p: "new\n"}),
])
def test_interrupted_write_leaves_the_old_file_and_no_temporary(old: Path, monkeypatch: pytest.MonkeyPatch,
                                                                write) -> None:
    monkeypatch.setattr(e3gym.files.os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write(old)
    assert old.read_text(encoding="utf-8") == OLD
    assert listing(old.parent) == [old.name]


def test_failure_in_the_middle_of_writing_leaves_the_old_file(old: Path) -> None:
    with pytest.raises(UnicodeEncodeError):
        write_text_atomic(old, LONE_SURROGATE)
    assert old.read_text(encoding="utf-8") == OLD and listing(old.parent) == [old.name]


def test_error_inside_open_atomic_leaves_the_old_file(old: Path) -> None:
    with pytest.raises(RuntimeError, match="writer crashed"):
        with open_atomic(old) as f:
            f.write("partial")
            raise RuntimeError("writer crashed")
    assert old.read_text(encoding="utf-8") == OLD and listing(old.parent) == [old.name]


def test_open_atomic_csv_matches_the_csv_module(tmp_path: Path) -> None:
    rows = [{"cut": 0, "latency_s": 0.25}, {"cut": 3, "latency_s": 1.5}]
    path = tmp_path / "requests.csv"
    with open_atomic(path, newline="") as f:
        w = csv.DictWriter(f, fieldnames=["cut", "latency_s"])
        w.writeheader()
        w.writerows(rows)
    assert path.read_bytes() == b"cut,latency_s\r\n0,0.25\r\n3,1.5\r\n"  # csv's own \r\n, not translated
    assert mode(path) == 0o644


def test_open_atomic_binary_takes_a_file_writer(tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    with open_atomic(path, binary=True) as f:
        np.save(f, np.arange(3))
    assert np.load(path).tolist() == [0, 1, 2] and mode(path) == 0o644


def test_json_layout_is_indent_1_with_a_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "cell.json"
    write_json_atomic(path, {"a": [1, 2], "b": "x"})
    assert path.read_text(encoding="utf-8") == '{\n "a": [\n  1,\n  2\n ],\n "b": "x"\n}\n'  # written out by hand


def test_json_refuses_nan_unless_allowed_and_leaves_the_old_file(old: Path) -> None:
    with pytest.raises(ValueError):
        write_json_atomic(old, {"score": math.nan})
    assert old.read_text(encoding="utf-8") == OLD and listing(old.parent) == [old.name]
    write_json_atomic(old, {"score": math.nan}, allow_nan=True)
    assert math.isnan(json.loads(old.read_text(encoding="utf-8"))["score"])


def test_json_default_converts_numpy_scalars(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    with pytest.raises(TypeError):
        write_json_atomic(path, {"x": np.float32(0.5)})
    assert not path.exists() and listing(tmp_path) == []
    write_json_atomic(path, {"x": np.float32(0.5)}, default=float)
    assert json.loads(path.read_text(encoding="utf-8")) == {"x": 0.5}


def test_texts_replace_none_when_one_fails_to_write(tmp_path: Path) -> None:
    a, b = tmp_path / "models" / "m.json", tmp_path / "devices" / "d.json"
    write_texts_atomic({a: "model v1\n", b: "device v1\n"})
    assert (a.read_text(), b.read_text()) == ("model v1\n", "device v1\n") and mode(a) == mode(b) == 0o644
    with pytest.raises(UnicodeEncodeError):
        write_texts_atomic({a: "model v2\n", b: LONE_SURROGATE})
    assert (a.read_text(), b.read_text()) == ("model v1\n", "device v1\n")
    assert listing(a.parent) == ["m.json"] and listing(b.parent) == ["d.json"]


def test_texts_interrupted_before_the_moves_replace_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "m.json", tmp_path / "d.json"
    write_texts_atomic({a: "v1\n", b: "v1\n"})
    monkeypatch.setattr(e3gym.files.os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_texts_atomic({a: "v2\n", b: "v2\n"})
    assert (a.read_text(), b.read_text()) == ("v1\n", "v1\n") and listing(tmp_path) == ["d.json", "m.json"]


@settings(max_examples=50, deadline=None)
@given(text=st.text(), data=st.binary())
def test_whatever_is_written_reads_back_exactly(tmp_path_factory: pytest.TempPathFactory, text: str,
                                                data: bytes) -> None:
    folder = tmp_path_factory.mktemp("roundtrip")
    write_text_atomic(folder / "t", text)
    write_bytes_atomic(folder / "b", data)
    assert (folder / "t").read_bytes() == text.encode("utf-8")  # no newline translation on Linux either way
    assert (folder / "b").read_bytes() == data
    assert listing(folder) == ["b", "t"]


def test_json_is_what_the_json_module_reads(tmp_path: Path) -> None:
    data = {"rows": [{"score": 0.5, "name": "é"}], "n": 3, "ok": True, "none": None}
    write_json_atomic(tmp_path / "x.json", data)
    assert json.loads((tmp_path / "x.json").read_text(encoding="utf-8")) == data
