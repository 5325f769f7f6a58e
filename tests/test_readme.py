"""The README's quick start stays true: CI runs its test command, and its main job generates a video."""

import re
import shlex
from pathlib import Path

from zoo.cli import main

ROOT = Path(__file__).resolve().parents[1]


def quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section, flags=re.S)


def test_ci_runs_exactly_the_readme_test_command():
    setup, tests = quick_start_commands()[:2]
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests.strip() in ci.splitlines()
    assert "pip install -c constraints.txt" in setup


def test_the_main_job_generates_a_video_from_the_shipped_weights(tmp_path, monkeypatch):
    setup = quick_start_commands()[0]
    job = shlex.split(setup.split("&&")[-1])
    assert job[0].endswith("zoo") and job[1] == "generate"
    args = job[1:]
    out = args.index("--out")
    args[out + 1] = str(tmp_path / "video.mp4")
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    assert main([*args, "--quiet"]) == 0
    assert (tmp_path / "video.mp4").stat().st_size > 1000 and (tmp_path / "video.png").exists()
