"""The train recipe end to end on a tiny model: stages, outputs, rerun, and kill/resume determinism."""

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
TINY = [
    "components.backbone.layers=1",
    "components.backbone.dim=32",
    "components.backbone.heads=2",
    "components.backbone.ffn_dim=64",
]

RECIPE = """\
schema_version: 1
type: train
name: toy
model:
  preset: moviegen-video-tiny
  overrides: {overrides}
data: {{type: toy-videos, frames: 4, height: 32, width: 32}}
stages:
{stages}
batch_size: 2
trainer: {{checkpoint_every_n_steps: {ckpt}, log_every_n_steps: 1, progress_bar: false}}
output_dir: {out}
{extra}"""


def write_recipe(tmp_path: Path, out: Path, stages: str, ckpt: int = 2, extra: str = "") -> Path:
    path = tmp_path / f"recipe-{out.name}.yaml"
    path.write_text(RECIPE.format(overrides=TINY, stages=stages, ckpt=ckpt, out=out, extra=extra))
    return path


def run(recipe: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, str(HERE / "run_toy_recipe.py"), str(recipe), *args],
                          capture_output=True, text=True, env=env, timeout=300)


def losses(metrics: Path) -> dict[int, float]:
    with metrics.open() as handle:
        return {int(r["step"]): float(r["train/loss"]) for r in csv.DictReader(handle) if r.get("train/loss")}


@pytest.mark.slow
def test_two_stage_run_writes_weights_summary_and_resolved_recipe(tmp_path):
    out = tmp_path / "run"
    samples = "samples: {every_n_steps: 2, prompts: [a square moving left, a square], steps: 2}\n"
    recipe = write_recipe(tmp_path, out, "  - {name: t2i, steps: 3, image_fraction: 1.0}\n"
                                         "  - {name: t2iv, steps: 3, image_fraction: 0.5}", extra=samples)
    proc = run(recipe)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert [s["stage"] for s in summary["stages"]] == ["t2i", "t2iv"]
    assert all(s["steps"] == 3 for s in summary["stages"])
    assert (out / "weights.safetensors").exists() and (out / "recipe.yaml").exists() and (out / "model.yaml").exists()
    t2i = losses(out / "logs" / "stage-0-t2i" / "metrics.csv")
    assert len(t2i) == 3
    # Samples at step 2 and at the end of each stage, one mp4 + contact sheet per prompt.
    written = sorted(p.name for p in (out / "stage-1-t2iv" / "samples").iterdir())
    assert written == [f"step-000000{s}-{i}.{e}" for s in (2, 3) for i in (0, 1) for e in ("mp4", "png")]
    # Finished stages are skipped on a rerun, so the final weights are unchanged.
    again = run(recipe)
    assert again.returncode == 0
    assert json.loads((out / "summary.json").read_text())["sha256"] == summary["sha256"]
    import zoo

    pipe = zoo.load("moviegen-video-tiny", overrides=TINY, weights=str(out / "weights.safetensors"))
    assert pipe("a square", steps=2, frames=1, height=32, width=32).video.shape == (1, 3, 1, 32, 32)


@pytest.mark.slow
def test_sigkill_then_resume_reproduces_the_uninterrupted_losses(tmp_path):
    stages = "  - {name: joint, steps: 30, image_fraction: 0.5}"
    reference = tmp_path / "reference"
    assert run(write_recipe(tmp_path, reference, stages, ckpt=5)).returncode == 0
    expected = losses(reference / "logs" / "stage-0-joint" / "metrics.csv")

    out = tmp_path / "killed"
    recipe = write_recipe(tmp_path, out, stages, ckpt=5)
    # The run kills itself (SIGKILL) while reading batch 13 (2 samples a batch): after the step-10 checkpoint.
    env = {**os.environ, "ZOO_TEST_SIGKILL_AFTER": str(2 * 12)}
    killed = subprocess.run([sys.executable, str(HERE / "run_toy_recipe.py"), str(recipe)],
                            capture_output=True, text=True, env=env, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    last = out / "stage-0-joint" / "checkpoints" / "last.ckpt"
    metrics = out / "logs" / "stage-0-joint" / "metrics.csv"
    assert last.exists(), "no checkpoint before the kill"

    import torch

    resumed_from = torch.load(last, map_location="cpu", weights_only=False)["global_step"]
    assert resumed_from == 10
    assert run(recipe).returncode == 0
    got = losses(metrics)
    checked = [s for s in range(resumed_from, min(resumed_from + 20, 30))]
    assert len(checked) >= 10
    for step in checked:
        assert abs(got[step] - expected[step]) < 1e-5, (step, got[step], expected[step])
