"""A tiny TAE and a tiny video transformer can each fit one batch: the training signal reaches every part."""

import torch

import zoo  # noqa: F401
from zoo.flow.path import FlowMatching
from zoo.models.tae import TAE, TAEParams
from zoo.models.video_transformer import VideoTransformer, VideoTransformerParams


def _fit(loss_fn, params, steps: int, lr: float) -> tuple[float, float]:
    optimizer = torch.optim.Adam(params, lr=lr)
    first = None
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        optimizer.step()
        first = loss.item() if first is None else first
    return first, loss_fn().item()


def test_tiny_transformer_overfits_one_flow_matching_batch_10x():
    torch.manual_seed(0)
    model = VideoTransformer(
        VideoTransformerParams(in_channels=4, dim=64, layers=2, heads=4, ffn_dim=128, pos_max_t=4, pos_max_h=4, pos_max_w=4)
    )
    flow = FlowMatching()
    x1 = torch.randn(2, 4, 2, 8, 8)
    x0 = torch.randn_like(x1)
    t = torch.tensor([0.3, 0.7])
    context, mask = torch.randn(2, 5, 64), torch.ones(2, 5, dtype=torch.bool)
    xt, target = flow.interpolate(x0, x1, t), flow.target(x0, x1)
    first, last = _fit(lambda: flow.loss(model(xt, t, context, mask), target), model.parameters(), 60, 3e-3)
    assert last < first / 10, (first, last)


def test_tiny_tae_overfits_one_reconstruction_batch_10x():
    torch.manual_seed(0)
    tae = TAE(TAEParams(latent_channels=4, base_channels=8, channel_multipliers=[1, 2], blocks_per_level=1,
                        temporal_downsample=2, norm_groups=4, attention=False, temporal_tile_frames=8,
                        temporal_tile_overlap=4))
    frames = torch.linspace(-1, 1, 16).view(1, 1, 1, 4, 4).repeat(1, 3, 4, 4, 4)  # a smooth ramp
    video = torch.sin(3 * frames + torch.arange(4).view(1, 1, 4, 1, 1))

    def loss():
        return torch.nn.functional.mse_loss(tae.decode(tae.encode(video).mode(), frames=4), video)

    first, last = _fit(loss, tae.parameters(), 60, 3e-3)
    assert last < first / 10, (first, last)
