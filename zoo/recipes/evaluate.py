"""The ``evaluate`` recipe: generate from a prompt set, compute every metric, write a report, apply a gate.

```yaml
schema_version: 1
type: evaluate
name: shapes-bench
model: {preset: moviegen-video-tiny}
prompts: {type: shapes-world-bench, count: 64}
seeds: [0, 1]
metrics:
  - {type: attribute-accuracy}
gate:
  - {metric: attribute-accuracy.colour, min: 0.8}
```

Writes ``report.json``, ``report.md`` and PNG plots into the run directory. Each metric's protocol
and backbone are written next to its values. A metric that cannot run here (weights not available
offline ...) is reported as skipped with its reason. With a ``gate``, the run exits with status 1
when any bound is missed, so a CI job fails on a regression.
"""

from __future__ import annotations

import json
import time
from typing import Any

import torch
from pydantic import Field, NonNegativeInt, PositiveInt, model_validator

from zoo.io.atomic import atomic_write
from zoo.metrics.evaluator import Evaluator, MetricUnavailable
from zoo.recipes.common import ModelRef, run_dir
from zoo.registry import register
from zoo.spec.params import Params, Slot


class GateBound(Params):
    """A bound on one reported value: ``<metric>.<key>`` (``value`` when the metric has one number)."""

    metric: str = Field(description="'<metric>.<key>', e.g. 'attribute-accuracy.colour' or 'flow-matching-loss'.")
    min: float | None = Field(None, description="Fail below this.")
    max: float | None = Field(None, description="Fail above this.")

    @model_validator(mode="after")
    def _some_bound(self) -> GateBound:
        if self.min is None and self.max is None:
            raise ValueError(f"gate on '{self.metric}' needs min or max")
        return self


class SamplingParams(Params):
    """How each prompt is generated (None = the preset's default)."""

    steps: PositiveInt | None = Field(None, description="Sampler steps.")
    guidance: float | None = Field(None, ge=1.0, description="Classifier-free guidance scale.")
    frames: PositiveInt | None = Field(None, description="Frames per clip.")
    height: PositiveInt | None = Field(None, description="Frame height in pixels.")
    width: PositiveInt | None = Field(None, description="Frame width in pixels.")


class EvaluateRecipeParams(Params):
    """An evaluation run: the model, the prompts, the metrics and the gate."""

    name: str = Field(description="Run name; fills {name} in output_dir.")
    model: ModelRef = Field(description="The text-to-video preset to evaluate.")
    weights: str | bool | None = Field(
        None, description="Weights to load instead of the preset's (path or URI); false = random init (tests)."
    )
    prompts: Slot("dataset") = Field(description="A prompt set: items with 'prompt' (and 'key', tags, attributes).")
    limit: PositiveInt | None = Field(None, description="Evaluate only the first N prompts.")
    seeds: list[NonNegativeInt] = Field(default_factory=lambda: [0], min_length=1, description="A clip per seed.")
    sampling: SamplingParams = Field(default_factory=SamplingParams, description="Generation settings.")
    batch_size: PositiveInt = Field(8, description="Prompts generated per call.")
    metrics: list[Slot("metric")] = Field(min_length=1, description="Metrics to compute.")
    gate: list[GateBound] = Field(default_factory=list, description="Bounds; any miss makes the run exit 1.")
    group_by: str | None = Field(
        None, description="Item field to break per-clip scores down by in the plots (e.g. 'motion', 'motion_level')."
    )
    sample_grid: NonNegativeInt = Field(8, description="Clips shown in samples.png (0 = no grid).")
    output_dir: str = Field("runs/eval/{name}", description="Run directory; {name} is replaced by the run name.")


def group_value(item: dict[str, Any], field: str) -> str:
    """The item's value of ``field``: a top-level key, or an attribute of its first object (``motion``)."""
    if field in item and item[field] is not None:
        value = item[field]
        return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    objects = (item.get("attributes") or {}).get("objects") or [{}]
    return str(objects[0].get(field, "?"))


class EvaluateRecipe:
    """Runs a validated ``evaluate`` recipe; ``run()`` returns 0, or 1 when the gate fails."""

    def __init__(self, p: EvaluateRecipeParams):
        self.p = p
        self.dir = run_dir(p.output_dir, p.name)

    def load_pipeline(self) -> Any:
        import zoo

        weights = None if self.p.weights is True else self.p.weights
        return zoo.load(self.p.model.preset, overrides=self.p.model.overrides, weights=weights)

    def prompt_items(self) -> list[dict[str, Any]]:
        dataset = self.p.prompts.build()
        count = len(dataset) if self.p.limit is None else min(self.p.limit, len(dataset))
        return [dict(dataset[i]) for i in range(count)]

    def prepare(self, pipeline: Any) -> tuple[list[Evaluator], dict[str, str]]:
        ready, skipped = [], {}
        for node in self.p.metrics:
            evaluator = node.build()
            try:
                evaluator.prepare(pipeline)
            except MetricUnavailable as reason:
                skipped[evaluator.name] = str(reason)
                print(f"skipped {evaluator.name}: {reason}")
                continue
            ready.append(evaluator)
        return ready, skipped

    def generate(self, pipeline: Any, items: list[dict[str, Any]], evaluators: list[Evaluator]) -> dict[str, Any]:
        """Generate every (prompt, seed) clip in batches and feed the metrics; returns clips for the grid."""
        s, grid, clips = self.p.sampling, [], []
        started = time.perf_counter()
        for seed in self.p.seeds:
            for start in range(0, len(items), self.p.batch_size):
                batch = items[start : start + self.p.batch_size]
                out = pipeline(
                    [item["prompt"] for item in batch], steps=s.steps, guidance=s.guidance, seed=seed,
                    frames=s.frames, height=s.height, width=s.width,
                )
                for evaluator in evaluators:
                    evaluator.update(out.video, batch)
                clips.extend({**item, "seed": seed} for item in batch)
                room = self.p.sample_grid - len(grid)
                if room > 0:
                    grid.extend(zip(out.frames_uint8()[:room], [item["prompt"] for item in batch[:room]]))
                print(f"generated {len(clips)}/{len(items) * len(self.p.seeds)}")
        return {"clips": clips, "grid": grid, "seconds": time.perf_counter() - started}

    def check_gate(self, results: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
        checks = []
        for bound in self.p.gate:
            metric, _, key = bound.metric.partition(".")
            value = results.get(metric, {}).get(key or "value")
            ok = value is not None and (bound.min is None or value >= bound.min) and (
                bound.max is None or value <= bound.max)
            checks.append({"metric": bound.metric, "value": value, "min": bound.min, "max": bound.max, "passed": ok})
        return checks

    def run(self) -> int:
        from zoo.recipes.eval_report import write_plots, write_report_md

        torch.manual_seed(0)
        pipeline = self.load_pipeline()
        items = self.prompt_items()
        evaluators, skipped = self.prepare(pipeline)
        generated = self.generate(pipeline, items, evaluators)
        results = {e.name: e.compute() for e in evaluators}
        clip_scores = {e.name: e.per_clip() for e in evaluators}
        per_clip = {name: scores for name, scores in clip_scores.items() if scores is not None}
        gate = self.check_gate(results)
        report = {
            "name": self.p.name,
            "model": self.p.model.model_dump(mode="json"),
            "weights": self.p.weights,
            "prompts": {**self.p.prompts.model_dump(mode="json"), "count": len(items), "limit": self.p.limit},
            "seeds": self.p.seeds,
            "sampling": self.p.sampling.model_dump(mode="json"),
            "clips": len(generated["clips"]),
            "generation_seconds": round(generated["seconds"], 2),
            "metrics": {e.name: {"values": results[e.name], **e.describe()} for e in evaluators},
            "skipped": skipped,
            "gate": gate,
            "passed": all(check["passed"] for check in gate),
        }
        self.dir.mkdir(parents=True, exist_ok=True)
        plots = write_plots(self.dir, results, per_clip, generated, self.p.group_by)
        report["plots"] = [path.name for path in plots]
        with atomic_write(self.dir / "report.json", "w") as handle:
            json.dump(report, handle, indent=2)
        with atomic_write(self.dir / "report.md", "w") as handle:
            handle.write(write_report_md(report))
        print(f"report: {self.dir / 'report.md'}")
        for check in gate:
            print(f"gate {'ok  ' if check['passed'] else 'FAIL'} {check['metric']} = {check['value']} "
                  f"(min {check['min']}, max {check['max']})")
        return 0 if report["passed"] else 1


@register("recipe", "evaluate", params=EvaluateRecipeParams, description="Generate, score, report and gate.")
def build_evaluate(p: EvaluateRecipeParams) -> EvaluateRecipe:
    return EvaluateRecipe(p)
