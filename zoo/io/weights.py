"""Weights files: load and save safetensors by URI, verify sha256, and load a state dict into a module.

Formats: safetensors everywhere; files ending ``.pt``/``.pth``/``.ckpt``/``.bin`` are read with
``torch.load(weights_only=True)`` (plain containers of tensors only, never arbitrary pickled objects).
URIs are resolved by :func:`zoo.io.uri.resolve` (``zoo://``, paths, ``file://``, ``hf://``, fsspec).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import pickle
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path

import fsspec
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from zoo.errors import OfflineError, WeightsError
from zoo.io.atomic import atomic_path
from zoo.io.uri import cache_path, default_cache_dir, is_remote, offline_reason, package_file, protocols, resolve

PICKLE_SUFFIXES = frozenset({".pt", ".pth", ".ckpt", ".bin"})
MAX_LISTED = 10  # keys listed per problem in a load error; the rest are counted

PathOrUri = str | os.PathLike[str]


# --- checksums ----------------------------------------------------------------------------------------


def sha256_file(path: PathOrUri, chunk_bytes: int = 1 << 20) -> str:
    """Hex sha256 of a local file, read in ``chunk_bytes`` chunks (constant memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def _normalise_sha256(expected: str, uri: str) -> str:
    value = expected.strip().lower().removeprefix("sha256:")
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise WeightsError(f"{uri}: sha256 must be 64 hex digits, got {expected!r}")
    return value


def verify_sha256(path: PathOrUri, expected: str, uri: str | None = None) -> None:
    """Raise :class:`~zoo.errors.WeightsError` naming both hashes unless ``path`` hashes to ``expected``.

    ``expected`` may carry a ``sha256:`` prefix and any case; ``uri`` names the file in the message.
    """
    name = uri or str(path)
    want = _normalise_sha256(expected, name)
    actual = sha256_file(path)
    if actual != want:
        raise WeightsError(f"{name}: sha256 mismatch: expected {want}, got {actual} (file {path})")


def _resolve_verified(uri: str, sha256: str | None, cache_dir: PathOrUri | None) -> Path:
    """Resolve ``uri``; with a checksum, a stale fsspec cache copy is fetched once more before failing."""
    path = resolve(uri, cache_dir=cache_dir)
    if sha256 is None:
        return path
    try:
        verify_sha256(path, sha256, uri)
    except WeightsError:
        cached_copy = path == cache_path(uri, cache_dir)
        if not cached_copy or (offline_reason() is not None and is_remote(uri)):
            raise
        path = resolve(uri, cache_dir=cache_dir, refresh=True)
        verify_sha256(path, sha256, uri)
    return path


# --- loading ------------------------------------------------------------------------------------------


def _only_tensors(loaded: object, uri: str) -> dict[str, Tensor]:
    if isinstance(loaded, Mapping) and isinstance(loaded.get("state_dict"), Mapping):
        loaded = loaded["state_dict"]  # a Lightning checkpoint: keep the weights
    if not isinstance(loaded, Mapping):
        raise WeightsError(f"{uri}: expected a mapping of name -> tensor, got {type(loaded).__name__}")
    bad = [str(k) for k, v in loaded.items() if not (isinstance(k, str) and isinstance(v, Tensor))]
    if bad:
        raise WeightsError(f"{uri}: entries that are not tensors: {_shorten(bad)}")
    return dict(loaded)


def _torch_load(path: Path, uri: str, device: str | torch.device) -> dict[str, Tensor]:
    try:
        loaded = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as error:
        raise WeightsError(f"{uri}: refusing to unpickle non-tensor objects (weights_only=True): {error}") from error
    except (RuntimeError, EOFError, OSError) as error:
        raise WeightsError(f"{uri}: not a readable torch file: {error}") from error
    return _only_tensors(loaded, uri)


def load_torch_weights(
    uri: str, sha256: str | None = None, device: str | torch.device = "cpu", *, cache_dir: PathOrUri | None = None
) -> dict[str, Tensor]:
    """Load a ``.pt``/``.pth``/``.ckpt``/``.bin`` file with ``torch.load(weights_only=True)``.

    A Lightning checkpoint yields its ``state_dict``. Files holding pickled custom objects are
    rejected with :class:`~zoo.errors.WeightsError` (convert them to safetensors instead).
    """
    return _torch_load(_resolve_verified(str(uri), sha256, cache_dir), str(uri), device)


def load_safetensors(
    uri: str, sha256: str | None = None, device: str | torch.device = "cpu", *, cache_dir: PathOrUri | None = None
) -> dict[str, Tensor]:
    """Load the tensors of a weights file by URI, verifying ``sha256`` when given.

    Returns ``{name: tensor}`` on ``device``. A file whose name ends ``.pt``/``.pth``/``.ckpt``/``.bin``
    is read as in :func:`load_torch_weights`; every other file is read as safetensors.
    """
    uri = str(uri)
    path = _resolve_verified(uri, sha256, cache_dir)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        return _torch_load(path, uri, device)
    try:
        return load_file(path, device=str(torch.device(device)))
    except (SafetensorError, OSError) as error:
        raise WeightsError(f"{uri}: not a readable safetensors file: {error}") from error


def read_safetensors_metadata(uri: str, *, cache_dir: PathOrUri | None = None) -> dict[str, str]:
    """The ``__metadata__`` string map stored in a safetensors file (empty when it has none)."""
    from safetensors import safe_open

    path = resolve(str(uri), cache_dir=cache_dir)
    try:
        with safe_open(path, framework="pt") as handle:
            return dict(handle.metadata() or {})
    except (SafetensorError, OSError) as error:
        raise WeightsError(f"{uri}: not a readable safetensors file: {error}") from error


# --- saving -------------------------------------------------------------------------------------------


def _save_local(tensors: dict[str, Tensor], path: Path, metadata: dict[str, str] | None) -> str:
    with atomic_path(path) as temp:
        save_file(tensors, temp, metadata=metadata)
        return sha256_file(temp)


def _save_fsspec(
    tensors: dict[str, Tensor], uri: str, metadata: dict[str, str] | None, cache_dir: PathOrUri | None
) -> str:
    reason = offline_reason()
    if reason is not None and is_remote(uri):
        raise OfflineError(f"{uri}: cannot upload while the offline switch is on ({reason})")
    try:
        fs, key = fsspec.core.url_to_fs(uri)
    except (ValueError, ImportError) as error:
        raise WeightsError(f"{uri}: {error}") from error
    staging_root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    staging_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=staging_root, prefix="upload-") as staging:
        local = Path(staging) / "weights.safetensors"
        save_file(tensors, local, metadata=metadata)
        digest = sha256_file(local)
        temp_key = f"{key}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            fs.put_file(str(local), temp_key)
            try:
                fs.mv(temp_key, key)
            except NotImplementedError:  # no move on this filesystem: write the final key directly
                fs.rm(temp_key)
                fs.put_file(str(local), key)
        except OSError as error:
            raise WeightsError(f"{uri}: cannot write ({error})") from error
    cache_path(uri, cache_dir).unlink(missing_ok=True)  # a cached copy of the old content is stale now
    return digest


def save_safetensors(
    tensors: Mapping[str, Tensor],
    path_or_uri: PathOrUri,
    metadata: Mapping[str, str] | None = None,
    *,
    cache_dir: PathOrUri | None = None,
) -> str:
    """Write ``tensors`` as safetensors to a local path, ``file://``, ``zoo://`` or fsspec URI; return the sha256.

    Local writes are atomic (temporary file + rename). fsspec writes upload to a temporary key and
    move it into place; on a filesystem without a move the final key is written directly, which is
    still all-or-nothing on object stores (one PUT) but may expose a partial file elsewhere.
    Tensors are detached and made contiguous; tensors that share memory must be de-duplicated first.
    """
    uri = str(path_or_uri)
    contiguous = {name: tensor.detach().contiguous() for name, tensor in tensors.items()}
    meta = dict(metadata) if metadata is not None else None
    if uri.startswith("hf://"):
        raise WeightsError(f"{uri}: saving to hf:// is not supported; save locally and upload with huggingface_hub")
    if uri.startswith("zoo://"):
        return _save_local(contiguous, package_file(uri), meta)
    if uri.startswith("file://"):
        return _save_local(contiguous, Path(uri[len("file://") :]).expanduser(), meta)
    if protocols(uri) == ("file",):
        return _save_local(contiguous, Path(uri).expanduser(), meta)
    return _save_fsspec(contiguous, uri, meta, cache_dir)


# --- loading into a module ----------------------------------------------------------------------------


def _shorten(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return f"{shown}, ... and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else shown


def _cast_like(value: Tensor, target: Tensor) -> Tensor:
    """Match ``target``'s floating dtype, as a non-assigning ``load_state_dict`` (``copy_``) would."""
    if value.is_floating_point() and target.is_floating_point() and value.dtype != target.dtype:
        return value.to(dtype=target.dtype)
    return value


def full_state(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """``state`` with every sharded DTensor gathered into a whole tensor (a collective: call on every rank)."""
    from torch.distributed.tensor import DTensor

    return {k: (v.full_tensor() if isinstance(v, DTensor) else v) for k, v in state.items()}


def load_state_dict_into(
    module: nn.Module, state_dict: Mapping[str, Tensor], *, strict: bool = True, prefix: str = ""
) -> tuple[list[str], list[str]]:
    """Load ``state_dict`` into ``module``, reporting every key problem in one :class:`~zoo.errors.WeightsError`.

    ``prefix`` selects the entries under it and strips it (``prefix="backbone."`` loads a backbone
    from a whole-pipeline file). Shape mismatches always fail; missing and unexpected keys fail when
    ``strict``. A module with parameters or buffers on the meta device is loaded with
    ``assign=True`` (tensors are adopted, cast to the module's floating dtype); with ``strict=False``
    its entries absent from the file stay on the meta device. Returns torch's ``(missing_keys,
    unexpected_keys)`` result.
    """
    state = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
    for name, sub in module.named_modules():  # older layouts of a module's own entries (e.g. fused qkv)
        if hasattr(sub, "upgrade_state_dict"):
            sub.upgrade_state_dict(state, f"{name}." if name else "")
    expected = module.state_dict()
    mismatched = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(t.shape)}"
        for k, t in expected.items()
        if k in state and state[k].shape != t.shape
    ]
    problems = [f"  shape mismatches ({len(mismatched)}): {_shorten(mismatched)}"] if mismatched else []
    if strict:
        missing = [k for k in expected if k not in state]
        unexpected = [k for k in state if k not in expected]
        if missing:
            problems.append(f"  missing from the weights ({len(missing)}): {_shorten(missing)}")
        if unexpected:
            problems.append(f"  unexpected in the weights ({len(unexpected)}): {_shorten(unexpected)}")
    if problems:
        where = f" (prefix {prefix!r}, {len(state)} of {len(state_dict)} entries matched it)" if prefix else ""
        raise WeightsError(f"weights do not fit {type(module).__name__}{where}:\n" + "\n".join(problems))

    on_meta = any(t.is_meta for t in itertools.chain(module.parameters(), module.buffers()))
    if on_meta:
        state = {k: _cast_like(v, expected[k]) if k in expected else v for k, v in state.items()}
    return module.load_state_dict(state, strict=strict, assign=on_meta)
