"""Benchmark prompt sets as registered datasets: Movie Gen Video Bench, Movie Gen Audio Bench, Shapes-world held-out.

Each set is a map-style torch Dataset of small dicts, the same on every run:

* ``moviegen-video-bench``: the 1003 prompts of Movie Gen Video Bench with their ``concept`` tags and
  ``motion_level``, read from ``MovieGenVideoBenchWithTag.csv``;
  items ``{"key", "prompt", "tags": list[str], "motion_level": "low" | "medium" | "high"}``.
* ``moviegen-audio-bench``: the 527 sound-effect (``sfx``) or sound-effect-and-music (``sfx-music``)
  items of Movie Gen Audio Bench; items ``{"key", "id", "video_prompt", "audio_prompt"[, "music_prompt"]}``.
* ``shapes-world-bench``: the held-out Shapes-world prompts of :mod:`zoo.data.shapes_world.bench`;
  items ``{"key", "prompt", "attributes"}`` with the ground-truth attributes.

The Movie Gen files are read through fsspec from a folder ``location`` (default: the upstream
repository at a pinned commit; ``zoo://benchmarks/moviegenbench`` for the copy shipped in the package;
any local path or fsspec URL holding copies of the files) and checked against the sha256 of the
released files. Every set filters first, then keeps the first ``limit``
items, then splits them across ranks: rank ``r`` of ``world`` gets items ``r, r + world, ...``.

Movie Gen Bench is Meta's, licensed CC BY-NC 4.0 (non-commercial use, with attribution; see
``docs/prompt-sets.md``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from typing import Any, Literal

import fsspec
from pydantic import Field, PositiveInt, field_validator, model_validator
from torch.utils.data import Dataset

from zoo.data.batches import _rank_and_world
from zoo.data.shapes_world.bench import BENCH_SEED, heldout_prompts
from zoo.errors import OfflineError, ZooError, did_you_mean
from zoo.io.uri import is_remote, offline_reason, package_file
from zoo.registry import register
from zoo.spec.params import Params

MOVIEGENBENCH_COMMIT = "bab7753fce1108def167a1efb4c1ae1d69b8f03a"
"""The facebookresearch/MovieGenBench commit the default location and the known checksums refer to."""

MOVIEGENBENCH_LOCATION = (
    f"https://raw.githubusercontent.com/facebookresearch/MovieGenBench/{MOVIEGENBENCH_COMMIT}/benchmark/"
)
"""Default ``location``: the ``benchmark/`` folder of the upstream repository at :data:`MOVIEGENBENCH_COMMIT`."""

KNOWN_SHA256: dict[str, str] = {
    "MovieGenVideoBench.txt": "ae02a4bbebcb55067dbeea369e43d52a4817d57fd0ac223071b9aa236ac027c4",
    "MovieGenVideoBenchWithTag.csv": "9d893204f271c7db1ed13c6513c8cc6f4630e9bb62de448c6e93d49e37653fbf",
    "MovieGenAudioBenchSfx.jsonl": "6e86e6ef12bb6c8f0f1410262a626386d4a539b0000075fc73ba345d02e38acc",
    "MovieGenAudioBenchSfxMusic.jsonl": "e560c60c07094dbff26f2448ae4aefefce8a1ef216fc88d3898a7d539faa2fed",
}
"""sha256 of the files as released at :data:`MOVIEGENBENCH_COMMIT`."""

VIDEO_BENCH_FILE = "MovieGenVideoBenchWithTag.csv"
AUDIO_BENCH_FILES: dict[str, str] = {
    "sfx": "MovieGenAudioBenchSfx.jsonl",
    "sfx-music": "MovieGenAudioBenchSfxMusic.jsonl",
}
MOTION_LEVELS: tuple[str, ...] = ("low", "medium", "high")


class PromptSetError(ZooError):
    """A prompt file that cannot be found, read or parsed, or fails its checksum; a filter naming an unknown tag."""


# --- reading files ------------------------------------------------------------------------------------


PACKAGED_LOCATION = "zoo://benchmarks/moviegenbench"
"""The copy of the four files shipped inside the package (with their license note), for offline runs."""


def file_url(location: str, name: str) -> str:
    """``location`` (a folder path or URL, with or without a trailing slash) joined with a file ``name``.

    ``zoo://`` names a folder inside the installed package, e.g. :data:`PACKAGED_LOCATION`.
    """
    if location.startswith("zoo://"):
        location = str(package_file(location))
    return f"{location.rstrip('/')}/{name}"


def read_prompt_file(location: str, name: str, sha256: str | None) -> str:
    """The UTF-8 text of ``location/name`` read through fsspec, checked against ``sha256`` unless it is None.

    Raises :class:`PromptSetError` naming the URL for a missing or unreadable file or a checksum
    mismatch, and :class:`~zoo.errors.OfflineError` for a remote URL while the offline switch is on.
    """
    url = file_url(location, name)
    reason = offline_reason()
    if reason is not None and is_remote(url):
        raise OfflineError(
            f"{url}: a remote prompt file and the offline switch is on ({reason}); "
            "set `location` to a folder holding a local copy"
        )
    try:
        with fsspec.open(url, "rb") as handle:
            data = handle.read()
    except FileNotFoundError as error:
        raise PromptSetError(
            f"{url}: file not found; `location` must be a folder holding {name} "
            f"(a copy of benchmark/ of facebookresearch/MovieGenBench at {MOVIEGENBENCH_COMMIT[:8]})"
        ) from error
    except (OSError, ValueError, ImportError) as error:  # network errors, unknown protocols, missing backends
        raise PromptSetError(f"{url}: cannot read ({type(error).__name__}: {error})") from error
    if sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise PromptSetError(
                f"{url}: sha256 mismatch: expected {sha256}, got {actual}; the file differs from the "
                "released one (set `sha256` to the new digest, or to null to skip the check)"
            )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise PromptSetError(f"{url}: not UTF-8 text ({error})") from error


def _expected_sha256(sha256: str | None, name: str) -> str | None:
    return KNOWN_SHA256[name] if sha256 == "known" else sha256


# --- params shared by every set -----------------------------------------------------------------------


class PromptSetParams(Params):
    """How many items, and which of them this rank gets."""

    limit: PositiveInt | None = Field(None, description="Keep the first `limit` items after filtering; None = all.")
    rank: int | None = Field(
        None, ge=0, description="This rank's shard; None = torch.distributed's rank when initialised, else 0."
    )
    world: PositiveInt | None = Field(
        None, description="Number of shards; None = torch.distributed's world size when initialised, else 1."
    )

    @model_validator(mode="after")
    def _check_shard(self) -> PromptSetParams:
        if (self.rank is None) != (self.world is None):
            raise ValueError("give both `rank` and `world`, or neither (then torch.distributed decides)")
        if self.rank is not None and self.world is not None and self.rank >= self.world:
            raise ValueError(f"rank {self.rank} is out of range for world {self.world}")
        return self

    def shard(self) -> tuple[int, int]:
        """``(rank, world)``: the explicit fields, else torch.distributed's, else ``(0, 1)``."""
        if self.rank is not None and self.world is not None:
            return self.rank, self.world
        return _rank_and_world()


class MovieGenBenchSource(PromptSetParams):
    """Where the Movie Gen Bench files are, and their expected checksum."""

    location: str = Field(
        MOVIEGENBENCH_LOCATION,
        description="Folder holding the Movie Gen Bench files: a local path or any fsspec URL "
        "(default: the upstream benchmark/ folder at the pinned commit).",
    )
    sha256: str | None = Field(
        "known",
        description="Expected sha256 of the file read: 'known' = the released file's, "
        "or 64 hex digits, or null to skip the check.",
    )

    @field_validator("sha256")
    @classmethod
    def _check_sha256(cls, value: str | None) -> str | None:
        if value is None or value == "known":
            return value
        digest = value.strip().lower().removeprefix("sha256:")
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"sha256 must be 'known', null or 64 hex digits, got {value!r}")
        return digest


# --- the datasets -------------------------------------------------------------------------------------


class PromptSet(Dataset):
    """A fixed list of prompt items; this rank's share of the set after filtering and ``limit``.

    ``total`` is the size of the whole (filtered, limited) set before splitting across ranks.
    """

    def __init__(self, items: list[dict[str, Any]], params: PromptSetParams):
        self.params = params
        self.total = len(items)
        self.rank, self.world = params.shard()
        self.items = items[self.rank :: self.world]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self.items) <= index < len(self.items):
            raise IndexError(f"index {index} out of range for {len(self.items)} prompts")
        item = self.items[index]
        return {key: list(value) if isinstance(value, list) else value for key, value in item.items()}

    @property
    def keys(self) -> list[str]:
        """The keys of this rank's items, in order."""
        return [item["key"] for item in self.items]


def _limited(items: list[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    return items if limit is None else items[:limit]


class MovieGenVideoBenchParams(MovieGenBenchSource):
    """Movie Gen Video Bench prompts, optionally filtered by concept tag and motion level."""

    tags: list[str] | None = Field(
        None,
        min_length=1,
        description="Keep prompts having any of these concept tags (e.g. 'camera motion'); None = all.",
    )
    motion_levels: list[Literal["low", "medium", "high"]] | None = Field(
        None, min_length=1, description="Keep prompts of these motion levels; None = all."
    )


def parse_video_bench(text: str, url: str = VIDEO_BENCH_FILE) -> list[dict[str, Any]]:
    """Rows of ``MovieGenVideoBenchWithTag.csv`` as items; the key is the 0-based row, ``"0000"`` .. ``"1002"``."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = {"prompt", "concept", "motion_level"} - set(reader.fieldnames or ())
    if missing:
        raise PromptSetError(f"{url}: missing column(s) {sorted(missing)}; found {reader.fieldnames}")
    items = []
    for row_index, row in enumerate(reader):
        tags = [tag.strip() for tag in (row["concept"] or "").split(",") if tag.strip()]
        motion_level = (row["motion_level"] or "").strip()
        if motion_level not in MOTION_LEVELS:
            raise PromptSetError(
                f"{url}: row {row_index + 2}: motion_level {motion_level!r} is not one of {MOTION_LEVELS}"
            )
        items.append({"key": f"{row_index:04d}", "prompt": row["prompt"], "tags": tags, "motion_level": motion_level})
    return items


class MovieGenVideoBench(PromptSet):
    """Movie Gen Video Bench: items ``{"key", "prompt", "tags", "motion_level"}``."""

    def __init__(self, params: MovieGenVideoBenchParams):
        url = file_url(params.location, VIDEO_BENCH_FILE)
        items = parse_video_bench(
            read_prompt_file(params.location, VIDEO_BENCH_FILE, _expected_sha256(params.sha256, VIDEO_BENCH_FILE)),
            url,
        )
        if params.tags is not None:
            known = sorted({tag for item in items for tag in item["tags"]})
            unknown = [tag for tag in params.tags if tag not in known]
            if unknown:
                hints = "; ".join(f"'{tag}': {did_you_mean(tag, known) or 'no close match'}" for tag in unknown)
                raise PromptSetError(f"{url}: unknown tag(s) {unknown} ({hints}). Tags: {', '.join(known)}")
            wanted = set(params.tags)
            items = [item for item in items if wanted.intersection(item["tags"])]
        if params.motion_levels is not None:
            items = [item for item in items if item["motion_level"] in params.motion_levels]
        super().__init__(_limited(items, params.limit), params)


class MovieGenAudioBenchParams(MovieGenBenchSource):
    """Movie Gen Audio Bench items of one variant."""

    variant: Literal["sfx", "sfx-music"] = Field(
        "sfx", description="'sfx': sound effects only; 'sfx-music': sound effects plus background music."
    )


def parse_audio_bench(text: str, variant: str, url: str = "") -> list[dict[str, Any]]:
    """Lines of an audio-bench JSONL file as items; the key is the upstream ``id``, ``"000"`` .. ``"537"``."""
    fields = ("video_prompt", "audio_prompt") + (("music_prompt",) if variant == "sfx-music" else ())
    items = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise PromptSetError(f"{url}: line {line_number}: not JSON ({error})") from error
        missing = [name for name in ("id", *fields) if name not in record]
        if missing:
            raise PromptSetError(f"{url}: line {line_number}: missing field(s) {missing}")
        items.append({"key": f"{int(record['id']):03d}", "id": int(record["id"]), **{f: record[f] for f in fields}})
    return items


class MovieGenAudioBench(PromptSet):
    """Movie Gen Audio Bench: items ``{"key", "id", "video_prompt", "audio_prompt"[, "music_prompt"]}``."""

    def __init__(self, params: MovieGenAudioBenchParams):
        name = AUDIO_BENCH_FILES[params.variant]
        text = read_prompt_file(params.location, name, _expected_sha256(params.sha256, name))
        items = parse_audio_bench(text, params.variant, file_url(params.location, name))
        super().__init__(_limited(items, params.limit), params)


class ShapesWorldBenchParams(PromptSetParams):
    """Held-out Shapes-world prompts (combinations of shape, colour and motion training never showed)."""

    count: PositiveInt = Field(64, description="Number of prompts generated (before `limit`).")
    seed: int = Field(BENCH_SEED, ge=0, description="World seed of the benchmark; training recipes use other seeds.")
    frames: int = Field(16, ge=2, description="Frames per clip the attributes refer to (motions need >= 2).")
    height: int = Field(64, ge=32, description="Frame height in pixels the attributes refer to (even).")
    width: int = Field(64, ge=32, description="Frame width in pixels the attributes refer to (even).")

    @model_validator(mode="after")
    def _even(self) -> ShapesWorldBenchParams:
        if self.height % 2 or self.width % 2:
            raise ValueError(f"height and width must be even, got {self.height}x{self.width}")
        return self


class ShapesWorldBench(PromptSet):
    """Held-out Shapes-world prompts: items ``{"key", "prompt", "attributes"}``."""

    def __init__(self, params: ShapesWorldBenchParams):
        count = min(params.count, params.limit) if params.limit is not None else params.count
        prompts = heldout_prompts(
            count, seed=params.seed, frames=params.frames, height=params.height, width=params.width
        )
        items = [{"key": p.key, "prompt": p.prompt, "attributes": p.attributes} for p in prompts]
        super().__init__(items, params)


@register(
    "dataset",
    "moviegen-video-bench",
    params=MovieGenVideoBenchParams,
    description="The 1003 Movie Gen Video Bench prompts with concept tags and motion levels (CC BY-NC 4.0).",
)
def build_moviegen_video_bench(p: MovieGenVideoBenchParams) -> MovieGenVideoBench:
    return MovieGenVideoBench(p)


@register(
    "dataset",
    "moviegen-audio-bench",
    params=MovieGenAudioBenchParams,
    description="The 527 Movie Gen Audio Bench items, sound effects or sound effects plus music (CC BY-NC 4.0).",
)
def build_moviegen_audio_bench(p: MovieGenAudioBenchParams) -> MovieGenAudioBench:
    return MovieGenAudioBench(p)


@register(
    "dataset",
    "shapes-world-bench",
    params=ShapesWorldBenchParams,
    description="Held-out Shapes-world prompts with their ground-truth attributes.",
)
def build_shapes_world_bench(p: ShapesWorldBenchParams) -> ShapesWorldBench:
    return ShapesWorldBench(p)
