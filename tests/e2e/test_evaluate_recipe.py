"""The evaluate recipe end to end on a tiny random model: report files, skipped metrics, the gate, --limit."""

import json
from pathlib import Path

import pytest

from zoo.cli import main
from zoo.metrics.evaluator import MetricUnavailable
from zoo.registry import REGISTRY
from zoo.spec.params import Params

TINY = ["components.backbone.layers=1", "components.backbone.dim=32", "components.backbone.heads=2",
        "components.backbone.ffn_dim=64"]

RECIPE = """\
schema_version: 1
type: evaluate
name: toy-eval
model: {{preset: moviegen-video-tiny, overrides: {tiny}}}
weights: false
prompts: {{type: shapes-world-bench, count: 3}}
seeds: [0, 1]
sampling: {{steps: 2, frames: 4, height: 32, width: 32}}
batch_size: 2
metrics:
  - {{type: attribute-accuracy}}
  - {{type: flow-matching-loss, batches: 1, batch_size: 2,
     data: {{type: shapes-world, split: heldout, size: 2, frames: 4, height: 32, width: 32}}}}
  - {{type: needs-weights}}
gate:
  - {{metric: flow-matching-loss, {bound}}}
group_by: motion
sample_grid: 2
output_dir: {out}
"""


class NeedsWeightsParams(Params):
    pass


class NeedsWeights:
    name = "needs-weights"

    def prepare(self, pipeline):
        raise MetricUnavailable("no weights here: set `weights` to a local copy")


@pytest.fixture(autouse=True)
def toy_metric():
    REGISTRY.register("metric", "needs-weights", params=NeedsWeightsParams, description="Test metric.",
                      factory=lambda p: NeedsWeights(), override=True)


def write(tmp_path: Path, bound: str) -> tuple[Path, Path]:
    out = tmp_path / "eval"
    recipe = tmp_path / "eval.yaml"
    recipe.write_text(RECIPE.format(tiny=TINY, bound=bound, out=out))
    return recipe, out


def test_report_names_protocols_skips_unavailable_metrics_and_passes_its_gate(tmp_path):
    recipe, out = write(tmp_path, "min: 0.0")
    assert main(["run", str(recipe)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["clips"] == 6 and report["prompts"]["count"] == 3
    accuracy = report["metrics"]["attribute-accuracy"]
    assert {"colour", "shape", "motion"} <= set(accuracy["values"]) and "protocol" in accuracy
    loss = report["metrics"]["flow-matching-loss"]
    assert loss["values"]["value"] > 0 and set(loss["times"]) == {0.1, 0.3, 0.5, 0.7, 0.9}
    assert report["skipped"] == {"needs-weights": "no weights here: set `weights` to a local copy"}
    assert report["passed"] and report["gate"][0]["passed"]
    assert sorted(report["plots"]) == ["accuracy.png", "attribute-accuracy-by-motion.png", "samples.png"]
    assert all((out / name).stat().st_size > 1000 for name in report["plots"])
    markdown = (out / "report.md").read_text()
    assert "## flow-matching-loss" in markdown and "Gate: passed" in markdown and "needs-weights" in markdown


def test_a_gate_that_must_fail_fails(tmp_path):
    recipe, out = write(tmp_path, "max: 0.0")
    assert main(["run", str(recipe), "seeds=[0]"]) == 1
    report = json.loads((out / "report.json").read_text())
    assert not report["passed"]
    assert "Gate: FAILED" in (out / "report.md").read_text()


def test_limit_flag_limits_prompts_and_is_refused_by_recipes_without_limit(tmp_path, capsys):
    recipe, out = write(tmp_path, "min: 0.0")
    assert main(["run", str(recipe), "--limit", "1", "seeds=[0]"]) == 0
    assert json.loads((out / "report.json").read_text())["clips"] == 1
    assert main(["run", "train/moviegen-tae-tiny", "--limit", "1"]) == 2
    assert "limit" in capsys.readouterr().err
