import os
import subprocess
import sys
from pathlib import Path

import pytest

from zoo.cli import main

BAD_SPEC = """\
schema_version: 1
name: bad
base: {base}
components:
  backbone:
    dimm: 3
    layers: many
  text_encoders:
    - {{type: toy-encc}}
  sampler:
    guidance: -1
"""


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_validate_reports_every_error_located_and_exits_2(toy_spec, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_SPEC.format(base=toy_spec))
    code, out, err = run(capsys, "validate", str(bad))
    assert code == 2
    assert "Traceback" not in err
    lines = [line.strip() for line in err.splitlines() if line.startswith("  ")]
    assert len(lines) == 4
    assert lines[0].startswith(f"{bad}:6:5  components.backbone.dimm  unknown key  (did you mean 'dim'?)")
    assert lines[1].startswith(f"{bad}:7:5  components.backbone.layers  Input should be a valid integer")
    assert lines[2].startswith(f"{bad}:9:8  components.text_encoders.0.type  unknown text_encoder type 'toy-encc'")
    assert lines[3].startswith(f"{bad}:11:5  components.sampler.guidance  Input should be greater than or equal to 0")


def test_validate_ok(toy_spec, capsys):
    code, out, _ = run(capsys, "validate", str(toy_spec))
    assert code == 0 and "ok" in out


def test_validate_checks_the_model_a_recipe_builds_with_its_overrides(capsys):
    code, out, err = run(capsys, "validate", "train/moviegen-video-tiny", "-o",
                         "model.overrides+=components.backbone.rop=true")
    assert code == 2 and "Traceback" not in err
    assert "components.backbone.rop  unknown key  (did you mean 'rope'?)" in err
    code, out, _ = run(capsys, "validate", "train/moviegen-video-tiny", "-o",
                       "model.overrides+=components.backbone.rope=true")
    assert code == 0 and "ok" in out


def test_validate_checks_strategy_presets_as_strategies(tmp_path, capsys):
    from zoo.spec.catalog import shipped_path

    code, out, _ = run(capsys, "validate", str(shipped_path("strategies", "h100-8x8")))
    assert code == 0 and "ok" in out and "(strategy: model-parallel)" in out
    bad = tmp_path / "strategy.yaml"
    bad.write_text("schema_version: 1\ntype: model-parallel\ntp: 2\ncpp: 2\n")
    code, out, err = run(capsys, "validate", str(bad))
    assert code == 2 and "Traceback" not in err
    assert f"{bad}:4:1  cpp  unknown key  (did you mean 'cp'?)" in err


def test_config_show_resolved_applies_overrides(toy_spec, capsys):
    code, out, _ = run(capsys, "config", "show", "--resolved", str(toy_spec), "components.backbone.dim=16",
                       "~components.text_encoders.0")
    assert code == 0
    assert "dim: 16" in out and "act: gelu" in out  # default filled in by --resolved
    assert "text_encoders: []" in out


def test_config_show_without_resolved_prints_the_merge_only(toy_spec, capsys):
    code, out, _ = run(capsys, "config", "show", str(toy_spec), "components.backbone.layers=3")
    assert code == 0 and "layers: 3" in out and "act:" not in out


def test_user_errors_exit_2_without_traceback_and_debug_shows_it(capsys):
    code, _, err = run(capsys, "info", "moviegen-vidoe-nonexistent")
    assert code == 2 and err.startswith("error: unknown preset") and "Traceback" not in err
    with pytest.raises(Exception):
        main(["--debug", "info", "moviegen-vidoe-nonexistent"])


def test_cp_copies_and_refuses_to_overwrite(tmp_path, capsys, monkeypatch):
    from zoo.spec import catalog

    names = catalog.names("specs")
    if not names:
        pytest.skip("no shipped presets")
    code, out, _ = run(capsys, "cp", names[0], str(tmp_path))
    assert code == 0 and (tmp_path / f"{names[0]}.yaml").read_text() == catalog.shipped_path("specs", names[0]).read_text()
    code, _, err = run(capsys, "cp", names[0], str(tmp_path))
    assert code == 2 and "--force" in err


def test_run_dispatches_to_the_recipe_entry(tmp_path, capsys):
    from pydantic import Field

    from zoo.registry import REGISTRY
    from zoo.spec.params import Params

    class EchoParams(Params):
        message: str = Field(description="What to print.")
        code: int = Field(0, description="Exit code to return.")

    class Echo:
        def __init__(self, p):
            self.p = p

        def run(self):
            print(self.p.message)
            return self.p.code

    REGISTRY.register("recipe", "echo", params=EchoParams, description="Prints a message.", factory=Echo)
    try:
        recipe = tmp_path / "echo.yaml"
        recipe.write_text("schema_version: 1\ntype: echo\nmessage: hi\n")
        code, out, _ = run(capsys, "run", str(recipe), "message=hello", "code=3")
        assert code == 3 and out.strip() == "hello"
        code, _, err = run(capsys, "run", str(recipe), "mesage=x")
        assert code == 2 and "did you mean 'message'?" in err
    finally:
        REGISTRY.unregister("recipe", "echo")


def test_console_script_prints_no_traceback(tmp_path):
    bad = tmp_path / "evil.yaml"
    bad.write_text("schema_version: 1\nname: !!python/object/apply:os.system ['echo pwned']\n")
    exe = Path(sys.executable).with_name("zoo")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "zoo.cli"]
    proc = subprocess.run([*cmd, "validate", str(bad)], capture_output=True, text=True, env={**os.environ})
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "pwned" not in proc.stdout
    assert f"{bad}:2:7" in proc.stderr and "python" in proc.stderr


def test_cp_into_a_new_directory_and_recipe_base_names_a_shipped_recipe(tmp_path, capsys):
    code, _, _ = run(capsys, "cp", "train/moviegen-tae-tiny", f"{tmp_path}/new/")
    assert code == 0 and (tmp_path / "new" / "moviegen-tae-tiny.yaml").is_file()
    child = tmp_path / "child.yaml"
    child.write_text("schema_version: 1\nbase: train/moviegen-tae-tiny\nname: mine\n")
    code, out, err = run(capsys, "validate", str(child))
    assert code == 0, err


def test_generate_takes_a_guide_and_refuses_one_over_another_latent_space(tmp_path, capsys):
    video = tmp_path / "v.mp4"
    base = ["generate", "a red circle moving left", "--out", str(video), "--steps", "2", "--frames", "5",
            "--size", "32", "--quiet"]
    code, _, err = run(capsys, *base, "--guide", "moviegen-video-tiny", "--guide-scale", "2")
    assert code == 0, err
    assert video.stat().st_size > 500 and video.with_suffix(".png").exists()
    video.unlink()
    code, _, err = run(capsys, *base, "--guide-override", "components.autoencoder.latent_motion_gain=1.0")
    assert code == 2 and "--guide" in err and "latent_motion_gain" in err and "Traceback" not in err
    assert not video.exists()
