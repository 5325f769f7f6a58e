"""The benchmark scripts stay runnable: each imports and parses its command line, and the shared helper
writes the JSON they report."""

from __future__ import annotations

import json
import math
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if p.name != "common.py")


@pytest.fixture
def bench_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))  # what `python bench/NAME.py` does
    yield
    sys.modules.pop("common", None)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_every_bench_script_prints_its_help(script, bench_on_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [str(script), "--help"])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(script), run_name="__main__")
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage:") and "--json" in out


def test_model_arguments_and_json_from_the_shared_helper(bench_on_path, tmp_path, capsys):
    from common import add_model_arguments, bench_parser, model_fields, write_json

    parser = bench_parser("First paragraph\nof the doc.\n\nDetails that stay out.")
    add_model_arguments(parser, preset="moviegen-tae-tiny")
    args = parser.parse_args(["--weights", "w.safetensors", "-o", "a=1", "-o", "b=2"])
    assert (args.preset, args.weights, args.override) == ("moviegen-tae-tiny", "w.safetensors", ["a=1", "b=2"])
    assert parser.description == "First paragraph\nof the doc."
    assert model_fields(args) == {"preset": "moviegen-tae-tiny", "weights": "w.safetensors", "overrides": ["a=1", "b=2"]}

    no_weights = bench_parser(None)
    add_model_arguments(no_weights, weights=False)
    assert not hasattr(no_weights.parse_args([]), "weights")
    with pytest.raises(SystemExit):
        no_weights.parse_args(["--weights", "w"])
    assert model_fields(no_weights.parse_args(["-o", "a=1"])) == {"preset": "moviegen-video-tiny", "overrides": ["a=1"]}

    path = write_json(tmp_path / "deep" / "out.json", {"rows": [1, 2]})
    assert json.loads(path.read_text()) == {"rows": [1, 2]}
    assert [p.name for p in path.parent.iterdir()] == ["out.json"]  # the atomic write's temp file is gone
    assert f"wrote {path}" in capsys.readouterr().out


def test_load_model_applies_the_preset_weights_and_overrides(bench_on_path):
    from safetensors.torch import load_file

    from common import add_model_arguments, bench_parser, load_model

    parser = bench_parser(None)
    add_model_arguments(parser, preset="moviegen-tae-tiny")
    args = parser.parse_args(["-o", "components.autoencoder.temporal_tile_frames=64",
                              "-o", "components.autoencoder.temporal_tile_overlap=32"])
    tae = load_model(args).autoencoder
    assert (tae.params.temporal_tile_frames, tae.params.temporal_tile_overlap) == (64, 32)
    shipped = load_file(str(ROOT / "zoo" / "weights" / "moviegen-tae-tiny.safetensors"))
    key = "autoencoder.decoder.conv_in.spatial.weight"
    assert torch.equal(tae.state_dict()[key.removeprefix("autoencoder.")], shipped[key])


def test_sampling_bench_records_one_velocity_per_solver_step(bench_on_path):
    from sampling import VelocityRecorder

    from zoo.flow.schedules import LinearSchedule

    recorder = VelocityRecorder(LinearSchedule(4), guidance=1.0, guidance_interval=None)
    noise = torch.zeros(2, 3)
    out = recorder.sample(lambda x, t, cond: torch.ones_like(x) * (1 + t[:, None]), noise, cond=None)
    assert recorder.velocities().shape == (4, 2, 3)
    assert torch.allclose(out, torch.full((2, 3), 1 + (0 + 0.25 + 0.5 + 0.75) / 4))


# The smallest budget each script accepts, so a run exercises its whole path (model, loop, table, JSON)
# in seconds; the figures it prints mean nothing at this size.
TINY_RUNS = {
    "attribute_latent_gap": ["--count", "1"],
    "attributes_by_start_time": ["--count", "1", "--steps-per-unit", "4"],
    "autoguidance": ["--guide-weights", "zoo://weights/moviegen-video-tiny.safetensors", "--scales", "1,1.5",
                     "--count", "1", "--seeds", "0", "--steps", "2"],
    "direction_learning": ["--steps", "2", "--every", "1", "--means", "0.0"],
    "mfu": ["--steps", "1", "--warmup", "0"],
    "motion_breakdown": ["--count", "1", "--seeds", "0", "--steps", "2"],
    "pan_texture": ["--count", "1"],
    "prompt_sensitivity": ["--clips", "1"],
    "sampling": ["--seeds", "0", "--reference-steps", "40", "--prompts", "1", "--schedules", "linear-25"],
    "tae_readout": ["--count", "1"],
    "train_heldout_loss": ["--clips", "1"],
    "train_overhead": ["--steps", "2", "--warmup", "1", "--rounds", "1", "--batch-size", "1", "--frames", "2"],
}
UNTIMED = {"tae_tiling"}  # times fresh processes per case: its run is the measurement, tens of seconds


def test_every_bench_script_has_a_tiny_run_or_says_why():
    assert {p.stem for p in SCRIPTS} == set(TINY_RUNS) | UNTIMED


@pytest.mark.parametrize("name", sorted(TINY_RUNS))
def test_bench_script_runs_on_a_tiny_budget_and_writes_its_json(name, bench_on_path, monkeypatch, tmp_path):
    out = tmp_path / f"{name}.json"
    monkeypatch.setattr(sys, "argv", [name, *TINY_RUNS[name], "--json", str(out)])
    runpy.run_path(str(BENCH / f"{name}.py"), run_name="__main__")
    result = json.loads(out.read_text())
    numbers = list(numbers_in(result))
    assert isinstance(result, dict) and numbers, result
    assert all(math.isfinite(n) for n in numbers), result  # a broken computation reports NaN or inf


def numbers_in(value) -> Iterator[float]:
    """Every number in a JSON value, depth first (booleans are not numbers here)."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            yield from numbers_in(item)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield float(value)
