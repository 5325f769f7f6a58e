"""Tests for the Movie Gen TAE: 2.5D blocks, shapes, padding, tiling, OPL, KL and the registry entry."""

from __future__ import annotations

import pytest
import torch

import zoo.models.tae as tae_module
from zoo.errors import SpecError
from zoo.losses import outlier_penalty_loss
from zoo.models.tae import TAE, DiagonalGaussian, TAEParams
from zoo.models.tae_tiling import blend_weights, plan_tiles, tiled_apply, tiled_decode, tiled_encode
from zoo.nn.conv25d import FrameGroupNorm, TemporalConv
from zoo.registry import get
from zoo.spec.params import component

# A tiny 4x8x8 TAE: with C = 8 it keeps the paper's 96x ratio (3 * 8 * 8 * 8 / 16 = 3 * 4 * 8 * 8 / 8)
# while 16-frame clips still give 4 latent frames.
TINY = dict(
    latent_channels=8,
    base_channels=16,
    channel_multipliers=[1, 2, 4, 4],
    blocks_per_level=1,
    temporal_downsample=4,
    norm_groups=8,
)


def _randomized(params: TAEParams, seed: int = 0) -> TAE:
    """A TAE whose weights are all perturbed, so temporal convs and attention really mix frames."""
    torch.manual_seed(seed)
    model = TAE(params).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return model


@pytest.fixture(scope="module")
def tiny() -> TAE:
    return _randomized(TAEParams(**TINY))


# -- 2.5D blocks -----------------------------------------------------------------------------------------
def test_temporal_conv_keeps_a_constant_video_constant():
    conv = TemporalConv(4, 4, kernel=3)
    torch.nn.init.normal_(conv.weight)
    frame = torch.randn(1, 4, 1, 5, 5)
    out = conv(frame.expand(-1, -1, 6, -1, -1))
    assert out.shape == (1, 4, 6, 5, 5)
    assert torch.allclose(out, out[:, :, :1].expand_as(out), atol=1e-5)


def test_temporal_conv_replicate_padding_is_symmetric_in_time():
    """Reversing time and flipping the kernel reverses the output only if both ends are padded alike."""
    conv = TemporalConv(3, 3, kernel=3)
    torch.nn.init.normal_(conv.weight)
    flipped = TemporalConv(3, 3, kernel=3)
    with torch.no_grad():
        flipped.weight.copy_(conv.weight.flip(2))
        flipped.bias.copy_(conv.bias)
    x = torch.randn(2, 3, 7, 4, 4)
    assert torch.allclose(flipped(x.flip(2)), conv(x).flip(2), atol=1e-5)
    # first output frame sees the first frame twice (replicate), not a zero
    manual = torch.nn.functional.conv3d(torch.cat([x[:, :, :1], x[:, :, :2]], 2), conv.weight, conv.bias)
    assert torch.allclose(conv(x)[:, :, :1], manual, atol=1e-5)


def test_stride2_temporal_conv_halves_frames_and_keeps_one_frame():
    conv = TemporalConv(2, 2, kernel=3, stride=2)
    assert conv(torch.randn(1, 2, 8, 3, 3)).shape[2] == 4
    assert conv(torch.randn(1, 2, 1, 3, 3)).shape[2] == 1


def test_frame_group_norm_matches_group_norm_per_frame():
    norm = FrameGroupNorm(2, 4)
    torch.nn.init.normal_(norm.weight)
    torch.nn.init.normal_(norm.bias)
    x = torch.randn(2, 4, 3, 5, 5) * 3 + 1
    per_frame = torch.nn.functional.group_norm(
        x.transpose(1, 2).reshape(6, 4, 5, 5), 2, norm.weight, norm.bias, norm.eps
    )
    assert torch.allclose(norm(x), per_frame.reshape(2, 3, 4, 5, 5).transpose(1, 2), atol=1e-5)


# -- shapes and padding ---------------------------------------------------------------------------------
@pytest.mark.parametrize("frames", [1, 5, 8, 17, 32])
def test_encode_decode_shapes_match_latent_shape(tiny: TAE, frames: int):
    x = torch.rand(1, 3, frames, 32, 32) * 2 - 1
    with torch.no_grad():
        posterior = tiny.encode(x)
        video = tiny.decode(posterior.mode(), frames=frames)
        full = tiny.decode(posterior.mode())
    expected_t = 1 if frames == 1 else -(-frames // 4)
    assert tiny.latent_shape(frames, 32, 32) == (8, expected_t, 4, 4)
    assert posterior.mean.shape == (1, *tiny.latent_shape(frames, 32, 32))
    assert posterior.logvar.shape == posterior.mean.shape
    assert video.shape == (1, 3, frames, 32, 32)
    assert full.shape == (1, 3, 4 * expected_t, 32, 32)


def test_padding_repeats_the_last_frame(tiny: TAE):
    x = torch.randn(1, 3, 5, 8, 8)
    padded = tiny.pad_frames(x)
    assert padded.shape[2] == 8
    assert torch.equal(padded[:, :, :5], x)
    assert torch.equal(padded[:, :, 5:], x[:, :, 4:5].expand(-1, -1, 3, -1, -1))
    with torch.no_grad():
        assert torch.allclose(tiny.encode(x).mean, tiny.encode(padded).mean, atol=1e-6)


def test_image_path_equals_still_video(tiny: TAE):
    """A 1-frame input skips padding and temporal upsampling, yet matches the 4-frame still video."""
    image = torch.rand(2, 3, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        z_image = tiny.encode(image).mean
        z_still = tiny.encode(image.expand(-1, -1, 4, -1, -1)).mean
        decoded_image = tiny.decode(z_image, frames=1)
        decoded_still = tiny.decode(z_image)
    assert torch.allclose(z_image, z_still, atol=1e-4)
    assert decoded_image.shape == (2, 3, 1, 32, 32)
    assert torch.allclose(decoded_image, decoded_still[:, :, :1], atol=1e-4)


def test_decode_rejects_frames_that_need_another_latent_length(tiny: TAE):
    z = torch.zeros(1, 8, 2, 4, 4)
    with pytest.raises(ValueError, match="latent frames"):
        tiny.decode(z, frames=9)
    with pytest.raises(ValueError, match="multiples of 8"):
        tiny.encode(torch.zeros(1, 3, 4, 36, 32))


def test_normalize_then_denormalize_is_identity():
    model = TAE(TAEParams(**TINY, latent_scale=0.5, latent_shift=0.3))
    z = torch.randn(2, 8, 1, 2, 2)
    assert torch.allclose(model.normalize(z), (z - 0.3) * 0.5)
    assert torch.allclose(model.denormalize(model.normalize(z)), z, atol=1e-6)


def test_motion_gain_scales_deviations_from_the_temporal_mean_and_inverts():
    model = TAE(TAEParams(**TINY, latent_scale=0.5, latent_shift=0.3, latent_motion_gain=3.0))
    z = torch.randn(2, 8, 4, 2, 2, generator=torch.Generator().manual_seed(0))
    plain = (z - 0.3) * 0.5
    normalized = model.normalize(z)
    mean = plain.mean(dim=2, keepdim=True)
    torch.testing.assert_close(normalized.mean(dim=2, keepdim=True), mean)  # the still part is as before
    torch.testing.assert_close(normalized - mean, 3.0 * (plain - mean))  # the motion part three times as large
    torch.testing.assert_close(model.denormalize(normalized), z, atol=1e-5, rtol=1e-5)
    image = torch.randn(2, 8, 1, 2, 2)  # one latent frame: nothing moves, nothing changes
    torch.testing.assert_close(model.normalize(image), (image - 0.3) * 0.5)


# -- tiling ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("length", "tile", "overlap"), [(4, 4, 2), (9, 4, 2), (10, 4, 2), (23, 8, 4), (7, 3, 1)])
def test_tiles_cover_the_axis_and_blend_weights_sum_to_one(length: int, tile: int, overlap: int):
    spans = plan_tiles(length, tile, overlap)
    assert spans[0][0] == 0 and spans[-1][1] == length
    assert all(stop - start <= tile for start, stop in spans)
    assert all(prev[1] - nxt[0] == overlap for prev, nxt in zip(spans, spans[1:]))
    for scale in (1, 8):
        total = torch.zeros(length * scale)
        for (start, stop), w in zip(spans, blend_weights(spans, scale)):
            assert w.min() > 0
            total[start * scale : stop * scale] += w
        assert torch.allclose(total, torch.ones_like(total), atol=1e-6)


def test_tiled_apply_of_a_pointwise_function_is_exact_in_time_and_space():
    def fn(x):
        return torch.nn.functional.interpolate(x * 2 + 1, scale_factor=(4, 2, 2), mode="nearest")

    x = torch.randn(1, 2, 11, 9, 7)
    spans = [plan_tiles(11, 4, 2), plan_tiles(9, 4, 1), plan_tiles(7, 3, 1)]
    out = tiled_apply(fn, x, spans, (1, 1, 1), (4, 2, 2), out_channels=2)
    assert torch.allclose(out, fn(x), atol=1e-6)


def test_tiled_decode_equals_untiled_for_a_frame_local_decoder():
    """With temporal kernel 1 and no attention, each frame sees only its own latent frame."""
    model = _randomized(TAEParams(**{**TINY, "temporal_kernel": 1, "attention": False}))
    z = torch.randn(1, 8, 11, 2, 2)
    with torch.no_grad():
        tiled = tiled_decode(model, z, tile_latent_frames=4, overlap_latent_frames=2)
        untiled = model.decode(z, tiled=False)
    assert torch.allclose(tiled, untiled, atol=1e-4)


def test_tiled_encode_equals_untiled_for_a_frame_local_encoder():
    model = _randomized(TAEParams(**{**TINY, "temporal_kernel": 1, "attention": False}))
    x = torch.rand(1, 3, 38, 16, 16) * 2 - 1
    with torch.no_grad():
        tiled = tiled_encode(model, x, tile_frames=16).mean
        untiled = model.encode(x, tiled=False).mean
    assert tiled.shape == (1, 8, 10, 2, 2)
    assert torch.allclose(tiled, untiled, atol=1e-4)


def test_tiled_decode_of_a_still_latent_equals_untiled(tiny: TAE):
    """Temporal attention and convs see different contexts per tile, but a still latent looks the same
    from every tile (replicate padding, per-frame norms), so only float rounding separates them."""
    z = torch.randn(1, 8, 1, 4, 4).expand(-1, -1, 13, -1, -1)
    with torch.no_grad():
        tiled = tiny.decode(z, tiled=True)  # tiles of 8 latent frames, overlap 4
        untiled = tiny.decode(z, tiled=False)
    assert tiled.shape == untiled.shape == (1, 3, 52, 32, 32)
    assert torch.allclose(tiled, untiled, atol=1e-4)


def test_tiled_decode_runs_bounded_tiles(tiny: TAE, monkeypatch: pytest.MonkeyPatch):
    seen: list[int] = []
    original = tiny.decode_untiled

    def counting(z: torch.Tensor) -> torch.Tensor:
        seen.append(z.shape[2])
        return original(z)

    monkeypatch.setattr(tiny, "decode_untiled", counting)
    with torch.no_grad():
        video = tiny.decode(torch.randn(1, 8, 26, 2, 2), frames=101)  # 26 > 8 latent frames: tiles by default
    assert video.shape == (1, 3, 101, 16, 16)
    assert seen == [8, 8, 8, 8, 8, 6]  # stride 4 = 8 - 4 overlap; the peak never depends on the length


def test_tiled_encode_tiles_do_not_overlap(tiny: TAE, monkeypatch: pytest.MonkeyPatch):
    seen: list[int] = []
    original = tiny.encode_untiled
    monkeypatch.setattr(tiny, "encode_untiled", lambda x: seen.append(x.shape[2]) or original(x))
    with torch.no_grad():
        posterior = tiny.encode(torch.rand(1, 3, 70, 16, 16) * 2 - 1)
    assert seen == [32, 32, 8]
    assert posterior.mean.shape == (1, 8, 18, 2, 2)


def test_spatial_tiling_decodes_bounded_squares(monkeypatch: pytest.MonkeyPatch):
    model = _randomized(TAEParams(**TINY, spatial_tile=32, spatial_tile_overlap=16))
    sizes: list[tuple[int, ...]] = []
    original = model.decode_untiled
    monkeypatch.setattr(model, "decode_untiled", lambda z: sizes.append(tuple(z.shape[2:])) or original(z))
    with torch.no_grad():
        video = model.decode(torch.randn(1, 8, 2, 6, 4))
    assert video.shape == (1, 3, 8, 48, 32)
    assert sizes == [(2, 4, 4), (2, 4, 4)]  # H: spans [0, 4) and [2, 6); W fits one tile


# -- OPL and KL ------------------------------------------------------------------------------------------
def test_opl_is_zero_with_finite_gradient_for_a_constant_latent():
    latent = torch.full((2, 4, 3, 5, 5), 0.7, requires_grad=True)
    loss = outlier_penalty_loss(latent)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.isfinite(latent.grad).all()


def test_opl_matches_the_formula_for_one_outlier_and_pushes_it_down():
    latent = torch.zeros(1, 1, 1, 4, 4)
    latent[0, 0, 0, 1, 2] = 8.0
    latent.requires_grad_(True)
    loss = outlier_penalty_loss(latent, r=3.0)
    # mean = 8/16, std = 8 * sqrt(15)/16; only the outlier exceeds 3 std: (7.5 - 3 * std) / 16
    expected = (7.5 - 3 * 8 * 15**0.5 / 16) / 16
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert latent.grad[0, 0, 0, 1, 2] > 0  # gradient descent lowers the outlier
    with torch.no_grad():
        stepped = latent - 1.0 * latent.grad
    assert stepped[0, 0, 0, 1, 2] < 8.0
    assert outlier_penalty_loss(stepped) < loss


def test_opl_accepts_images_and_ignores_inliers():
    inliers = torch.randn(3, 4, 8, 8, generator=torch.Generator().manual_seed(0)).clamp(-1, 1)
    assert outlier_penalty_loss(inliers).item() == 0.0  # every ||x - mean|| < 3 ||std|| here
    with pytest.raises(ValueError):
        outlier_penalty_loss(torch.zeros(4, 4))


def test_kl_is_zero_for_standard_normal_and_positive_otherwise():
    zeros = torch.zeros(2, 4, 1, 3, 3)
    assert torch.equal(DiagonalGaussian(zeros, zeros).kl(), torch.zeros(2))
    kl = DiagonalGaussian(zeros + 1.0, zeros).kl()
    assert torch.allclose(kl, torch.full((2,), 0.5))  # 0.5 * mean(mu^2) with mu = 1
    posterior = DiagonalGaussian(zeros, zeros)
    a = posterior.sample(torch.Generator().manual_seed(3))
    b = posterior.sample(torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.std() > 0.5


def test_forward_reconstructs_and_training_step_lowers_the_loss():
    torch.manual_seed(0)
    model = TAE(TAEParams(**TINY))
    x = torch.rand(1, 3, 4, 16, 16) * 2 - 1
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(6):
        reconstruction, posterior = model(x, sample_posterior=False)
        loss = (reconstruction - x).abs().mean() + 1e-6 * posterior.kl().mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert reconstruction.shape == x.shape
    assert losses[-1] < 0.9 * losses[0]


# -- params, registry, paper scale ---------------------------------------------------------------------------
def test_paper_config_builds_on_meta_device():
    model = component("autoencoder", "tae").build(device="meta")
    assert all(p.is_meta for p in model.parameters())
    count = sum(p.numel() for p in model.parameters())
    assert 100e6 < count < 130e6  # 114,062,049: SD-VAE-sized 2D part plus the temporal convs
    assert model.latent_shape(256, 768, 768) == (16, 32, 96, 96)  # facts §1.1 token count: 32 x 96 x 96 x C16
    assert (model.temporal_compression, model.spatial_compression) == (8, 8)


def test_registry_round_trip():
    entry = get("autoencoder", "tae")
    assert entry.params is TAEParams and entry.factory is tae_module.build_tae
    spec = component("autoencoder", "tae", **TINY)
    again = component("autoencoder", "tae", **{k: v for k, v in spec.model_dump().items() if k != "type"})
    assert again.params == spec.params
    model = spec.build()
    assert isinstance(model, TAE) and model.params.latent_channels == 8
    assert model.temporal_compression == 4 and model.spatial_compression == 8


@pytest.mark.parametrize(
    "bad",
    [
        {"temporal_downsample": 16},  # 4 levels allow at most 8x
        {"temporal_downsample": 6},  # not a power of two
        {"temporal_downsample": [True, False]},  # 3 downsampling steps
        {"temporal_downsample": True},
        {"temporal_tile_frames": 36},  # not a multiple of 8
        {"temporal_tile_overlap": 24},  # more than half the tile
        {"norm_groups": 48},  # does not divide 128
        {"temporal_kernel": 2},
        {"spatial_tile": 100},
    ],
)
def test_inconsistent_params_are_rejected(bad: dict):
    with pytest.raises(SpecError):
        component("autoencoder", "tae", **bad)
