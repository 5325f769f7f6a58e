"""Where a pretrained text encoder lives: a Hugging Face id, a local directory or an fsspec URL.

``transformers``' ``from_pretrained`` reads Hugging Face ids and local directories itself (and honours
``HF_HUB_OFFLINE``); a directory behind another fsspec protocol (``s3://``, ``gs://``, ``memory://``, ...)
is copied once into a local cache first.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path


def cache_root() -> Path:
    """Local cache for copied encoder directories: ``$ZOO_CACHE/text_encoders`` (default ``~/.cache/zoo``)."""
    return Path(os.environ.get("ZOO_CACHE", Path.home() / ".cache" / "zoo")) / "text_encoders"


def local_location(location: str) -> str:
    """A location ``from_pretrained`` can read: ids and local paths unchanged, fsspec URLs copied locally."""
    if location.startswith("file://"):
        return location.removeprefix("file://")
    if "://" not in location:
        return location
    import fsspec

    fs, remote = fsspec.core.url_to_fs(location)
    target = cache_root() / hashlib.sha256(location.encode()).hexdigest()[:16]
    if not target.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent))
        try:
            fs.get(remote.rstrip("/") + "/", str(staging) + "/", recursive=True)
            staging.rename(target)  # atomic: a half-copied directory never looks complete
        except Exception:
            shutil.rmtree(staging, ignore_errors=True)
            if not target.is_dir():  # another process may have won the race
                raise
    return str(target)
