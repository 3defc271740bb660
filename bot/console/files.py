"""Small files the console keeps in DATA_DIR/console, shared by every console worker.

Several console processes (or a console and a CLI command) may write the same file at
once on a shared DATA_DIR, so every write takes an exclusive `flock` on a lock file
beside it and replaces the file atomically: readers see the old or the new file, never
half of one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def console_dir(data_dir: Path) -> Path:
    folder = Path(data_dir) / "console"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def locked(path: Path, *, blocking: bool = True, folder: Path | None = None) -> Iterator[bool]:
    """An exclusive lock named after `path` (`path.lock`, in `folder` when given, so
    that no lock file lands among the knowledge files), across processes. Yields False
    at once when `blocking` is off and another process holds it."""
    lock_path = (folder or path.parent) / (path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_atomic(path: Path, text: str, mode: int | None = None) -> None:
    """Write `text` to a temporary file in the same folder and rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        # newline="": line ends are written as given (a file staff keep with CRLF stays so)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        elif path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_text(path: Path) -> str:
    """A file's text exactly as stored (CRLF kept), for edits that write it back."""
    return path.read_bytes().decode("utf-8")
