"""The Shapes-world probe: its input contract, feature shape, weights loading with sha256, and FVD with it."""

from __future__ import annotations

import pytest
import torch

from zoo.errors import WeightsError
from zoo.io.weights import save_safetensors
from zoo.metrics.fvd import FVD, FVDProtocol
from zoo.models.shapes_probe import ShapesProbe, ShapesProbeParams, build_shapes_probe
from zoo.registry import REGISTRY
from zoo.spec.params import component

SMALL = {"size": 32, "widths": (8, 16)}


def clips(batch: int = 2, frames: int = 5, height: int = 40, width: int = 48, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, frames, height, width, generator=generator) * 2 - 1  # (B, 3, T, H, W) in [-1, 1]


@pytest.fixture
def probe() -> ShapesProbe:
    with pytest.warns(UserWarning, match="random weights"):
        return component("video_features", "shapes-probe", **SMALL).build()


def test_probe_is_registered_and_frozen(probe):
    assert "shapes-probe" in REGISTRY.names("video_features")
    probe.train()  # a parent module in train mode changes nothing: GroupNorm has no running statistics
    assert not any(p.requires_grad for p in probe.parameters())
    assert probe.random_weights and probe.describe()["random_weights"] is True


@pytest.mark.parametrize("frames, height, width", [(2, 32, 32), (5, 40, 48), (16, 64, 64), (17, 33, 90)])
def test_features_are_batch_by_twice_the_last_width_for_any_clip_of_two_or_more_frames(probe, frames, height, width):
    features = probe(clips(3, frames, height, width))
    assert features.shape == (3, 2 * 16) == (3, probe.feature_dim)
    assert features.dtype == torch.float32 and torch.isfinite(features).all()


def test_two_frame_clips_have_zero_change_features(probe):
    features = probe(clips(2, 2, 32, 32))
    assert torch.equal(features[:, 16:], torch.zeros(2, 16))  # one time step left: nothing to compare


def test_features_of_a_clip_do_not_depend_on_the_rest_of_the_batch(probe):
    batch = clips(4, 6)
    torch.testing.assert_close(probe(batch)[1:2], probe(batch[1:2]), atol=1e-5, rtol=0)


def test_input_contract_refuses_short_clips_wrong_channels_and_values_outside_minus_one_to_one(probe):
    with pytest.raises(ValueError, match="at least 2 frames"):
        probe(clips(1, 1))
    with pytest.raises(ValueError, match=r"\(B, 3, T, H, W\)"):
        probe(torch.zeros(1, 4, 4, 32, 32))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        probe(torch.full((1, 3, 4, 32, 32), 255.0))
    with pytest.raises(ValueError, match="float"):
        probe(torch.zeros(1, 3, 4, 32, 32, dtype=torch.uint8))


def test_weights_load_with_their_sha256_and_a_wrong_sha256_is_refused(tmp_path):
    trained = ShapesProbe(ShapesProbeParams(**SMALL))
    path = tmp_path / "probe.safetensors"
    digest = save_safetensors(trained.state_dict(), str(path))
    loaded = component("video_features", "shapes-probe", weights=str(path), sha256=digest, **SMALL).build()
    video = clips(2, 8)
    torch.testing.assert_close(loaded(video), trained(video).detach(), atol=0, rtol=0)
    assert not loaded.random_weights and loaded.describe()["sha256"] == digest
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        build_shapes_probe(ShapesProbeParams(weights=str(path), sha256="0" * 64, **SMALL))
    with pytest.raises(WeightsError, match="do not fit"):  # weights of another architecture
        build_shapes_probe(ShapesProbeParams(weights=str(path), size=32, widths=(8, 24)))


def test_params_reject_sha256_without_weights_and_widths_the_groups_do_not_divide():
    with pytest.raises(ValueError, match="sha256 is given"):
        ShapesProbeParams(sha256="0" * 64)
    with pytest.raises(ValueError, match="groups"):
        ShapesProbeParams(widths=(8, 12))


def test_fvd_with_the_probe_is_zero_on_identical_sets_and_positive_on_different_ones(probe):
    protocol = FVDProtocol(frames=4, real_samples=8, fake_samples=8, extractor="shapes-probe", resize=probe.resize)
    same, other = FVD(probe, protocol), FVD(probe, protocol)
    real = clips(8, 4, seed=1)
    same.update(real, real=True)
    same.update(real, real=False)
    other.update(real, real=True)
    other.update(clips(8, 4, seed=2).clamp(-1, 0), real=False)  # darker clips
    assert abs(same.compute()) < 1e-6
    assert other.compute() > 1e-3
    assert same.protocol_report()["extractor_details"]["name"] == "shapes-probe"
