"""Video shards: write and read webdataset tar shards of ``{key}.mp4`` + ``{key}.json`` samples.

A shard is a tar file whose members are ``<key>.<extension>``; one sample is all members sharing a
key. Shards live on a local disk or behind any fsspec URL (``memory://``, ``s3://``, ``gs://`` ...).

* :func:`write_shards` streams samples into ``maxcount``-sized shards, each written under a temporary
  name and moved into place when complete, so a failed run leaves only finished shards.
* :func:`shard_urls` expands ``shard-{000000..000003}.tar``, lists a directory or prefix, or takes a list.
* :class:`ShardDataset` (:func:`read_shards`) is a ``torch.utils.data.IterableDataset`` that splits
  shards across ranks and DataLoader workers and skips (and counts) unreadable samples.

Keys must not contain dots: webdataset splits a member name at the first dot of its last path
part, so ``clip.v1.mp4`` would come back as key ``clip`` with extension ``v1.mp4``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import posixpath
import random
import uuid
import warnings
from dataclasses import dataclass
from typing import IO, Any, Iterable, Iterator, Sequence

import fsspec
import webdataset as wds
from braceexpand import braceexpand
from torch.utils.data import IterableDataset

from zoo.io.atomic import atomic_write
from zoo.io.uri import protocols
from zoo.io.video import decode_mp4, frames_to_video

SHARD_SUFFIXES: tuple[str, ...] = (".tar", ".tar.gz", ".tgz")
"""File name endings that :func:`shard_urls` lists as shards."""

VIDEO_MEMBERS: tuple[str, ...] = ("mp4", "json")
"""Members every video sample has."""

_GLOB_CHARS = frozenset("*?[")
_WARN_FIRST = 10  # warn on each of the first skips, then on every _WARN_EVERY-th
_WARN_EVERY = 100


# --- fsspec URLs for webdataset -----------------------------------------------------------------------


def _fsspec_gopen(url: str, mode: str = "rb", bufsize: int = 8192, **kwargs: Any) -> IO[bytes]:
    """A ``webdataset.gopen`` handler that opens ``url`` through fsspec (``bufsize`` is fsspec's to choose)."""
    return fsspec.open(url, mode).open()


def register_fsspec_schemes() -> None:
    """Let webdataset open every URL scheme fsspec knows (``memory://``, ``s3://``, ``gs://``, ``hf://`` ...).

    webdataset ships handlers for a few schemes only (``http``/``gs`` through the ``curl``/``gsutil``
    programs); every fsspec protocol is routed through fsspec instead, so shards use the same
    filesystems and credentials as :mod:`zoo.io.uri`. Plain paths and ``file://`` stay with
    webdataset's own local opener. Idempotent; call it again after installing a new fsspec backend.
    """
    for protocol in fsspec.available_protocols():
        wds.gopen_schemes[protocol] = _fsspec_gopen


# --- listing ------------------------------------------------------------------------------------------


def _is_local(url: str) -> bool:
    return protocols(url) == ("file",)


def _is_shard_name(path: str) -> bool:
    name = posixpath.basename(path.rstrip("/"))
    return name.endswith(SHARD_SUFFIXES) and not name.startswith(".")  # ".x.tar.<id>.tmp" are unfinished


def _list_shards(source: str) -> list[str]:
    """Shards in a directory, under a prefix or matching a glob; directory and prefix results keep
    ``source``'s spelling (``memory://b/x.tar``, not fsspec's ``memory:///b/x.tar``)."""
    fs, path = fsspec.core.url_to_fs(source)
    if _GLOB_CHARS & set(path):
        found = sorted(p for p in fs.glob(path) if _is_shard_name(p))
        if _is_local(source):
            return [f"file://{p}" if source.startswith("file://") else p for p in found]
        return [fs.unstrip_protocol(p) for p in found]
    if fs.isfile(path):
        return [source]
    if fs.isdir(path):
        folder, found = source.rstrip("/") + "/", fs.ls(path, detail=False)
    else:  # a prefix such as "s3://bucket/train/shard-"
        folder, found = source[: source.rfind("/") + 1], fs.glob(path + "*")
    return sorted(folder + posixpath.basename(p.rstrip("/")) for p in found if _is_shard_name(p))


def shard_urls(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str]:
    """Expand ``source`` into a list of shard URLs (or paths).

    ``source`` is a brace pattern (``"data/shard-{000000..000003}.tar"``, not checked for existence),
    a directory, a prefix (``"s3://bucket/train/shard-"``) or a glob, all listed through fsspec
    (files ending in :data:`SHARD_SUFFIXES`, sorted; hidden temporary files skipped), or an explicit
    list whose items may use braces. Raises ``FileNotFoundError`` when nothing is found.
    """
    if isinstance(source, (list, tuple)):
        urls = [url for item in source for url in braceexpand(os.fspath(item))]
    else:
        text = os.fspath(source)
        urls = list(braceexpand(text)) if "{" in text else _list_shards(text)
    if not urls:
        raise FileNotFoundError(f"no shards found at {source!r}")
    return urls


# --- writing ------------------------------------------------------------------------------------------


def _encode_member(key: str, extension: str, value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (dict, list)):
        return json.dumps(value).encode("utf-8")
    raise ValueError(f"sample {key!r}: {extension!r} must be bytes, str or a JSON dict/list, got {type(value)}")


def _encode_sample(sample: dict[str, Any], required: Sequence[str] = VIDEO_MEMBERS) -> dict[str, Any]:
    """Validate one sample and turn it into ``{"__key__": key, extension: bytes}`` for ``TarWriter``."""
    key = sample.get("__key__")
    if not isinstance(key, str) or not key or "." in key:
        raise ValueError(f"sample key {key!r}: keys must be non-empty strings without dots")
    missing = [extension for extension in required if extension not in sample]
    if missing:
        raise ValueError(f"sample {key!r}: missing member(s) {missing}")
    if "mp4" in required and not isinstance(sample.get("mp4"), (bytes, bytearray, memoryview)):
        raise ValueError(f"sample {key!r}: 'mp4' must be the encoded video bytes")
    if "json" in required and not isinstance(sample.get("json"), dict):
        raise ValueError(f"sample {key!r}: 'json' must be a dict")
    encoded: dict[str, Any] = {"__key__": key}
    for extension, value in sample.items():
        if extension.startswith("_"):  # __key__ and webdataset metadata (__url__ ...) are not members
            continue
        if extension != extension.lower():
            raise ValueError(f"sample {key!r}: extension {extension!r} must be lower case (readers lower-case it)")
        encoded[extension] = _encode_member(key, extension, value)
    return encoded


@contextlib.contextmanager
def _shard_file(url: str) -> Iterator[IO[bytes]]:
    """A binary file that appears under ``url`` only if the block completes.

    Local: :func:`zoo.io.atomic.atomic_write` (fsynced temp file + ``os.replace``). fsspec: a hidden
    temporary name in the same folder, then ``fs.mv``, which object stores perform as a copy, so the
    final object appears complete or not at all. On an error the temporary file is removed.
    """
    if _is_local(url):
        with atomic_write(url[len("file://") :] if url.startswith("file://") else url) as handle:
            yield handle
        return
    fs, path = fsspec.core.url_to_fs(url)
    folder, name = posixpath.split(path)
    temp = posixpath.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.tmp")
    handle = fs.open(temp, "wb")
    try:
        yield handle
        handle.close()
        fs.mv(temp, path)
    except BaseException:
        with contextlib.suppress(Exception):
            handle.close()
        with contextlib.suppress(Exception):
            fs.rm(temp)
        raise


def write_shards(
    samples: Iterable[dict[str, Any]],
    pattern: str,
    maxcount: int = 64,
    *,
    required: Sequence[str] = VIDEO_MEMBERS,
    start: int = 0,
) -> list[str]:
    """Write samples into tar shards named ``pattern % index`` with at most ``maxcount`` samples each.

    A sample is ``{"__key__": str without dots, "mp4": bytes, "json": dict, <ext>: bytes | str | dict}``;
    ``required`` names the members every sample must have (other kinds of shards, such as cached
    latents, pass their own). The first shard gets index ``start``.
    ``pattern`` is a printf pattern, local or fsspec: ``"out/shard-%06d.tar"``,
    ``"memory://bucket/shard-%06d.tar"``. Each shard is written under a temporary name and moved into
    place when complete; an exception (a bad sample, a failing iterator) removes the shard in progress
    and propagates, leaving the shards finished before it. Members get mtime 0 so equal samples give
    byte-identical shards; names ending in ``.tar.gz``/``.tgz`` are gzip-compressed. Returns the URLs
    written, in order (none for no samples).
    """
    if maxcount < 1:
        raise ValueError(f"maxcount must be >= 1, got {maxcount}")
    try:
        names_differ = pattern % 0 != pattern % 1
    except TypeError as error:
        raise ValueError(f"shard pattern {pattern!r} needs one integer field such as %06d ({error})") from error
    if not names_differ:
        raise ValueError(f"shard pattern {pattern!r} needs one integer field such as %06d")

    # Hand-rolled instead of webdataset.ShardWriter: ShardWriter opens the first shard before any
    # sample arrives and, on an exception, closes the partial shard under its final name.
    remaining = iter(samples)
    written: list[str] = []
    for index in itertools.count(start):
        first = next(remaining, None)
        if first is None:
            return written
        url = pattern % index
        with _shard_file(url) as handle:
            tar = wds.TarWriter(handle, compress=url.endswith((".gz", ".tgz")), encoder=False, mtime=0)
            try:
                for sample in itertools.chain([first], itertools.islice(remaining, maxcount - 1)):
                    tar.write(_encode_sample(sample, required))
            finally:  # end-of-archive blocks; on an error, also stops tarfile writing to a closed file later
                tar.close()  # the handle itself stays open for _shard_file
        written.append(url)
    raise AssertionError("unreachable")  # itertools.count() never ends


# --- reading ------------------------------------------------------------------------------------------


class ShardReadWarning(UserWarning):
    """A sample or a shard could not be read and was skipped."""


@dataclass
class ShardStats:
    """Counts for one :class:`ShardDataset` in one process (each DataLoader worker keeps its own)."""

    samples: int = 0
    """Samples yielded."""
    skipped: int = 0
    """Samples dropped while decoding: bad mp4, bad json, a missing mp4/json member."""
    read_errors: int = 0
    """Errors while opening or reading a shard (missing file, truncated tar); the rest of that shard is lost."""


def _epoch_seed(seed: int, epoch: int) -> int:
    return seed * 1_000_003 + epoch


class ShardDataset(IterableDataset):
    """Samples from webdataset shards: ``{"key", "video" (3, T, H, W) float in [-1, 1], "fps", "json"}``.

    With ``decode_video=False`` a sample holds the raw ``"mp4"`` bytes instead of ``"video"``/``"fps"``.
    Shards are split across ranks (``RANK``/``WORLD_SIZE`` or ``torch.distributed``) and then across
    DataLoader workers, so every shard is read by exactly one worker of one rank; a worker with no
    shard yields nothing (``memory://`` shards reach forked workers only, if written before the fork).
    ``shuffle=n`` permutes the shard list by ``(seed, epoch)`` (identically on
    every rank, so the split stays disjoint) and shuffles samples in a buffer of ``n`` undecoded
    samples; call :meth:`set_epoch` each epoch. Unreadable samples and shards are skipped, counted in
    :attr:`stats` and reported as :class:`ShardReadWarning` (the first 10, then every 100th).
    """

    def __init__(
        self,
        urls: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        shuffle: int | bool = False,
        decode_video: bool = True,
        seed: int = 0,
        epoch: int = 0,
    ) -> None:
        super().__init__()
        if shuffle is True or (shuffle is not False and shuffle < 1):
            raise ValueError(f"shuffle must be False or a buffer size >= 1, got {shuffle!r}")
        self.urls = shard_urls(urls)
        self.shuffle = shuffle
        self.decode_video = decode_video
        self.seed = seed
        self.epoch = epoch
        self.stats = ShardStats()

    def set_epoch(self, epoch: int) -> None:
        """Select the shuffle order of ``epoch`` (no effect without ``shuffle``)."""
        self.epoch = epoch

    def _warn(self, message: str) -> None:
        count = self.stats.skipped + self.stats.read_errors
        if count <= _WARN_FIRST or count % _WARN_EVERY == 0:
            warnings.warn(f"{message} [{count} skipped so far]", ShardReadWarning, stacklevel=2)

    def _on_read_error(self, error: Exception) -> bool:
        """webdataset handler: count, warn, continue (``wds.warn_and_continue`` sleeps 0.5 s and counts nothing)."""
        self.stats.read_errors += 1
        self._warn(f"shard read error, rest of the shard skipped: {error!r}")
        return True

    def _decode(self, raw: dict[str, Any]) -> dict[str, Any]:
        missing = [extension for extension in ("mp4", "json") if extension not in raw]
        if missing:
            raise ValueError(f"missing member(s) {missing}")
        meta = json.loads(raw["json"])
        if not isinstance(meta, dict):
            raise ValueError(f"json is a {type(meta).__name__}, not an object")
        sample: dict[str, Any] = {"key": raw["__key__"], "json": meta}
        if self.decode_video:
            frames, fps = decode_mp4(raw["mp4"])
            sample["video"], sample["fps"] = frames_to_video(frames), fps
        else:
            sample["mp4"] = raw["mp4"]
        return sample

    def __iter__(self) -> Iterator[dict[str, Any]]:
        register_fsspec_schemes()  # again here: spawned DataLoader workers start with webdataset's table
        urls = list(self.urls)
        epoch_seed = _epoch_seed(self.seed, self.epoch)
        if self.shuffle:
            # Before the split, by hand: WebDataset shuffles shards only after splitting them, so
            # each rank would otherwise read the same shards every epoch.
            random.Random(epoch_seed).shuffle(urls)
        pipeline = wds.WebDataset(
            urls,
            shardshuffle=False,
            nodesplitter=wds.split_by_node,
            workersplitter=wds.split_by_worker,
            empty_check=False,
            handler=self._on_read_error,
        )
        if self.shuffle:
            pipeline.append(wds.detshuffle(self.shuffle, seed=epoch_seed))
        for raw in pipeline:
            try:
                sample = self._decode(raw)
            except Exception as error:  # any decoding failure drops this sample only
                self.stats.skipped += 1
                self._warn(f"{raw.get('__url__')}: skipped sample {raw.get('__key__')!r}: {error!r}")
                continue
            self.stats.samples += 1
            yield sample


def read_shards(
    urls: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    shuffle: int | bool = False,
    decode_video: bool = True,
    seed: int = 0,
    epoch: int = 0,
) -> ShardDataset:
    """A :class:`ShardDataset` over ``urls`` (anything :func:`shard_urls` accepts)."""
    return ShardDataset(urls, shuffle=shuffle, decode_video=decode_video, seed=seed, epoch=epoch)
