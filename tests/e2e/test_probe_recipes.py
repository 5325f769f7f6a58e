"""train-probe and train-clip end to end at toy sizes: outputs, reruns, resume, and the metrics that use them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from zoo.cli import main
from zoo.data.shapes_world.dataset import ShapesWorldDataset, ShapesWorldParams
from zoo.io.weights import sha256_file
from zoo.metrics.clip_score import VideoCLIPScore
from zoo.spec.params import component
from zoo.tasks.attribute_probe import OBJECT_HEADS, SCENE_HEADS

DATA = "{type: shapes-world, size: 64, frames: 4, height: 32, width: 32}"
VAL_DATA = "{type: shapes-world, size: 16, frames: 4, height: 32, width: 32, seed: 1}"
TRAINER = "{checkpoint_every_n_steps: 3, log_every_n_steps: 1, val_batches: 1, progress_bar: false}"

PROBE = f"""\
schema_version: 1
type: train-probe
name: probe
model: {{size: 32, widths: [8, 16]}}
data: {DATA}
val_data: {VAL_DATA}
steps: 3
batch_size: 4
trainer: {TRAINER}
output_dir: {{out}}
"""

CLIP = f"""\
schema_version: 1
type: train-clip
name: clip
model: {{image_size: 32, patch_size: 8, vision_width: 32, text_width: 32, context: 48, projection_dim: 16}}
data: {DATA}
val_data: {VAL_DATA}
steps: 3
batch_size: 4
trainer: {TRAINER}
output_dir: {{out}}
"""


def write(tmp_path: Path, text: str, out: Path) -> Path:
    path = tmp_path / f"{out.name}.yaml"
    path.write_text(text.replace("{out}", str(out)))
    return path


def snapshot(directory: Path) -> dict[str, int]:
    """Modification times of every file under ``directory``."""
    return {str(p.relative_to(directory)): p.stat().st_mtime_ns for p in sorted(directory.rglob("*")) if p.is_file()}


def shapes_clips(count: int = 4) -> tuple[torch.Tensor, list[str]]:
    data = ShapesWorldDataset(ShapesWorldParams(size=count, frames=4, height=32, width=32, seed=5))
    items = [data[i] for i in range(count)]
    return torch.stack([item["video"] for item in items]), [item["caption"] for item in items]


@pytest.fixture
def probe_run(tmp_path) -> tuple[Path, Path]:
    out = tmp_path / "probe-run"
    recipe = write(tmp_path, PROBE, out)
    assert main(["run", str(recipe)]) == 0
    return recipe, out


def test_probe_recipe_writes_weights_summary_logs_and_per_attribute_validation_accuracy(probe_run):
    _, out = probe_run
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 3 and summary["type"] == "train-probe"
    assert summary["sha256"] == sha256_file(out / "weights.safetensors")
    for head in (*OBJECT_HEADS, *SCENE_HEADS):
        assert 0.0 <= summary["metrics"][f"val/acc/{head}"] <= 1.0
    assert (out / "recipe.yaml").exists() and (out / "checkpoints" / "last.ckpt").exists()
    assert "train/loss" in (out / "logs" / "fit" / "metrics.csv").read_text()
    probe = component("video_features", "shapes-probe", size=32, widths=[8, 16],
                      weights=str(out / "weights.safetensors"), sha256=summary["sha256"]).build()
    videos, _ = shapes_clips()
    assert probe(videos).shape == (4, 32)


def test_probe_rerun_changes_nothing_and_resume_from_last_ckpt_restores_the_trained_weights(probe_run):
    recipe, out = probe_run
    before = snapshot(out)
    assert main(["run", str(recipe)]) == 0
    assert snapshot(out) == before
    digest = json.loads((out / "summary.json").read_text())["sha256"]
    (out / "summary.json").unlink()  # as if the run died after its last checkpoint
    (out / "weights.safetensors").unlink()
    assert main(["run", str(recipe)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 3 and summary["sha256"] == digest


def test_clip_recipe_exports_a_directory_that_clip_score_loads_and_scores_finitely(tmp_path):
    out = tmp_path / "clip-run"
    recipe = write(tmp_path, CLIP, out)
    assert main(["run", str(recipe)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    directory = Path(summary["directory"])
    assert directory == out / "clip"
    assert summary["sha256"] == sha256_file(directory / "model.safetensors")
    assert {"config.json", "model.safetensors", "tokenizer.json", "processor_config.json"} <= {
        p.name for p in directory.iterdir()}
    assert {"val/loss", "val/image_to_text_top1", "val/score_matched"} <= set(summary["metrics"])

    videos, captions = shapes_clips()
    metric = VideoCLIPScore(str(directory), frames=2)
    raw = metric.clip_scores(videos, captions)
    assert raw.shape == (4,) and torch.isfinite(raw).all() and (raw.abs() <= 100).all()
    metric.update(videos, captions)
    assert 0.0 <= float(metric.compute()) <= 100.0
    assert metric.backbone()["architecture"].startswith("CLIP ViT patch 8, 32 px, width 32")

    evaluator = component("metric", "clip-score", model=str(directory), frames=2).build()
    evaluator.prepare(None)  # the evaluate recipe's path: a local directory as `model:`
    evaluator.update(videos, [{"prompt": c} for c in captions])
    assert len(evaluator.per_clip()) == 4 and all(abs(s) <= 100 for s in evaluator.per_clip())

    before = snapshot(out)
    assert main(["run", str(recipe)]) == 0
    assert snapshot(out) == before


def test_clip_export_replaces_an_existing_directory_whole(tmp_path):
    out = tmp_path / "clip-run"
    target = tmp_path / "shipped" / "shapes-clip-tiny"
    target.mkdir(parents=True)
    (target / "stale.txt").write_text("from an older export")
    recipe = write(tmp_path, CLIP + f"export: {target}\n", out)
    assert main(["run", str(recipe)]) == 0
    assert not (target / "stale.txt").exists()
    assert sha256_file(target / "model.safetensors") == json.loads((out / "summary.json").read_text())["sha256"]
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]  # no temporary leftovers
    shutil.rmtree(target)
