"""Resolve a weights URI to a local file: ``zoo://``, plain paths, ``file://``, ``hf://`` and any fsspec protocol.

* ``zoo://rel/path`` -> ``package_root()/rel/path``, a file shipped inside the installed package;
* ``/abs/path``, ``~/rel``, ``file:///abs/path`` -> that local path, ``~`` expanded;
* ``hf://org/repo/path/in/repo[@revision]`` -> ``huggingface_hub.hf_hub_download`` (the Hub's own cache);
* ``memory://``, ``s3://``, ``gs://``, ``https://`` ... -> a copy in the zoo cache (``$ZOO_CACHE`` or
  ``~/.cache/zoo``) keyed by a hash of the URI.

``hf://`` also accepts huggingface_hub's filesystem spelling ``hf://org/repo@rev/path`` and the
``datasets/`` / ``spaces/`` prefixes. fsspec copies are written atomically and reused as long as they
exist: a URI is treated as immutable, so pin content with a sha256 (see :mod:`zoo.io.weights`) or
pass ``refresh=True`` to fetch again.

One offline switch: :func:`is_offline` is true when ``ZOO_OFFLINE`` or ``HF_HUB_OFFLINE`` is set to
1/true/yes/on, or inside :func:`offline`. Offline, remote URIs are served from the caches only and a
miss raises :class:`~zoo.errors.OfflineError` without touching the network.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote, urlsplit

import fsspec

from zoo.errors import OfflineError, WeightsError
from zoo.io.atomic import atomic_write

OFFLINE_ENV_VARS: tuple[str, ...] = ("ZOO_OFFLINE", "HF_HUB_OFFLINE")
_TRUE_VALUES = frozenset({"1", "true", "yes", "on"})

# fsspec protocols that never touch the network; wrappers (caches, archives) are remote only through
# the protocol they wrap, which appears as a later segment of a chained URI ("zip://x::s3://b/a.zip").
LOCAL_PROTOCOLS = frozenset({"file", "local", "memory", "data"})
WRAPPER_PROTOCOLS = frozenset({"simplecache", "filecache", "blockcache", "cached", "zip", "tar", "libarchive"})

_offline_lock = threading.Lock()
_offline_depth = 0


# --- the offline switch -------------------------------------------------------------------------------


def offline_reason() -> str | None:
    """Why the offline switch is on (``"HF_HUB_OFFLINE=1"``, ``"zoo.io.offline()"``), or ``None`` when it is off."""
    for name in OFFLINE_ENV_VARS:
        value = os.environ.get(name, "")
        if value.strip().lower() in _TRUE_VALUES:
            return f"{name}={value}"
    return "zoo.io.uri.offline()" if _offline_depth > 0 else None


def is_offline() -> bool:
    """True when remote fetches are forbidden: ``ZOO_OFFLINE``/``HF_HUB_OFFLINE`` truthy, or inside :func:`offline`."""
    return offline_reason() is not None


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """Turn the offline switch on for the block (process-wide; nests)."""
    global _offline_depth
    with _offline_lock:
        _offline_depth += 1
    try:
        yield
    finally:
        with _offline_lock:
            _offline_depth -= 1


# --- locations ----------------------------------------------------------------------------------------


def package_root() -> Path:
    """The directory of the installed ``zoo`` package; ``zoo://`` URIs are relative to it."""
    return Path(__file__).resolve().parent.parent


def package_file(uri: str) -> Path:
    """The path a ``zoo://rel/path`` URI names inside :func:`package_root` (which it may not leave)."""
    root = package_root()
    path = (root / uri[len("zoo://") :].lstrip("/")).resolve()
    if not path.is_relative_to(root):
        raise WeightsError(f"{uri}: points outside the zoo package ({root})")
    return path


def default_cache_dir() -> Path:
    """``$ZOO_CACHE`` if set, else ``~/.cache/zoo``."""
    return Path(os.environ.get("ZOO_CACHE") or "~/.cache/zoo").expanduser()


def protocols(uri: str) -> tuple[str, ...]:
    """The protocols of a URI, outermost first.

    ``"/a"`` -> ``("file",)``; ``"zip://x::s3://b/a.zip"`` -> ``("zip", "s3")``.
    """
    if "://" not in uri and "::" not in uri:
        return ("file",)
    found = []
    for segment in uri.split("::"):
        found.append(segment.split("://", 1)[0] if "://" in segment else segment)
    return tuple(p.lower() for p in found)


def is_remote(uri: str) -> bool:
    """True when reading ``uri`` may use the network (every protocol except local ones and wrappers of them)."""
    return any(p not in LOCAL_PROTOCOLS | WRAPPER_PROTOCOLS for p in protocols(uri))


def cache_path(uri: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where :func:`resolve` keeps its copy of an fsspec ``uri``: ``<cache>/fsspec/<sha256(uri)[:32]>/<file name>``.

    The file name is kept so its suffix (``.safetensors``, ``.pt``) still tells the format.
    """
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    key = hashlib.sha256(uri.encode("utf-8")).hexdigest()[:32]
    outer = uri.split("::", 1)[0]
    name = Path(urlsplit(outer).path).name or "file"
    return root / "fsspec" / key / name


# --- hf:// --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HubFile:
    """One file in a Hugging Face Hub repository, as named by an ``hf://`` URI."""

    repo_id: str
    filename: str
    revision: str | None = None
    repo_type: str | None = None


_HUB_REPO_TYPES = {"datasets": "dataset", "spaces": "space", "models": "model"}


def parse_hf_uri(uri: str) -> HubFile:
    """Split ``hf://[datasets/]org/repo/path/in/repo[@revision]`` (or ``hf://org/repo@revision/path``).

    A revision may contain slashes when it comes last (``hf://org/repo/w.safetensors@refs/pr/1``);
    in the ``repo@revision`` position it is URL-encoded, as huggingface_hub writes it.
    """
    if not uri.startswith("hf://"):
        raise WeightsError(f"not an hf:// URI: {uri}")
    parts = uri[len("hf://") :].split("/")
    repo_type = None
    if parts and parts[0] in _HUB_REPO_TYPES:
        repo_type = _HUB_REPO_TYPES[parts.pop(0)]
    if len(parts) < 3 or not all(parts[:2]):
        raise WeightsError(f"{uri}: expected hf://org/repo/path/in/repo[@revision]")
    org, repo, rest = parts[0], parts[1], "/".join(parts[2:])
    revision = None
    if "@" in repo:
        repo, revision = repo.split("@", 1)
        revision = unquote(revision)
    elif "@" in rest:
        rest, revision = rest.rsplit("@", 1)
    if not rest or revision == "":
        raise WeightsError(f"{uri}: empty file path or revision")
    return HubFile(repo_id=f"{org}/{repo}", filename=rest, revision=revision, repo_type=repo_type)


def _resolve_hf(uri: str, cache_dir: Path | None) -> Path:
    import huggingface_hub
    from huggingface_hub.errors import EntryNotFoundError, OfflineModeIsEnabled

    hub = parse_hf_uri(uri)
    hf_cache = cache_dir / "hf" if cache_dir is not None else None
    reason = offline_reason()
    try:
        if reason is not None:  # cache lookup only: never calls the network
            cached = huggingface_hub.try_to_load_from_cache(
                hub.repo_id, hub.filename, cache_dir=hf_cache, revision=hub.revision, repo_type=hub.repo_type
            )
            if isinstance(cached, str):
                return Path(cached)
            raise OfflineError(f"{uri}: not in the Hugging Face cache and the offline switch is on ({reason})")
        path = huggingface_hub.hf_hub_download(
            hub.repo_id, hub.filename, revision=hub.revision, repo_type=hub.repo_type, cache_dir=hf_cache
        )
    except OfflineModeIsEnabled as error:
        raise OfflineError(f"{uri}: {error}") from error
    except (EntryNotFoundError, OSError, ValueError) as error:  # missing repo/file/revision, HTTP, bad ids
        raise WeightsError(f"{uri}: cannot download from the Hugging Face Hub: {error}") from error
    return Path(path)


# --- fsspec -------------------------------------------------------------------------------------------


def _fetch_fsspec(uri: str, target: Path) -> None:
    try:
        fs, path = fsspec.core.url_to_fs(uri)
    except ValueError as error:  # "Protocol not known: ..."
        known = ", ".join(sorted(fsspec.available_protocols()))
        raise WeightsError(f"{uri}: unknown protocol ({error}). Known fsspec protocols: {known}") from error
    except ImportError as error:  # the protocol's package is not installed (s3fs, gcsfs, ...)
        raise WeightsError(f"{uri}: {error}") from error
    try:
        with fs.open(path, "rb") as source, atomic_write(target) as copy:
            shutil.copyfileobj(source, copy, 1 << 20)
    except FileNotFoundError as error:
        raise WeightsError(f"{uri}: file not found") from error
    except OSError as error:
        raise WeightsError(f"{uri}: cannot read ({error})") from error


# --- resolve ------------------------------------------------------------------------------------------


def _existing_file(path: Path, uri: str) -> Path:
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise WeightsError(f"{uri}: {path} {what}")
    return path


def resolve(uri: str, *, cache_dir: str | os.PathLike[str] | None = None, refresh: bool = False) -> Path:
    """Return a local file path for ``uri``, fetching and caching remote files as needed.

    ``cache_dir`` overrides the zoo cache (fsspec copies go under it, ``hf://`` files under
    ``cache_dir/hf``). ``refresh=True`` fetches an fsspec URI again even if a cached copy exists.
    Raises :class:`~zoo.errors.WeightsError` for a missing file or unknown protocol, and
    :class:`~zoo.errors.OfflineError` for a remote URI that is not cached while offline.
    """
    uri = str(uri)
    cache_root = Path(cache_dir).expanduser() if cache_dir is not None else None
    if uri.startswith("zoo://"):
        return _existing_file(package_file(uri), uri)
    if uri.startswith("file://"):
        return _existing_file(Path(uri[len("file://") :]).expanduser(), uri)
    if protocols(uri) == ("file",):
        return _existing_file(Path(uri).expanduser(), uri)
    if uri.startswith("hf://"):
        return _resolve_hf(uri, cache_root)

    target = cache_path(uri, cache_root)
    if target.is_file() and not refresh:
        return target
    reason = offline_reason()
    if reason is not None and is_remote(uri):
        raise OfflineError(f"{uri}: no cached copy at {target} and the offline switch is on ({reason})")
    _fetch_fsspec(uri, target)
    return target
