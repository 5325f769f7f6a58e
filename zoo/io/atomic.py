"""Atomic local file writes: write a temporary file next to the target, then rename it over the target.

A reader (another process, a crashed run resumed later) sees either the old file or the complete new
one, never a partial write: :func:`os.replace` is atomic within one filesystem, which is why the
temporary file lives in the target's own directory.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import IO, Any, Iterator


def _temp_name(target: Path) -> Path:
    """A fresh hidden name in ``target``'s directory, e.g. ``.model.safetensors.1a2b3c4d.tmp``."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on an exception it is removed.

    For writers that want a file name rather than a file object (``safetensors.torch.save_file``,
    ``torch.save``). The parent directory is created if missing. The caller must have closed the
    temporary file before the block ends.
    """
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_name(target)
    try:
        yield temp
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb", **open_kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file for writing; on success it replaces ``path``, on an exception ``path`` is untouched.

    ``mode`` is ``"wb"`` or ``"w"`` (text; pass ``encoding=`` through ``open_kwargs``). The data is
    flushed and fsynced before the rename, so the new file is complete on disk when it appears. File
    permissions follow the process umask, like a plain ``open(path, "w")``.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write supports mode 'w' or 'wb', got {mode!r}")
    with atomic_path(path) as temp:
        # os.open with 0o666 lets the umask decide permissions (tempfile.mkstemp would force 0o600).
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with open(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
