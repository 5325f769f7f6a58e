"""The model-parallel strategy node: presets, overrides, degree checks located in the spec, and a
2-process context-parallel Lightning run that reproduces the one-process losses."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from zoo.cli import main
from zoo.errors import SpecError
from zoo.parallel.spec import ModelParallelParams
from zoo.spec import catalog
from zoo.spec.compose import load_document
from zoo.spec.load import load_recipe
from zoo.spec.validate import validate_component

STRATEGIES = catalog.names("strategies")


def test_shipped_strategy_presets():
    assert {"cpu-debug", "h100-1x8", "h100-8x8", "h100-768x8"} <= set(STRATEGIES)
    assert not any(name.startswith("strategies/") for name in catalog.names("recipes"))


@pytest.mark.parametrize("name", STRATEGIES)
def test_strategy_preset_validates(name):
    data = load_document(name, "strategies").data
    data.pop("schema_version")
    assert validate_component("strategy", data).type == "model-parallel"


def test_paper_layout_degrees():
    data = {k: v for k, v in load_document("h100-768x8", "strategies").data.items() if k != "schema_version"}
    p = validate_component("strategy", data).params
    assert p.degrees(6144) == {"dp_replicate": 1, "dp_shard": 768, "cp": 2, "tp": 4}
    with pytest.raises(ValueError, match="does not divide the world size 6143"):
        p.degrees(6143)
    assert ModelParallelParams(dp_shard=2, tp=2).degrees(4)["dp_shard"] == 2
    with pytest.raises(ValueError, match="world size is 8"):
        ModelParallelParams(dp_shard=2, tp=2).degrees(8)
    with pytest.raises(ValueError, match="sequence_parallel needs tp > 1"):
        ModelParallelParams(sequence_parallel=True)


def test_preset_name_expands_before_dotted_overrides():
    recipe = load_recipe(
        "train/moviegen-video-tiny", overrides=["strategy=cpu-debug", "trainer.devices=2", "strategy.cp=2"]
    )
    strategy = recipe.params.strategy.params
    assert (strategy.cp, strategy.tp, strategy.backend) == (2, 1, "gloo")


def test_unknown_preset_suggests_the_closest():
    with pytest.raises(SpecError, match="Did you mean 'cpu-debug'") as info:
        load_recipe("train/moviegen-video-tiny", overrides=["strategy=cpu-debugg"])
    assert "override 'strategy=cpu-debugg'" in str(info.value)


def test_tp_that_does_not_fit_fails_before_launch_located_at_the_field(capsys, tmp_path):
    code = main(["run", "train/moviegen-video-tiny", "strategy=cpu-debug", "trainer.devices=2", "strategy.tp=3",
                 f"output_dir={tmp_path}/run"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "override 'strategy.tp=3'  strategy.tp" in err
    assert "4 attention heads do not divide by tp=3" in err and "does not divide the world size 2" in err
    assert not (tmp_path / "run").exists()  # nothing launched, nothing written


def test_misfit_in_a_recipe_file_names_file_and_line(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "schema_version: 1\nbase: train/moviegen-video-tiny\nstrategy:\n  type: model-parallel\n  cp: 2\n"
        "  tp: 2\ntrainer: {devices: 2}\n"
    )
    code = main(["validate", str(recipe)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{recipe}:6:3  strategy.tp  dp_replicate*cp*tp = 1*2*2 = 4 does not divide the world size 2" in err, err


@pytest.mark.parametrize("preset,nodes", [("h100-1x8", 1), ("h100-8x8", 8), ("h100-768x8", 768)])
def test_h100_presets_fit_the_30b_spec(preset, nodes, capsys):
    code = main(["validate", "train/moviegen-video-768px", "-o", f"strategy={preset}", "-o",
                 f"trainer.num_nodes={nodes}"])
    assert code == 0, capsys.readouterr().err


TINY_RUN = ["init=[]", "data.type=shapes-world", "data.size=32", "data.frames=16", "batch_size=2",
            "stages.0.steps=2", "stages.1.steps=3", "trainer.log_every_n_steps=1", "trainer.progress_bar=false",
            "trainer.val_batches=1", "~samples"]


def losses(run: Path) -> list[float]:
    rows = csv.DictReader((run / "logs" / "stage-1-t2iv" / "metrics.csv").open())
    return [float(row["train/loss"]) for row in rows if row.get("train/loss")]


def test_context_and_sequence_parallel_lightning_runs_reproduce_one_process(tmp_path):
    zoo = [sys.executable, "-m", "zoo.cli", "run", "train/moviegen-video-tiny", *TINY_RUN]
    runs = [("one", []), ("cp2", ["strategy=cpu-debug", "trainer.devices=2", "strategy.cp=2"]),
            ("tp2-sp", ["strategy=cpu-debug", "trainer.devices=2", "strategy.tp=2", "strategy.sequence_parallel=true"])]
    # the three runs are independent and mostly single-threaded start-up, so they run side by side
    launched = [subprocess.Popen([*zoo, *extra, f"output_dir={tmp_path / name}"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True) for name, extra in runs]
    errors = [process.communicate(timeout=600)[1] for process in launched]  # all finish before any assert
    for process, stderr in zip(launched, errors):
        assert process.returncode == 0, stderr[-3000:]
    one = losses(tmp_path / "one")
    assert len(one) == 3
    assert losses(tmp_path / "cp2") == pytest.approx(one, abs=1e-5)
    assert losses(tmp_path / "tp2-sp") == pytest.approx(one, abs=1e-5)
    assert (tmp_path / "cp2" / "stage-1-t2iv" / "checkpoints" / "last.ckpt").is_dir()  # distributed checkpoint
    assert (tmp_path / "cp2" / "weights.safetensors").exists()


def test_two_node_launch_through_torchrun_with_overrides_only(tmp_path):
    """Two torchrun "nodes" on this machine (one process each) join one run: num_nodes=2 is the only change."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    torchrun = Path(sys.executable).with_name("torchrun")
    nodes = [
        subprocess.Popen(
            [str(torchrun), "--nnodes", "2", "--node-rank", str(rank), "--nproc-per-node", "1",
             "--master-addr", "127.0.0.1", "--master-port", str(port),
             "-m", "zoo.cli", "run", "train/moviegen-video-tiny", *TINY_RUN, "strategy=cpu-debug",
             "strategy.cp=2", "trainer.num_nodes=2", f"output_dir={tmp_path / 'run'}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for rank in (0, 1)
    ]
    outputs = [node.communicate(timeout=600)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    assert len(losses(tmp_path / "run")) == 3 and (tmp_path / "run" / "weights.safetensors").exists()
