"""Shared building blocks in zoo/nn: attention, SwiGLU, modulation, patchify, position and timestep."""

import math

import pytest
import torch

import zoo  # noqa: F401  (applies the torchvision shim first)
from zoo.nn.attention import CrossAttention, SelfAttention, merge_heads, split_heads
from zoo.nn.modulation import AdaLNModulation, ModulationTable, gated, modulate
from zoo.nn.patchify import Patchify, Unpatchify, patch_grid
from zoo.nn.position import FactorizedPositionEmbedding, axis_channels, fit_table, interpolate_table
from zoo.nn.swiglu import SwiGLU
from zoo.nn.timestep import TimestepEmbedder, sinusoidal_embedding


def _reference_attention(q, k, v, keep=None):
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if keep is not None:
        scores = scores.masked_fill(~keep[:, None, None, :], float("-inf"))
    return scores.softmax(-1) @ v


def test_self_attention_matches_softmax_reference_within_1e5():
    torch.manual_seed(0)
    attn = SelfAttention(16, 4)
    x = torch.randn(2, 7, 16)
    q, k, v = (split_heads(layer(x), 4) for layer in (attn.q, attn.k, attn.v))
    expected = attn.out(merge_heads(_reference_attention(q, k, v)))
    assert attn(x).shape == (2, 7, 16)
    torch.testing.assert_close(attn(x), expected, atol=1e-5, rtol=1e-5)


def test_attention_reads_checkpoints_with_fused_projections():
    torch.manual_seed(0)
    attn, cross = SelfAttention(16, 4), CrossAttention(16, 4, context_dim=12)
    fused = {"qkv.weight": torch.cat([attn.q.weight, attn.k.weight, attn.v.weight]), "out.weight": attn.out.weight}
    again = SelfAttention(16, 4)
    again.load_state_dict({k: v.clone() for k, v in fused.items()})
    x = torch.randn(2, 5, 16)
    torch.testing.assert_close(again(x), attn(x))
    state = {"q.weight": cross.q.weight, "kv.weight": torch.cat([cross.k.weight, cross.v.weight]),
             "out.weight": cross.out.weight}
    other = CrossAttention(16, 4, context_dim=12)
    other.load_state_dict({k: v.clone() for k, v in state.items()})
    context = torch.randn(2, 3, 12)
    torch.testing.assert_close(other(x, context), cross(x, context))


def test_self_attention_is_bidirectional_first_token_sees_last():
    torch.manual_seed(0)
    attn = SelfAttention(16, 2)
    x = torch.randn(1, 5, 16)
    changed = x.clone()
    changed[:, -1] += 1.0
    assert (attn(x)[:, 0] - attn(changed)[:, 0]).abs().max() > 1e-4


def test_qk_norm_gives_unit_rms_queries_per_head():
    attn = SelfAttention(16, 2, qk_norm=True, eps=1e-6)
    q = split_heads(torch.randn(1, 3, 16) * 5, 8)
    rms = attn.q_norm(q).pow(2).mean(-1).sqrt()
    torch.testing.assert_close(rms, torch.ones_like(rms), atol=1e-4, rtol=0)
    assert sum(p.numel() for p in attn.q_norm.parameters()) == 8


def test_cross_attention_ignores_masked_context_tokens_within_1e6():
    torch.manual_seed(0)
    attn = CrossAttention(16, 2, context_dim=12, qk_norm=True)
    x, context = torch.randn(2, 6, 16), torch.randn(2, 5, 12)
    keep = torch.tensor([[True, True, True, False, False], [True] * 5])
    changed = context.clone()
    changed[0, 3:] = torch.randn(2, 12) * 10
    assert (attn(x, context, keep) - attn(x, changed, keep)).abs().max() <= 1e-6
    # the same change is visible where the tokens are kept
    assert (attn(x, context, None)[0] - attn(x, changed, None)[0]).abs().max() > 1e-3


def test_cross_attention_with_no_kept_token_outputs_zero_not_nan():
    attn = CrossAttention(8, 2)
    out = attn(torch.randn(2, 3, 8), torch.randn(2, 4, 8), torch.tensor([[False] * 4, [True, False, False, False]]))
    assert torch.isfinite(out).all()
    assert out[0].abs().max() == 0 and out[1].abs().max() > 0


def test_swiglu_matches_formula():
    torch.manual_seed(0)
    ffn = SwiGLU(8, 20)
    x = torch.randn(3, 8)
    expected = ffn.w2(torch.nn.functional.silu(ffn.w1(x)) * ffn.w3(x))
    torch.testing.assert_close(ffn(x), expected)
    assert sum(p.numel() for p in ffn.parameters()) == 3 * 8 * 20


def test_modulate_and_gate_numbers():
    x = torch.ones(1, 2, 3)
    shift, scale, gate = torch.tensor([[1.0, 0.0, -1.0]]), torch.tensor([[0.0, 1.0, 2.0]]), torch.tensor([[0.5, 0, 2]])
    assert modulate(x, shift, scale)[0, 0].tolist() == [2.0, 2.0, 2.0]
    assert gated(x, gate)[0, 1].tolist() == [0.5, 0.0, 2.0]


def test_modulation_starts_at_zero_with_shape_b_n_d():
    ada, table = AdaLNModulation(8, 6), ModulationTable(8, 6)
    out = ada(torch.randn(3, 8))
    assert out.shape == (3, 6, 8) and out.abs().max() == 0
    assert table(out).shape == (3, 6, 8) and table(out).abs().max() == 0


def test_patch_grid_rejects_non_divisible_sizes_naming_them():
    assert patch_grid((4, 8, 6), (1, 2, 2)) == (4, 4, 3)
    with pytest.raises(ValueError, match=r"W=7 is not divisible by the patch size 2"):
        patch_grid((4, 8, 7), (1, 2, 2))


def test_unpatchify_inverts_patchify_with_identity_weights():
    patch = (1, 2, 2)
    embed, unembed = Patchify(3, 12, patch), Unpatchify(12, 3, patch)
    with torch.no_grad():
        embed.proj.weight.copy_(torch.eye(12).reshape(12, 3, 1, 2, 2))
        embed.proj.bias.zero_()
        unembed.proj.weight.copy_(torch.eye(12))
        unembed.proj.bias.zero_()
    x = torch.randn(2, 3, 3, 4, 6)
    tokens = embed(x)
    assert tokens.shape == (2, 3 * 2 * 3, 12)
    torch.testing.assert_close(unembed(tokens, (3, 2, 3)), x)
    # token order is time-major: token 1 is the patch at (t=0, h=0, w=1)
    torch.testing.assert_close(tokens[0, 1].reshape(3, 2, 2), x[0, :, 0, 0:2, 2:4])


def test_position_embedding_is_sum_of_axis_tables_with_slicing():
    pos = FactorizedPositionEmbedding(4, max_t=3, max_h=5, max_w=6)
    emb = pos(2, 3, 4)
    assert emb.shape == (1, 2 * 3 * 4, 4)
    index = (1 * 3 + 2) * 4 + 3  # (t=1, h=2, w=3)
    torch.testing.assert_close(emb[0, index], pos.t_table[1] + pos.h_table[2] + pos.w_table[3])


def test_position_table_interpolates_linearly_when_grid_is_larger():
    table = torch.tensor([[0.0, 10.0], [2.0, 30.0]])
    assert torch.equal(fit_table(table, 1), table[:1])
    torch.testing.assert_close(fit_table(table, 3), torch.tensor([[0.0, 10.0], [1.0, 20.0], [2.0, 30.0]]))
    pos = FactorizedPositionEmbedding(2, max_t=2, max_h=1, max_w=1)
    with torch.no_grad():
        pos.t_table.copy_(table)
        pos.h_table.zero_()
        pos.w_table.zero_()
    torch.testing.assert_close(pos(5, 1, 1)[0, 2], torch.tensor([1.0, 20.0]))


def test_position_resize_makes_interpolation_permanent():
    torch.manual_seed(0)
    pos = FactorizedPositionEmbedding(4, max_t=2, max_h=3, max_w=3)
    before = pos(4, 3, 6).detach()
    old_h = pos.h_table.detach().clone()
    pos.resize(t=4, w=6)
    assert pos.max_grid == (4, 3, 6)
    assert torch.equal(pos.h_table.detach(), old_h)
    torch.testing.assert_close(pos(4, 3, 6), before)
    torch.testing.assert_close(interpolate_table(old_h, 3), old_h)


def test_sincos_position_start_separates_axes_and_positions():
    pos = FactorizedPositionEmbedding(12, max_t=4, max_h=3, max_w=3, init="sincos", scale=0.5)
    t_part, h_part, w_part = axis_channels(12)
    assert (t_part, h_part, w_part) == (slice(0, 4), slice(4, 8), slice(8, 12))
    # each axis lives in its own channels, so the axes cannot be mistaken for one another
    assert pos.t_table[:, 4:].abs().max() == 0 and pos.h_table[:, :4].abs().max() == 0
    assert pos.w_table[:, :8].abs().max() == 0
    # the timestep features over positions: [cos, sin] at frequencies 1 and 10000^(-1/2) = 0.01 for width 4
    expected = 0.5 * torch.tensor([math.cos(2.0), math.cos(0.02), math.sin(2.0), math.sin(0.02)])
    torch.testing.assert_close(pos.t_table[2, :4], expected)
    torch.testing.assert_close(pos.t_table[0, :4], torch.tensor([0.5, 0.5, 0.0, 0.0]))
    rows = pos.t_table.detach()
    assert torch.cdist(rows, rows).add(torch.eye(4)).min() > 0.1  # every frame is told apart
    with pytest.raises(ValueError, match="dim >= 6"):
        FactorizedPositionEmbedding(4, max_t=2, max_h=2, max_w=2, init="sincos")


def test_sincos_position_start_fits_an_odd_width():
    pos = FactorizedPositionEmbedding(7, max_t=2, max_h=2, max_w=2, init="sincos", scale=1.0)
    assert axis_channels(7)[0] == slice(0, 3)
    torch.testing.assert_close(pos.t_table[1, :3], torch.tensor([math.cos(1.0), math.sin(1.0), 0.0]))


def test_sinusoid_scales_time_by_1000():
    features = sinusoidal_embedding(torch.tensor([0.0, 0.001]), 8)
    assert features.shape == (2, 8)
    assert features[0, :4].tolist() == [1.0, 1.0, 1.0, 1.0] and features[0, 4:].abs().max() == 0
    assert features[1, 4].item() == pytest.approx(math.sin(1.0), abs=1e-6)  # highest frequency is 1


def test_timestep_embedder_distinguishes_times():
    torch.manual_seed(0)
    embedder = TimestepEmbedder(16, frequency_dim=32)
    out = embedder(torch.tensor([0.1, 0.9]))
    assert out.shape == (2, 16) and (out[0] - out[1]).abs().max() > 1e-4
