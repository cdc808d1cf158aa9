"""Writing files so that a reader (or an interrupted run) never sees half of one.

Every writer puts the content in a temporary file beside the target (same folder, so the same file
system) and moves it into place with ``os.replace``, which is atomic: the target holds either the old
content or the new, never a mix. On any error, an interrupt included, the temporary file is removed
and the target is left as it was. Written files are mode 0644 (results and profiles are meant to be
shared; ``mkstemp`` alone would make them 0600).
"""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Mapping

FILE_MODE = 0o644


def _temp_beside(path: Path) -> tuple[int, Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    return fd, Path(tmp)


@contextmanager
def open_atomic(path: str | Path, binary: bool = False, newline: str | None = None) -> Iterator[IO[Any]]:
    """A file object whose content replaces ``path`` only when the ``with`` block ends without error.

    Text mode (the default) writes UTF-8; pass ``newline=""`` for :mod:`csv` writers, ``binary=True``
    for bytes (e.g. ``fig.savefig(f, format="png")`` or ``torch.save(obj, f)``).
    """
    path = Path(path)
    fd, tmp = _temp_beside(path)
    try:
        if binary:
            f = os.fdopen(fd, "wb")
        else:
            f = os.fdopen(fd, "w", encoding="utf-8", newline=newline)
        with f:
            yield f
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with open_atomic(path) as f:
        f.write(text)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with open_atomic(path, binary=True) as f:
        f.write(data)


def write_json_atomic(path: str | Path, data: Any, *, allow_nan: bool = False,
                      default: Callable[[Any], Any] | None = None) -> None:
    """Write ``data`` as JSON (``indent=1``, trailing newline) to ``path`` atomically.

    NaN and infinities are refused unless ``allow_nan`` (they are not JSON; Python's reader accepts
    them, most others do not). ``default`` converts what :mod:`json` cannot (e.g. ``float`` for numpy
    scalars). The text is made before anything is written, so a value that cannot be serialized
    leaves no trace.
    """
    write_text_atomic(path, json.dumps(data, indent=1, allow_nan=allow_nan, default=default) + "\n")


def write_texts_atomic(files: Mapping[str | Path, str]) -> None:
    """Write several text files so that none is replaced unless all of them could be written.

    Every file goes to its temporary file first; only then are they moved into place, one
    ``os.replace`` each. On an error before that point no target is touched and no temporary file is
    left.
    """
    tmps: dict[Path, Path] = {}
    try:
        for path, text in files.items():
            path = Path(path)
            fd, tmps[path] = _temp_beside(path)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(tmps[path], FILE_MODE)
        for path, tmp in tmps.items():
            os.replace(tmp, path)
    finally:
        for tmp in tmps.values():
            tmp.unlink(missing_ok=True)  # already moved (gone) unless something failed
