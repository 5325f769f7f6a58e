"""3-D rotary position embedding: scores depend on offsets, the rotation keeps norms, the backbone uses it."""

import pytest
import torch

import zoo  # noqa: F401  (applies the torchvision shim first)
from zoo.models.video_transformer import VideoTransformer, VideoTransformerParams
from zoo.nn.attention import SelfAttention
from zoo.nn.rope import apply_rope, axis_pairs, rope_angles, rope_tables

GRID = (3, 4, 5)


def token(t: int, h: int, w: int) -> int:
    return (t * GRID[1] + h) * GRID[2] + w


def rotated_scores(head_dim: int = 24) -> torch.Tensor:
    """``(N, N)`` scores of one query vector against one key vector placed at every grid position."""
    generator = torch.Generator().manual_seed(0)
    count = GRID[0] * GRID[1] * GRID[2]
    q = torch.randn(head_dim, generator=generator).expand(1, 1, count, head_dim)
    k = torch.randn(head_dim, generator=generator).expand(1, 1, count, head_dim)
    tables = rope_tables(GRID, head_dim)
    return (apply_rope(q, tables) @ apply_rope(k, tables).transpose(-1, -2))[0, 0]


def test_rotated_scores_depend_on_the_offset_between_tokens_not_their_place():
    scores = rotated_scores()
    same_offset = [scores[token(0, 0, 0), token(1, 1, 2)], scores[token(1, 2, 1), token(2, 3, 3)]]
    assert same_offset[0] == pytest.approx(same_offset[1].item(), abs=1e-4)
    # each axis's offset changes the score (the three axes have their own channels)
    for other in (token(1, 2, 1), token(2, 2, 2), token(1, 3, 2), token(1, 2, 3)):
        assert abs(scores[token(0, 0, 0), other] - same_offset[0]) > 1e-3


def test_rotation_keeps_norms_and_leaves_position_zero_unchanged():
    x = torch.randn(2, 3, GRID[0] * GRID[1] * GRID[2], 12)
    rotated = apply_rope(x, rope_tables(GRID, 12))
    torch.testing.assert_close(rotated.norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(rotated[:, :, 0], x[:, :, 0])
    assert not torch.allclose(rotated[:, :, 1], x[:, :, 1])


def test_angles_split_pairs_over_time_height_width_with_geometric_frequencies():
    assert axis_pairs(32) == (6, 5, 5)
    angles = rope_angles(GRID, 32, theta=100.0)
    assert angles.shape == (60, 16)
    # token (2, 1, 3): the first pair of each axis turns by the position, the last T pair by 2 * 100**(-5/6)
    row = angles[token(2, 1, 3)]
    assert row[0] == 2 and row[6] == 1 and row[11] == 3
    assert row[5].item() == pytest.approx(2 * 100 ** (-5 / 6))


@pytest.mark.parametrize("head_dim", [4, 7])
def test_head_dims_that_cannot_hold_three_axes_are_rejected(head_dim):
    with pytest.raises(ValueError, match="head dim"):
        axis_pairs(head_dim)


def test_backbone_rope_option_validates_the_head_dim_and_adds_no_parameters():
    with pytest.raises(ValueError, match="head dim"):
        VideoTransformerParams(dim=16, heads=4, rope=True)
    base = dict(in_channels=4, dim=24, layers=1, heads=2, ffn_dim=32, pos_max_t=2, pos_max_h=2, pos_max_w=2)
    plain, rotary = VideoTransformer(VideoTransformerParams(**base)), VideoTransformer(
        VideoTransformerParams(**base, rope=True)
    )
    assert [n for n, _ in plain.named_parameters()] == [n for n, _ in rotary.named_parameters()]


def test_backbone_with_rope_rotates_self_attention_and_nothing_else():
    base = dict(in_channels=4, dim=24, layers=2, heads=2, ffn_dim=32, pos_max_t=2, pos_max_h=2, pos_max_w=2)
    torch.manual_seed(0)
    rotary = VideoTransformer(VideoTransformerParams(**base, rope=True))
    for param in rotary.parameters():
        torch.nn.init.normal_(param, std=0.1)
    plain = VideoTransformer(VideoTransformerParams(**base))
    plain.load_state_dict(rotary.state_dict())
    x, t, context = torch.randn(2, 4, 2, 4, 4), torch.rand(2), torch.randn(2, 3, 24)
    assert not torch.allclose(rotary(x, t, context), plain(x, t, context), atol=1e-4)
    for block in rotary.blocks:  # with every rotation at angle 0 the two models agree
        block.self_attn.forward = _unrotated(block.self_attn)
    torch.testing.assert_close(rotary(x, t, context), plain(x, t, context))


def _unrotated(attention: SelfAttention):
    original = attention.forward

    def forward(x: torch.Tensor, rope: torch.Tensor | None = None) -> torch.Tensor:
        assert rope is not None and rope.shape == (2, x.shape[1], attention.head_dim)
        return original(x, rope=torch.stack([torch.ones_like(rope[0]), torch.zeros_like(rope[1])]))

    return forward
