"""FSDP2, tensor (with and without sequence parallel), context parallel and 2x2 meshes give one process's
losses and gradients (gloo, CPU); with rotary embeddings too, whose tables follow the sequence split.

Each layout runs ``equivalence_run.py`` as its own process group (pytest must not be their parent:
Lightning-style launchers would re-run pytest in the children).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("equivalence_run.py")


def run_layout(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / f"result-{len(list(tmp_path.glob('result-*.json')))}.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--out", str(out)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.parametrize(
    "layout",
    [("--dp-shard", "2"), ("--tp", "2"), ("--cp", "2"), ("--dp-shard", "2", "--tp", "2"), ("--cp", "2", "--tp", "2"),
     ("--tp", "2", "--sp"), ("--dp-shard", "2", "--tp", "2", "--sp"), ("--cp", "2", "--rope"),
     ("--tp", "2", "--sp", "--rope")],
    ids=["fsdp2", "tp2", "cp2", "fsdp2xtp2", "cp2xtp2", "tp2-sequence-parallel", "fsdp2xtp2-sequence-parallel",
         "cp2-rope", "tp2-sequence-parallel-rope"],
)
def test_layout_matches_one_process_within_1e5(tmp_path, layout):
    result = run_layout(tmp_path, *layout)
    assert result["loss_diff"] <= 1e-5 and result["grad_diff"] <= 1e-5, result
    assert result["losses"][-1] < result["losses"][0]  # the steps did train


def test_checkpoint_written_under_fsdp2_loads_under_tp_and_cp(tmp_path):
    checkpoint = tmp_path / "checkpoint"
    run_layout(tmp_path, "--dp-shard", "2", "--save", str(checkpoint))
    assert len(list(checkpoint.glob("*.distcp"))) == 2  # one shard file per rank
    result = run_layout(tmp_path, "--tp", "2", "--cp", "2", "--load", str(checkpoint))
    assert result["load_keys_match"] and result["load_diff"] == 0.0
    assert result["init_diff"] > 1e-3  # the trained weights differ from a fresh model's: the load did the work
