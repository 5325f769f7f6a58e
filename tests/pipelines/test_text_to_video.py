import pytest
import torch

import zoo
from zoo.errors import SpecError


@pytest.fixture(scope="module")
def pipe():
    return zoo.load("moviegen-video-tiny")


def test_same_seed_same_video_and_shapes(pipe):
    out = pipe(["a red circle moving left", "a blue square"], steps=2, seed=0, frames=5, height=32, width=32)
    assert out.video.shape == (2, 3, 5, 32, 32)
    assert out.video.min() >= -1 and out.video.max() <= 1
    again = pipe(["a red circle moving left", "a blue square"], steps=2, seed=0, frames=5, height=32, width=32)
    assert torch.equal(out.video, again.video)
    other = pipe(["a red circle moving left", "a blue square"], steps=2, seed=1, frames=5, height=32, width=32)
    assert not torch.equal(out.video, other.video)
    assert out.frames_uint8().shape == (2, 5, 32, 32, 3) and out.frames_uint8().dtype == torch.uint8


def test_image_is_a_one_frame_video(pipe):
    out = pipe("a green triangle", steps=2, frames=1, height=32, width=32, guidance=1.0)
    assert out.video.shape == (1, 3, 1, 32, 32)


def test_guidance_and_prompt_reach_the_backbone(pipe, monkeypatch):
    seen = []
    real = pipe.backbone.forward
    monkeypatch.setattr(pipe.backbone, "forward", lambda x, t, c, m: seen.append(x.shape[0]) or real(x, t, c, m))
    pipe("a cat", steps=3, frames=1, height=32, width=32, guidance=7.5)
    assert seen == [2, 2, 2]  # conditional and unconditional branches in one batch per step
    seen.clear()
    pipe("a cat", steps=3, frames=1, height=32, width=32, guidance=1.0)
    assert seen == [1, 1, 1]


def test_state_dict_covers_every_trainable_part(pipe):
    keys = pipe.state_dict().keys()
    for prefix in ("autoencoder.", "backbone.", "text_encoders.0.", "text_projections.0."):
        assert any(k.startswith(prefix) for k in keys), prefix


def test_mismatched_latent_channels_are_a_spec_error():
    with pytest.raises(SpecError, match="in_channels"):
        zoo.load("moviegen-video-tiny", overrides=["components.backbone.in_channels=4"])


def test_autoencoder_preset_reconstructs_shapes():
    pipe = zoo.load("moviegen-tae-tiny")
    video = torch.rand(1, 3, 6, 32, 32) * 2 - 1
    assert pipe(video).shape == video.shape


def test_prompts_outside_the_tiny_vocabulary_warn_but_still_generate(pipe):
    from zoo.pipelines.text_to_video import UnknownPromptWarning

    with pytest.warns(UnknownPromptWarning, match="'astronaut'"):
        out = pipe("an astronaut riding a red circle", steps=2, frames=1, height=32, width=32)
    assert out.video.shape == (1, 3, 1, 32, 32)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownPromptWarning)
        pipe("a red circle moving left", steps=2, frames=1, height=32, width=32)


def test_a_guide_equal_to_the_model_changes_nothing_and_a_weaker_one_does(pipe, monkeypatch):
    prompts, kwargs = ["a red circle moving left", "a blue square"], dict(steps=3, seed=0, frames=5, height=32, width=32)
    plain = pipe(prompts, **kwargs).video
    assert torch.allclose(pipe(prompts, guide=pipe, guide_scale=3.0, **kwargs).video, plain, atol=1e-5)
    weaker = zoo.load("moviegen-video-tiny", overrides=["components.backbone.layers=4"], weights=False)  # untrained
    calls, own_calls = [], []
    real, own = weaker.backbone.forward, pipe.backbone.forward
    monkeypatch.setattr(weaker.backbone, "forward", lambda x, t, c, m: calls.append(x.shape[0]) or real(x, t, c, m))
    monkeypatch.setattr(pipe.backbone, "forward", lambda x, t, c, m: own_calls.append(x.shape[0]) or own(x, t, c, m))
    guided = pipe(prompts, guide=weaker, guide_scale=1.4, **kwargs).video
    assert calls == [2, 2, 2]  # the guide runs on the conditional branch, once per step
    assert own_calls == [4, 4, 4]  # the model's conditional and unconditional branches stay one batch
    assert not torch.allclose(guided, plain, atol=1e-3)
    calls.clear()
    assert torch.equal(pipe(prompts, guide=weaker, guide_scale=1.0, **kwargs).video, plain)
    assert calls == []


def test_a_guide_over_another_latent_space_is_refused(pipe):
    other = zoo.load("moviegen-video-tiny", overrides=["components.autoencoder.latent_motion_gain=1.0"], weights=False)
    with pytest.raises(ValueError, match="latent_motion_gain"):
        pipe("a red circle", steps=2, frames=1, height=32, width=32, guide=other)
    with pytest.raises(ValueError, match="text-to-video"):
        pipe("a red circle", steps=2, frames=1, height=32, width=32, guide=zoo.load("moviegen-tae-tiny"))


def test_autoguided_moves_only_the_rows_whose_scale_is_not_one():
    from zoo.pipelines.text_to_video import autoguided

    model = lambda x, t, c: x + c  # noqa: E731 - toy velocities over a (B, 2) "latent"
    guide_calls = []
    guide = lambda x, t, c: guide_calls.append(x.shape[0]) or torch.zeros_like(x) + c  # noqa: E731
    x, t = torch.ones(3, 2), torch.zeros(3)
    own, theirs = torch.tensor([[1.0], [2.0], [3.0]]), torch.tensor([[0.0], [0.5], [1.0]])
    v = autoguided(model, guide)(x, t, (own, theirs, torch.tensor([2.0, 1.0, 3.0])))
    assert guide_calls == [2]  # rows 0 and 2 only
    assert torch.allclose(v, torch.tensor([[4.0, 4.0], [3.0, 3.0], [10.0, 10.0]]))  # v_g + s·(v − v_g); row 1 kept
    guide_calls.clear()
    assert torch.equal(autoguided(model, guide)(x, t, (own, theirs, torch.ones(3))), x + own)
    assert guide_calls == []


@pytest.mark.parametrize("rho", [0.0, 0.9])
def test_generation_starts_from_the_flows_noise_prior(rho, monkeypatch):
    pipe = zoo.load("moviegen-video-tiny", overrides=[f"components.flow.frame_noise_correlation={rho}"])
    first = []
    real = pipe.backbone.forward
    monkeypatch.setattr(pipe.backbone, "forward", lambda x, t, c, m: first.append(x[:1].clone()) or real(x, t, c, m))
    pipe("a red circle moving left", steps=2, frames=16, height=32, width=32, guidance=1.0)
    frames = first[0][0].transpose(0, 1).reshape(first[0].shape[2], -1)  # (latent frames, C·h·w) at t = 0
    assert frames.shape[0] == 4
    correlation = torch.corrcoef(frames)[0, 1:].mean().item()
    assert abs(correlation - rho) < 0.1
