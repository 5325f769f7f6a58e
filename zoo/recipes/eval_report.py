"""The files an ``evaluate`` run writes besides report.json: report.md and PNG plots (matplotlib)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def write_plots(
    directory: Path,
    results: dict[str, dict[str, float]],
    per_clip: dict[str, list[float]],
    generated: dict[str, Any],
    group_by: str | None,
) -> list[Path]:
    """``accuracy.png`` (attribute accuracy), ``by-<group>.png`` (per-clip scores by group) and
    ``samples.png`` (a grid of sample frames); returns the paths written."""
    from zoo.recipes.evaluate import group_value

    plt = _pyplot()
    written = []
    if "attribute-accuracy" in results:
        values = results["attribute-accuracy"]
        fig, ax = plt.subplots(figsize=(7, 3.2))
        ax.bar(list(values), [100 * v for v in values.values()], color="#4a7ab5")
        ax.set_ylim(0, 100)
        ax.set_ylabel("accuracy (%)")
        ax.set_title("Attribute accuracy (analytic readout)")
        for x, v in enumerate(values.values()):
            ax.text(x, 100 * v + 1, f"{100 * v:.0f}", ha="center", fontsize=8)
        written.append(_save(fig, directory / "accuracy.png", plt))
    if group_by:
        clips = generated["clips"]
        for name, scores in per_clip.items():
            groups: dict[str, list[float]] = defaultdict(list)
            for item, value in zip(clips, scores):
                groups[group_value(item, group_by)].append(value)
            labels = sorted(groups)
            fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(labels)), 3.2))
            ax.bar(labels, [float(np.mean(groups[k])) for k in labels], color="#5a9e6f")
            ax.set_ylabel(f"{name} per clip (mean)")
            ax.set_title(f"{name} by {group_by}")
            ax.tick_params(axis="x", rotation=45)
            written.append(_save(fig, directory / f"{name}-by-{group_by}.png", plt))
    if generated["grid"]:
        written.append(_sample_grid(directory / "samples.png", generated["grid"], plt))
    return written


def _sample_grid(path: Path, grid: list[tuple[Any, str]], plt: Any) -> Path:
    """One row per clip: 4 evenly spaced frames, titled with the prompt."""
    rows = len(grid)
    fig, axes = plt.subplots(rows, 4, figsize=(6, 1.7 * rows), squeeze=False)
    for row, (frames, prompt) in enumerate(grid):
        picks = np.linspace(0, len(frames) - 1, 4).round().astype(int)
        for col, index in enumerate(picks):
            axes[row][col].imshow(np.asarray(frames[index]))
            axes[row][col].axis("off")
        axes[row][0].set_title(prompt[:70], fontsize=6, loc="left")
    return _save(fig, path, plt)


def _save(fig: Any, path: Path, plt: Any) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report_md(report: dict[str, Any]) -> str:
    """A Markdown summary of report.json: every value with its protocol, the skipped metrics and the gate."""
    lines = [f"# Evaluation: {report['name']}", ""]
    model = report["model"]
    lines += [
        f"- model: `{model['preset']}`" + (f" with {model['overrides']}" if model.get("overrides") else ""),
        f"- weights: {report['weights'] or 'the preset weights'}",
        f"- prompts: `{report['prompts']['type']}`, {report['prompts']['count']} prompts x seeds {report['seeds']}"
        f" = {report['clips']} clips ({report['generation_seconds']} s to generate)",
        f"- sampling: {', '.join(f'{k}={v}' for k, v in report['sampling'].items() if v is not None) or 'defaults'}",
        "",
    ]
    for name, entry in report["metrics"].items():
        lines += [f"## {name}", "", "| value | |", "|---|---|"]
        lines += [f"| {key} | {value:.4f} |" for key, value in entry["values"].items()]
        lines.append("")
        lines += [f"- {key}: {value}" for key, value in entry.items() if key != "values"]
        lines.append("")
    if report["skipped"]:
        lines += ["## Skipped", ""] + [f"- {name}: {why}" for name, why in report["skipped"].items()] + [""]
    if report["gate"]:
        lines += ["## Gate: " + ("passed" if report["passed"] else "FAILED"), "", "| metric | value | min | max | |",
                  "|---|---|---|---|---|"]
        for check in report["gate"]:
            value = "missing" if check["value"] is None else f"{check['value']:.4f}"
            lines.append(f"| {check['metric']} | {value} | {check['min']} | {check['max']} | "
                         f"{'ok' if check['passed'] else 'FAIL'} |")
        lines.append("")
    if report.get("plots"):
        lines += ["## Plots", ""] + [f"![{name}]({name})" for name in report["plots"]] + [""]
    return "\n".join(lines)
