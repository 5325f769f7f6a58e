"""What the benchmark scripts share: their command line's model arguments and the JSON they write.

The scripts run as ``python bench/NAME.py``, which puts ``bench/`` on ``sys.path``, so they import this
module as ``common``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import zoo
from zoo.data.shapes_world.vocabulary import TEXTURE_AMPLITUDE, TEXTURE_CELL
from zoo.io.atomic import atomic_write
from zoo.pipeline import Pipeline


def bench_parser(doc: str | None) -> argparse.ArgumentParser:
    """A parser whose description is the first paragraph of the script's docstring."""
    return argparse.ArgumentParser(description=(doc or "").split("\n\n")[0].strip())


def add_model_arguments(parser: argparse.ArgumentParser, preset: str = "moviegen-video-tiny",
                        preset_help: str = "The preset to load.", weights: bool = True) -> None:
    """``--preset``, ``--weights`` (unless ``weights=False``) and repeatable ``-o KEY=VALUE`` overrides."""
    parser.add_argument("--preset", default=preset, help=preset_help)
    if weights:
        parser.add_argument("--weights", default=None, help="Weights URI replacing the preset's.")
    parser.add_argument("-o", "--override", action="append", default=[], help="Spec override KEY=VALUE.")


def load_model(args: argparse.Namespace) -> Pipeline:
    """The pipeline that :func:`add_model_arguments`' options name: preset, weights, overrides."""
    return zoo.load(args.preset, overrides=args.override, weights=getattr(args, "weights", None))


def model_fields(args: argparse.Namespace) -> dict[str, Any]:
    """What a results file records of the model: ``preset``, ``weights`` (when the script takes it), ``overrides``."""
    fields: dict[str, Any] = {"preset": args.preset}
    if hasattr(args, "weights"):
        fields["weights"] = args.weights
    fields["overrides"] = args.override
    return fields


def add_texture_arguments(parser: argparse.ArgumentParser) -> None:
    """``--texture-cell`` (pixels) and ``--texture-amplitude`` (grey levels): the Shapes world's background texture."""
    parser.add_argument("--texture-cell", type=int, default=TEXTURE_CELL, help="The world's texture cell side, pixels.")
    parser.add_argument("--texture-amplitude", type=float, default=TEXTURE_AMPLITUDE,
                        help="The world's texture step, grey levels.")


def texture_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The ``sample`` keywords (and JSON fields) of :func:`add_texture_arguments`."""
    return {"texture_cell": args.texture_cell, "texture_amplitude": args.texture_amplitude}


def write_json(path: str | Path, result: dict[str, Any]) -> Path:
    """Write ``result`` as indented JSON at ``path`` (parents made), say so, and return the path.

    The write is atomic (:func:`zoo.io.atomic.atomic_write`), like the recipes' reports: a run stopped
    while writing leaves the previous results file whole.
    """
    path = Path(path)
    with atomic_write(path, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    return path
