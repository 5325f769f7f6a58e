"""The shipped evaluation recipes run end to end offline on the tiny preset (small budgets)."""

import json

import pytest

from zoo.cli import main


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("ZOO_OFFLINE", "1")


@pytest.mark.slow
def test_moviegen_bench_limit_4_runs_offline_and_skips_metrics_needing_weights(tmp_path, offline):
    out = tmp_path / "moviegen-bench"
    status = main([
        "run", "eval/moviegen-bench", "--limit", "4", "sampling.steps=4", f"output_dir={out}",
        "metrics.0.data.size=8", "metrics.0.batches=1", "metrics.0.batch_size=8",
    ])
    assert status == 0
    report = json.loads((out / "report.json").read_text())
    assert report["clips"] == 4 and report["prompts"]["type"] == "moviegen-video-bench"
    assert report["metrics"]["flow-matching-loss"]["values"]["value"] > 0
    assert set(report["skipped"]) == {"clip-score", "fvd"}
    assert "offline" in report["skipped"]["clip-score"] and "reference clips" in report["skipped"]["fvd"]
    assert (out / "samples.png").exists() and (out / "report.md").exists()


@pytest.mark.slow
def test_shapes_bench_small_budget_writes_every_report_file(tmp_path, offline):
    out = tmp_path / "shapes-bench"
    status = main([
        "run", "eval/shapes-bench", "--limit", "4", "seeds=[0]", "sampling.steps=4", f"output_dir={out}",
        "metrics.1.data.size=8", "metrics.1.batches=1", "metrics.1.batch_size=8",
        "metrics.2.real.size=8", "metrics.2.real_samples=8",
    ])
    report = json.loads((out / "report.json").read_text())
    assert status == (0 if report["passed"] else 1)
    assert {"colour", "shape", "motion"} <= set(report["metrics"]["attribute-accuracy"]["values"])
    assert [check["metric"] for check in report["gate"]] == [
        "attribute-accuracy.colour", "attribute-accuracy.shape", "attribute-accuracy.motion",
        "attribute-accuracy.background", "attribute-accuracy.size", "attribute-accuracy.count"]
    fvd = report["metrics"]["fvd"]
    assert fvd["values"]["value"] > 0 and fvd["extractor"] == "shapes-probe"
    assert fvd["extractor_details"]["sha256"].endswith("6f2db6f9c4aedf6a93e8f8bbd1567202f8dd13ea92dd216b83281ca4ce51580f")
    assert {"accuracy.png", "attribute-accuracy-by-motion.png", "samples.png"} <= set(report["plots"])
