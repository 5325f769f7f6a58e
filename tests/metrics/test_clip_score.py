"""VideoCLIPScore against torchmetrics' CLIPScore, on a tiny CLIP saved in a temporary directory (nothing downloads).

The tiny model's weights are fixed so that raw scores are positive (both final layer norms get the
same bias and both projections the same matrix), so the clamp at 0 does not hide differences.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
import torch

from zoo.errors import OfflineError, WeightsError
from zoo.metrics.clip_score import VideoCLIPScore, clip_loader, frame_indices, to_uint8
from zoo.spec.params import component

MAX_TOKENS = 16  # the tiny text model's context, so truncation is easy to reach
PROMPTS = ["a red ball", "a blue cube", "two green stars"]  # each within 16 tokens (characters + 2)


def make_tiny_clip(directory: Path, *, negate_text: bool = False) -> Path:
    """Save a CLIPModel (image 32 px, patch 8, width 32, projection 16) and a char-level CLIPProcessor."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    directory.mkdir(parents=True)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in string.ascii_lowercase + string.digits + ".,'-!?":
        vocab[char] = len(vocab)
        vocab[f"{char}</w>"] = len(vocab)
    (directory / "vocab.json").write_text(json.dumps(vocab))
    (directory / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(
        str(directory / "vocab.json"),
        str(directory / "merges.txt"),
        unk_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        bos_token="<|startoftext|>",
        eos_token="<|endoftext|>",
        model_max_length=MAX_TOKENS,
    )
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
            max_position_embeddings=MAX_TOKENS, bos_token_id=0, eos_token_id=1, pad_token_id=1,
        ),
        vision_config=dict(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32,
            patch_size=8,
        ),
        projection_dim=16,
    )
    torch.manual_seed(0)
    model = CLIPModel(config).eval()
    with torch.no_grad():  # a shared direction in both embeddings makes the cosines positive
        model.vision_model.post_layernorm.bias.fill_(1.0)
        model.text_model.final_layer_norm.bias.fill_(1.0)
        model.text_projection.weight.copy_(model.visual_projection.weight)
        if negate_text:
            model.text_projection.weight.neg_()
    model.save_pretrained(directory)
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> Path:
    return make_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("ZOO_OFFLINE", "1")  # a Hub lookup would fail instead of downloading


def videos(batch: int = 3, frames: int = 5, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, frames, 40, 48, generator=generator) * 2 - 1  # (B, 3, T, H, W), not square


def torchmetrics_scores(directory: Path, frames: torch.Tensor, prompts: list[str]) -> tuple[torch.Tensor, float]:
    """torchmetrics' raw per-image scores and its CLIPScore value for uint8 images (N, 3, H, W)."""
    from torchmetrics.functional.multimodal.clip_score import _clip_score_update
    from torchmetrics.multimodal import CLIPScore

    reference = CLIPScore(model_name_or_path=clip_loader(str(directory)))
    reference.update(list(frames), prompts)
    raw, _ = _clip_score_update(list(frames), prompts, reference.model, reference.processor)
    return raw.detach(), float(reference.compute())


def test_single_frame_clip_scores_exactly_like_torchmetrics_clipscore(tiny_clip):
    clips = videos(frames=1)
    metric = VideoCLIPScore(str(tiny_clip), frames=4)
    metric.update(clips, PROMPTS)
    raw, expected = torchmetrics_scores(tiny_clip, to_uint8(clips[:, :, 0]), PROMPTS)
    assert (raw > 10).all(), "fixed weights should give clearly positive scores"
    torch.testing.assert_close(metric.clip_scores(clips, PROMPTS), raw, atol=1e-4, rtol=0)
    assert float(metric.compute()) == pytest.approx(expected, abs=1e-4)


def test_clip_of_identical_frames_scores_like_its_frame(tiny_clip):
    still = videos(frames=1, seed=1)
    clips = still.expand(-1, -1, 7, -1, -1)  # 7 copies of the frame
    metric = VideoCLIPScore(str(tiny_clip), frames=None)
    metric.update(clips, PROMPTS)
    raw, expected = torchmetrics_scores(tiny_clip, to_uint8(still[:, :, 0]), PROMPTS)
    torch.testing.assert_close(metric.frame_scores(clips, PROMPTS), raw[:, None].expand(-1, 7), atol=1e-4, rtol=0)
    assert float(metric.compute()) == pytest.approx(expected, abs=1e-4)
    assert metric.report()["frames_scored"] == 21


def test_clip_score_is_the_mean_over_the_evenly_spaced_frames(tiny_clip):
    clips = videos(batch=2, frames=8, seed=2)
    prompts = PROMPTS[:2]
    per_frame = torch.stack(
        [torchmetrics_scores(tiny_clip, to_uint8(clips[:, :, t]), prompts)[0] for t in range(8)], dim=1
    )  # (B, T), torchmetrics' raw scores frame by frame
    every = VideoCLIPScore(str(tiny_clip), frames=None)
    torch.testing.assert_close(every.clip_scores(clips, prompts), per_frame.mean(1), atol=1e-4, rtol=0)
    four = VideoCLIPScore(str(tiny_clip), frames=4)
    assert frame_indices(8, 4).tolist() == [1, 3, 5, 7]
    torch.testing.assert_close(four.clip_scores(clips, prompts), per_frame[:, [1, 3, 5, 7]].mean(1), atol=1e-4, rtol=0)
    four.update(clips[:1], prompts[:1])
    four.update(clips[1:], prompts[1:])
    assert float(four.compute()) == pytest.approx(float(per_frame[:, [1, 3, 5, 7]].mean()), abs=1e-4)
    assert four.report()["clips"] == 2 and four.report()["frames_scored"] == 8


def test_frame_sampling_takes_segment_centres_and_never_more_frames_than_the_clip_has():
    assert frame_indices(16, 1).tolist() == [8]
    assert frame_indices(16, 2).tolist() == [4, 12]
    assert frame_indices(5, 16).tolist() == [0, 1, 2, 3, 4]
    assert frame_indices(5, None).tolist() == [0, 1, 2, 3, 4]
    assert frame_indices(1, 8).tolist() == [0]


def test_videos_in_minus_one_to_one_reach_the_processor_in_the_uint8_range(tiny_clip):
    extremes = torch.tensor([-1.5, -1.0, 0.0, 1.0, 2.0])
    assert to_uint8(extremes).tolist() == [0, 0, 128, 255, 255]
    metric = VideoCLIPScore(str(tiny_clip))
    white = to_uint8(torch.ones(1, 3, 32, 32))
    pixels = metric.processor(images=list(white), return_tensors="pt")["pixel_values"]
    mean = torch.tensor(metric.processor.image_processor.image_mean)
    std = torch.tensor(metric.processor.image_processor.image_std)
    torch.testing.assert_close(pixels[0, :, 0, 0], (1 - mean) / std)  # 255 -> 1.0: the processor rescales by 1/255


def test_mean_is_clamped_at_zero_after_averaging_not_per_clip(tiny_clip, monkeypatch):
    metric = VideoCLIPScore(str(tiny_clip), frames=2)
    monkeypatch.setattr(metric, "_frame_scores", lambda v, p: (torch.tensor([[40.0, 20.0], [-10.0, -10.0]]), 0))
    metric.update(videos(batch=2), PROMPTS[:2])
    assert float(metric.compute()) == pytest.approx(10.0)  # (30 - 10) / 2; clamping each clip would give 15


def test_negative_mean_clamps_to_zero_like_torchmetrics(tmp_path):
    negated = make_tiny_clip(tmp_path / "negated-clip", negate_text=True)
    clips = videos(frames=1, seed=3)
    metric = VideoCLIPScore(str(negated), frames=1)
    metric.update(clips, PROMPTS)
    raw, expected = torchmetrics_scores(negated, to_uint8(clips[:, :, 0]), PROMPTS)
    assert (metric.clip_scores(clips, PROMPTS) < 0).all() and (raw < 0).all()
    assert float(metric.compute()) == expected == 0.0


def test_long_prompts_are_truncated_keeping_the_end_of_text_token_and_counted(tiny_clip):
    metric = VideoCLIPScore(str(tiny_clip), frames=1)
    words = " ".join(string.ascii_lowercase)  # 26 one-token words + 2 special tokens > 16
    clips = videos(batch=2, frames=1, seed=4)
    with pytest.warns(UserWarning, match="1 of 2 prompts are longer than 16 tokens"):
        metric.update(clips, [words, "a red ball"])
    first_14 = " ".join(string.ascii_lowercase[:14])  # what fits between the start and end tokens
    torch.testing.assert_close(
        metric.clip_scores(clips, [words, "a red ball"]), metric.clip_scores(clips, [first_14, "a red ball"])
    )
    assert metric.report()["truncated_prompts"] == 1


def test_report_names_the_backbone_the_frame_sampling_and_the_truncation(tiny_clip):
    evaluator = component("metric", "clip-score", model=str(tiny_clip), frames=8).build()
    evaluator.prepare(pipeline=None)
    metric = evaluator.metric
    assert isinstance(metric, VideoCLIPScore)
    evaluator.update(videos(frames=3), [{"prompt": p} for p in PROMPTS])
    assert evaluator.compute()["value"] == pytest.approx(float(metric.compute()))
    assert len(evaluator.per_clip()) == 3 and evaluator.describe()["backbone"]["model"] == str(tiny_clip)
    torch.testing.assert_close(torch.tensor(evaluator.per_clip()), metric.clip_scores(videos(frames=3), PROMPTS))
    report = metric.report()
    assert set(report) == {"clip_score", "clips", "frames_scored", "truncated_prompts", "backbone"}
    assert report["clips"] == 3 and report["frames_scored"] == 9 and report["clip_score"] > 0
    backbone = report["backbone"]
    assert backbone["model"] == str(tiny_clip)
    assert backbone["architecture"].startswith("CLIP ViT patch 8, 32 px, width 32")
    assert backbone["frames"] == 8 and "min(8, T)" in backbone["frame_sampling"]
    assert backbone["max_text_tokens"] == MAX_TOKENS and "end-of-text token kept" in backbone["truncation"]
    assert metric.backbone() == backbone


def test_bad_inputs_and_missing_models_are_clear_errors(tiny_clip, tmp_path):
    metric = VideoCLIPScore(str(tiny_clip))
    with pytest.raises(ValueError, match="3 videos for 2 prompts"):
        metric.update(videos(), PROMPTS[:2])
    with pytest.raises(ValueError, match=r"\(B, 3, T, H, W\)"):
        metric.update(videos()[:, :, 0], PROMPTS)
    with pytest.raises(WeightsError, match="not a directory"):
        VideoCLIPScore(str(tmp_path / "missing-clip"))
    with pytest.raises(OfflineError, match="offline switch is on"):  # ZOO_OFFLINE=1: the Hub is not asked
        VideoCLIPScore("zoo-tests/no-such-clip-model")


def test_truncated_prompts_keep_their_meaning_where_torchmetrics_slicing_loses_it(tiny_clip):
    # torchmetrics cuts the token ids after tokenising, dropping the end-of-text token that CLIP pools,
    # so here every long prompt pools the start token and scores the same; zoo keeps that token.
    long_prompts = [" ".join(string.ascii_lowercase), " ".join(reversed(string.ascii_lowercase))]
    frame = videos(batch=1, frames=1, seed=5)
    clips = frame.expand(2, -1, -1, -1, -1)
    ours = VideoCLIPScore(str(tiny_clip), frames=1).clip_scores(clips, long_prompts)
    with pytest.warns(UserWarning, match="longer than"):
        theirs, _ = torchmetrics_scores(tiny_clip, to_uint8(clips[:, :, 0]), long_prompts)
    assert abs(float(ours[0] - ours[1])) > 0.1
    assert float(theirs[0]) == pytest.approx(float(theirs[1]), abs=1e-5)


def test_evaluator_skips_a_model_that_is_not_available(tmp_path):
    from zoo.metrics.evaluator import MetricUnavailable

    evaluator = component("metric", "clip-score", model=str(tmp_path / "missing")).build()
    with pytest.raises(MetricUnavailable, match="not available here"):
        evaluator.prepare(pipeline=None)
