"""Run a train recipe with the toy dataset registered (used by the e2e tests as a subprocess)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import zoo  # noqa: E402,F401
from toy_data import register_toy_videos  # noqa: E402

from zoo.cli import main  # noqa: E402

register_toy_videos()
sys.exit(main(["run", *sys.argv[1:]]))
