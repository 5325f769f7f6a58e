"""SampleVideos writes clips of the weights being trained and hands contact sheets to image loggers."""

from types import SimpleNamespace

import numpy as np
import pytest

import zoo
from zoo.callbacks.sample_videos import SampleVideos, SampleVideosParams
from zoo.io.video import read_mp4

TINY = ["components.backbone.layers=1", "components.backbone.dim=32", "components.backbone.heads=2",
        "components.backbone.ffn_dim=64"]


class RecordingExperiment:
    def __init__(self):
        self.images, self.texts = [], []

    def add_image(self, tag, image, step, dataformats):
        self.images.append((tag, np.asarray(image).shape, step, dataformats))

    def add_text(self, tag, text, step):
        self.texts.append((tag, text, step))


def test_sample_writes_clips_restores_train_mode_and_logs_sheets(tmp_path):
    pipe = zoo.load("moviegen-video-tiny", overrides=TINY, weights=False)
    params = SampleVideosParams(every_n_steps=5, prompts=["a red circle", "a blue square"], steps=2, frames=4)
    callback = SampleVideos(pipe, params, tmp_path / "samples")
    experiment = RecordingExperiment()
    trainer = SimpleNamespace(is_global_zero=True, loggers=[SimpleNamespace(experiment=experiment)])
    pipe.backbone.train()
    paths = callback.sample(trainer, pipe.backbone, step=5)
    assert [p.name for p in paths] == ["step-0000005-0.mp4", "step-0000005-1.mp4"]
    assert pipe.backbone.training, "sampling must hand the module back in train mode"
    frames, fps = read_mp4(str(paths[0]))
    assert frames.shape[0] == 4 and fps == pytest.approx(16)
    assert (tmp_path / "samples" / "step-0000005-1.png").exists()
    assert [(tag, step, fmt) for tag, _, step, fmt in experiment.images] == [
        ("samples/0", 5, "HWC"), ("samples/1", 5, "HWC")]
    assert experiment.images[0][1][2] == 3
    assert experiment.texts[1][1].startswith("a blue square")


def test_only_rank_zero_samples(tmp_path):
    pipe = zoo.load("moviegen-video-tiny", overrides=TINY, weights=False)
    params = SampleVideosParams(prompts=["a red circle"], steps=1, frames=4)
    callback = SampleVideos(pipe, params, tmp_path / "samples")
    assert callback.sample(SimpleNamespace(is_global_zero=False, loggers=[]), pipe.backbone, step=1) == []
    assert not (tmp_path / "samples").exists()
