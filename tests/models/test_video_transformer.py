"""Movie Gen Video backbone (zoo/models/video_transformer.py)."""

import time

import pytest
import torch

import zoo.models.video_transformer  # noqa: F401  (registers the backbone)
import zoo.registry
from zoo.errors import SpecError
from zoo.models.video_transformer import Block, VideoTransformer, VideoTransformerParams
from zoo.spec.params import component

TINY = dict(
    in_channels=4, dim=32, layers=2, heads=2, ffn_dim=64, context_dim=24, qk_norm=True,
    pos_max_t=4, pos_max_h=4, pos_max_w=4,
)  # fmt: skip


def tiny(**changes) -> VideoTransformer:
    torch.manual_seed(0)
    return VideoTransformer(VideoTransformerParams(**{**TINY, **changes}))


def randomized(model: VideoTransformer, std: float = 0.2) -> VideoTransformer:
    """Every parameter drawn from N(0, std), so no zero-initialised path hides a dependency."""
    torch.manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0.0, std)
    return model


def inputs(frames: int = 4, batch: int = 2, height: int = 8, width: int = 6):
    torch.manual_seed(2)
    return (
        torch.randn(batch, 4, frames, height, width),
        torch.rand(batch),
        torch.randn(batch, 5, 24),
        torch.tensor([[True, True, True, False, False]] + [[True] * 5] * (batch - 1)),
    )


def expected_parameter_count(p: VideoTransformerParams) -> int:
    """Closed-form count for adaln='single' (bias-free attention and FFN, no QK-norm)."""
    d, c = p.dim, p.context_dim or p.dim
    patch = p.patch_size[0] * p.patch_size[1] * p.patch_size[2]
    block = 4 * d * d + (2 * d * d + 2 * c * d) + 3 * d * p.ffn_dim + d + 6 * d
    return (
        p.layers * block
        + p.in_channels * patch * d + d  # patchify conv
        + (p.pos_max_t + p.pos_max_h + p.pos_max_w) * d
        + p.timestep_frequency_dim * d + d + d * d + d  # timestep MLP
        + 6 * d * d + 6 * d  # shared adaLN
        + 2 * d + d * p.in_channels * patch + p.in_channels * patch  # final table and projection
    )  # fmt: skip


@pytest.mark.parametrize("adaln", ["single", "per-block"])
@pytest.mark.parametrize("frames", [4, 1])
def test_output_shape_for_video_and_image_is_zero_at_init(adaln, frames):
    model = tiny(adaln=adaln)
    x, t, context, mask = inputs(frames)
    out = model(x, t, context, mask)
    assert out.shape == (2, 4, frames, 8, 6)
    assert out.abs().max() == 0  # zero-initialised final projection (DiT)


def test_out_channels_can_differ_from_in_channels():
    x, t, context, mask = inputs()
    assert tiny(out_channels=8)(x, t, context, mask).shape == (2, 8, 4, 8, 6)


@pytest.mark.parametrize("adaln", ["single", "per-block"])
def test_fresh_block_is_identity_on_its_input(adaln):
    p = VideoTransformerParams(**{**TINY, "adaln": adaln})
    model = VideoTransformer(p)
    block = model.blocks[0]
    x = torch.randn(2, 10, 32)
    cond = model.shared_modulation(torch.randn(2, 32)) if adaln == "single" else torch.randn(2, 32)
    assert isinstance(block, Block)
    assert torch.equal(block(x, cond, torch.randn(2, 5, 24), None), x)


@pytest.mark.parametrize("zero_init_residual", [False, True])
def test_zero_init_residual_block_is_identity_under_a_trained_shared_modulation(zero_init_residual):
    trained = randomized(tiny())  # a trained model's shared adaLN gives a new block non-zero gates
    grown = tiny(layers=3, zero_init_residual=zero_init_residual)
    x, cond = torch.randn(2, 10, 32), trained.shared_modulation(torch.randn(2, 32))
    out = grown.blocks[2](x, cond, torch.randn(2, 5, 24), None)
    assert torch.equal(out, x) == zero_init_residual


def test_position_embedding_is_added_at_every_block_input():
    model = tiny(layers=3)
    seen = []
    for block in model.blocks:
        block.register_forward_pre_hook(lambda _, args: seen.append(args[0].detach().clone()))
    x, t, context, mask = inputs()
    model(x, t, context, mask)
    pos = model.pos_embed(4, 4, 3)
    for before, after in zip(seen, seen[1:]):  # fresh blocks are identities
        torch.testing.assert_close(after - before, pos.expand_as(after), atol=1e-5, rtol=0)


def test_masked_context_tokens_do_not_change_output_within_1e6():
    model = randomized(tiny())
    x, t, context, mask = inputs()
    changed = context.clone()
    changed[0, 3:] = torch.randn(2, 24) * 5
    out = model(x, t, context, mask)
    assert (out - model(x, t, changed, mask)).abs().max() <= 1e-6
    changed[0, 0] += 1.0  # a kept token does matter
    assert (out - model(x, t, changed, mask)).abs().max() > 1e-4


def test_output_depends_on_t():
    model = randomized(tiny())
    x, t, context, mask = inputs()
    assert (model(x, t, context, mask) - model(x, t * 0.5, context, mask)).abs().max() > 1e-4
    scalar_t = model(x, torch.tensor(0.3), context, mask)
    assert torch.equal(scalar_t, model(x, torch.full((2,), 0.3), context, mask))


def test_grid_larger_than_position_tables_interpolates():
    model = randomized(tiny())
    x, t, context, mask = inputs(frames=6, height=12, width=10)  # grid (6, 6, 5) > tables (4, 4, 4)
    out = model(x, t, context, mask)
    assert out.shape == (2, 4, 6, 12, 10) and torch.isfinite(out).all()


@pytest.mark.parametrize("adaln", ["single", "per-block"])
def test_gradient_reaches_every_parameter_after_one_step(adaln):
    model = tiny(adaln=adaln)
    torch.nn.init.normal_(model.final.unpatchify.proj.weight, std=0.1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, t, context, mask = inputs()
    for _ in range(2):
        optimizer.zero_grad()
        model(x, t, context, mask).pow(2).mean().backward()
        optimizer.step()
    silent = [name for name, p in model.named_parameters() if p.grad is None or p.grad.abs().max() == 0]
    assert silent == []


def test_non_divisible_spatial_size_raises_naming_the_sizes():
    model = tiny()
    x, t, context, mask = inputs(height=7)
    with pytest.raises(ValueError, match=r"H=7 is not divisible by the patch size 2"):
        model(x, t, context, mask)
    with pytest.raises(ValueError, match="3 channels"):
        model.num_tokens((3, 4, 8, 8))


def test_num_tokens_of_768px_256_frame_latents_is_73728():
    model = tiny(in_channels=16)
    assert model.patch_grid((16, 32, 96, 96)) == (32, 48, 48)
    assert model.num_tokens((16, 32, 96, 96)) == 73_728  # moviegen-facts §1.1
    assert model.num_tokens((16, 1, 32, 32)) == 256  # 256 px image


def test_paper_30b_builds_on_meta_within_10s_with_29_to_31e9_parameters():
    start = time.perf_counter()
    with torch.device("meta"):
        model = VideoTransformer(VideoTransformerParams())
    elapsed = time.perf_counter() - start
    count = sum(p.numel() for p in model.parameters())
    assert elapsed < 10.0
    assert 29e9 <= count <= 31e9
    assert count == expected_parameter_count(model.params) == 29_260_548_160


def test_5b_ablation_shape_has_4_5_to_5_5e9_parameters():
    p = VideoTransformerParams(layers=32, dim=3072, ffn_dim=8192, heads=24)
    model = zoo.registry.get("backbone", "moviegen-transformer").build(p, device="meta")
    count = sum(param.numel() for param in model.parameters())
    assert 4.5e9 <= count <= 5.5e9
    assert count == expected_parameter_count(p) == 4_900_193_344


def test_registry_entry_and_component_round_trip():
    entry = zoo.registry.get("backbone", "moviegen-transformer")
    assert entry.params is VideoTransformerParams
    spec = component("backbone", "moviegen-transformer", **TINY)
    model = spec.build()
    assert isinstance(model, VideoTransformer)
    assert model.params.dim == 32 and len(model.blocks) == 2
    again = component("backbone", "moviegen-transformer", **{k: v for k, v in spec.model_dump().items() if k != "type"})
    assert again.params == spec.params
    assert spec.replace(layers=3).build().params.layers == 3


def test_dim_not_divisible_by_heads_is_a_spec_error():
    with pytest.raises(SpecError, match="divisible by heads"):
        component("backbone", "moviegen-transformer", **{**TINY, "heads": 3})
    with pytest.raises(SpecError):
        component("backbone", "moviegen-transformer", **{**TINY, "adaln": "per-layer"})
