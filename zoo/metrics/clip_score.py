"""CLIP score for video: torchmetrics ``CLIPScore`` semantics, averaged over evenly spaced frames.

For a clip ``v`` and its prompt ``c``, each sampled frame ``f`` scores ``100 * cos(E_f, E_c)`` with
the CLIP image and text embeddings; the clip scores the mean over its sampled frames, and the metric
is the mean over clips, clamped at 0 **after** averaging, as torchmetrics' ``CLIPScore`` does. A
one-frame clip (or a clip of identical frames) scores exactly what ``CLIPScore`` gives its frame.

Scores from different CLIP backbones (ViT-B/32, ViT-L/14, ...) are not comparable, nor are scores
over different frame samplings: :meth:`VideoCLIPScore.backbone` names all three, for reports.

Prompts longer than the text model's context (77 tokens for OpenAI CLIP) are truncated by the
tokenizer, keeping the end-of-text token that CLIP pools, as OpenAI's ``clip.tokenize(truncate=True)``
does. (torchmetrics instead slices the token ids, dropping that token; its scores differ from these
for long prompts only.) Truncated prompts are counted and warned about.

The CLIP model is a Hugging Face Hub id or a local directory holding a saved ``CLIPModel`` and
``CLIPProcessor``; :func:`clip_loader` turns either into the zero-argument ``(model, processor)``
callable that torchmetrics' own ``CLIPScore(model_name_or_path=...)`` accepts too.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from pydantic import Field, PositiveInt
from torch import Tensor, nn
from torchmetrics import Metric

from zoo.errors import OfflineError, WeightsError, ZooError
from zoo.io.uri import offline_reason
from zoo.registry import register
from zoo.spec.params import Params

DEFAULT_MODEL = "openai/clip-vit-large-patch14"
"""torchmetrics' default CLIPScore backbone (ViT-L/14, 224 px)."""

FRAME_SAMPLING = "evenly spaced: the centre frame of each of k equal segments of the clip"

ClipLoader = Callable[[], "tuple[nn.Module, Any]"]


# --- loading a CLIP model -----------------------------------------------------------------------------


def _as_tensor(features: Any) -> Tensor:
    """transformers 5 returns a ModelOutput from ``get_*_features``; the embedding is its ``pooler_output``."""
    return features if isinstance(features, Tensor) else features.pooler_output


@functools.cache
def tensor_features_clip_class() -> type[nn.Module]:
    """A ``CLIPModel`` subclass whose ``get_image_features``/``get_text_features`` return tensors.

    torchmetrics' ``CLIPScore`` calls ``.norm`` on those results, which transformers 5 returns as
    ModelOutputs; this subclass loads any CLIP checkpoint and works with both zoo and torchmetrics.
    """
    from transformers import CLIPModel

    class TensorFeaturesCLIPModel(CLIPModel):
        def get_image_features(self, *args: Any, **kwargs: Any) -> Tensor:
            return _as_tensor(super().get_image_features(*args, **kwargs))

        def get_text_features(self, *args: Any, **kwargs: Any) -> Tensor:
            return _as_tensor(super().get_text_features(*args, **kwargs))

    TensorFeaturesCLIPModel.__module__ = __name__
    TensorFeaturesCLIPModel.__qualname__ = "TensorFeaturesCLIPModel"
    globals()["TensorFeaturesCLIPModel"] = TensorFeaturesCLIPModel  # picklable by name (spawned workers)
    return TensorFeaturesCLIPModel


def local_clip_dir(model: str) -> Path | None:
    """The directory ``model`` names (a path, or ``zoo://`` inside the package), or None for a Hub id;
    a path-like name that does not exist raises."""
    if model.startswith("zoo://"):
        from zoo.io.uri import package_file

        path = package_file(model)
        if not path.is_dir():
            raise WeightsError(f"CLIP model {model!r}: {path} is not a directory shipped with zoo")
        return path
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    if model.startswith(("/", "./", "../", "~", ".\\")) or path.exists():
        raise WeightsError(f"CLIP model {model!r}: {path} is not a directory holding a CLIPModel and CLIPProcessor")
    return None


def load_clip(model: str, revision: str | None = None) -> tuple[nn.Module, Any]:
    """``(model, processor)`` from a local directory or a Hub id, in eval mode with gradients off.

    Hub ids download into the Hugging Face cache unless the offline switch is on
    (:func:`zoo.io.uri.is_offline`), in which case only the cache is used.
    """
    from transformers import CLIPProcessor

    directory = local_clip_dir(model)
    reason = offline_reason()
    source: str = str(directory) if directory is not None else model
    options: dict[str, Any] = {"local_files_only": directory is not None or reason is not None}
    if directory is None and revision is not None:
        options["revision"] = revision
    try:
        clip = tensor_features_clip_class().from_pretrained(source, **options)
        processor = CLIPProcessor.from_pretrained(source, **options)
    except OSError as error:
        if directory is None and reason is not None:
            raise OfflineError(
                f"CLIP model {model!r}: not in the Hugging Face cache and the offline switch is on ({reason}); "
                "download it once online, or pass a local directory"
            ) from error
        raise WeightsError(f"CLIP model {model!r}: cannot load ({error})") from error
    clip.eval().requires_grad_(False)
    return clip, processor


def clip_loader(model: str, revision: str | None = None) -> ClipLoader:
    """A zero-argument callable returning ``(model, processor)``: what torchmetrics' ``CLIPScore`` accepts
    as ``model_name_or_path`` for a local directory (``CLIPScore(model_name_or_path=clip_loader(dir))``)."""

    def load() -> tuple[nn.Module, Any]:
        return load_clip(model, revision)

    load.__qualname__ = f"clip_loader({model!r})"
    return load


# --- frames -------------------------------------------------------------------------------------------


def frame_indices(num_frames: int, frames: int | None) -> Tensor:
    """Indices of the frames scored in a clip of ``num_frames``: ``min(frames, num_frames)`` segment centres.

    ``frames=None`` or ``frames >= num_frames`` gives every frame; ``frames=1`` the middle frame.
    """
    if num_frames < 1:
        raise ValueError(f"a clip needs at least one frame, got {num_frames}")
    count = num_frames if frames is None else min(frames, num_frames)
    return (2 * torch.arange(count) + 1) * num_frames // (2 * count)


def to_uint8(videos: Tensor) -> Tensor:
    """Float videos in [-1, 1] (clamped) to uint8 0..255, the range the CLIP processor expects."""
    return ((videos.detach().float().clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8)


# --- the metric ---------------------------------------------------------------------------------------


class VideoCLIPScore(Metric):
    """``update(videos (B, 3, T, H, W) in [-1, 1], prompts)``; ``compute()`` -> the mean clip score, >= 0.

    ``model`` is a Hub id, a local directory, or a zero-argument callable returning ``(model, processor)``.
    ``frames`` frames per clip are scored (segment centres; None = all). :meth:`clip_scores` gives
    the raw (unclamped) per-clip scores, :meth:`backbone` and :meth:`report` what to publish with them.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False
    plot_lower_bound = 0.0
    plot_upper_bound = 100.0

    def __init__(
        self,
        model: str | ClipLoader = DEFAULT_MODEL,
        *,
        frames: int | None = 16,
        revision: str | None = None,
        image_batch: int = 64,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if frames is not None and frames < 1:
            raise ValueError(f"frames must be >= 1 or None, got {frames}")
        if image_batch < 1:
            raise ValueError(f"image_batch must be >= 1, got {image_batch}")
        if callable(model):
            self.model_name, self.revision = getattr(model, "__qualname__", repr(model)), None
            self.clip_model, self.processor = model()
        else:
            self.model_name, self.revision = model, revision
            self.clip_model, self.processor = load_clip(model, revision)
        self.frames = frames
        self.image_batch = image_batch
        self.max_text_tokens = int(self.clip_model.config.text_config.max_position_embeddings)
        self.add_state("score_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("clips", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("frames_scored", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("truncated", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    # -- embeddings ---------------------------------------------------------------------------------
    def _model_device_dtype(self) -> tuple[torch.device, torch.dtype]:
        parameter = next(self.clip_model.parameters())
        return parameter.device, parameter.dtype

    @torch.no_grad()
    def image_embeddings(self, images: Tensor) -> Tensor:
        """L2-normalised float32 embeddings ``(N, D)`` of uint8 images ``(N, 3, H, W)``."""
        device, dtype = self._model_device_dtype()
        out = []
        for chunk in images.cpu().split(self.image_batch):
            pixels = self.processor(images=list(chunk), return_tensors="pt")["pixel_values"]
            out.append(_as_tensor(self.clip_model.get_image_features(pixel_values=pixels.to(device, dtype))).float())
        features = torch.cat(out)
        return features / features.norm(p=2, dim=-1, keepdim=True)

    @torch.no_grad()
    def text_embeddings(self, prompts: Sequence[str]) -> tuple[Tensor, int]:
        """L2-normalised float32 embeddings ``(B, D)`` of ``prompts``, and how many were truncated."""
        prompts = list(prompts)
        lengths = [len(ids) for ids in self.processor.tokenizer(prompts, verbose=False)["input_ids"]]
        truncated = sum(length > self.max_text_tokens for length in lengths)
        tokens = self.processor(
            text=prompts, return_tensors="pt", padding=True, truncation=True, max_length=self.max_text_tokens
        )
        device, _ = self._model_device_dtype()
        features = _as_tensor(
            self.clip_model.get_text_features(
                input_ids=tokens["input_ids"].to(device), attention_mask=tokens["attention_mask"].to(device)
            )
        ).float()
        return features / features.norm(p=2, dim=-1, keepdim=True), truncated

    # -- scores -------------------------------------------------------------------------------------
    def _frame_scores(self, videos: Tensor, prompts: Sequence[str]) -> tuple[Tensor, int]:
        if videos.ndim != 5 or videos.shape[1] != 3:
            raise ValueError(f"expected videos (B, 3, T, H, W), got shape {tuple(videos.shape)}")
        if isinstance(prompts, str):
            raise TypeError("prompts must be a sequence of strings, one per video, not a single string")
        if len(prompts) != len(videos):
            raise ValueError(f"got {len(videos)} videos for {len(prompts)} prompts")
        batch, _, num_frames, height, width = videos.shape
        picked = to_uint8(videos[:, :, frame_indices(num_frames, self.frames).to(videos.device)])  # (B, 3, k, H, W)
        count = picked.shape[2]
        images = picked.permute(0, 2, 1, 3, 4).reshape(batch * count, 3, height, width)
        image = self.image_embeddings(images).view(batch, count, -1)
        text, truncated = self.text_embeddings(prompts)
        return 100.0 * (image * text.to(image.device)[:, None, :]).sum(-1), truncated  # (B, k)

    def frame_scores(self, videos: Tensor, prompts: Sequence[str]) -> Tensor:
        """Raw per-frame scores ``(B, k)``: ``100 * cos`` of each sampled frame with its clip's prompt."""
        return self._frame_scores(videos, prompts)[0]

    def clip_scores(self, videos: Tensor, prompts: Sequence[str]) -> Tensor:
        """Raw per-clip scores ``(B,)``: the mean over sampled frames, not clamped. Leaves the state alone."""
        return self.frame_scores(videos, prompts).mean(dim=1)

    def update(self, videos: Tensor, prompts: Sequence[str]) -> None:
        scores, truncated = self._frame_scores(videos, prompts)
        if truncated:
            warnings.warn(
                f"CLIP score: {truncated} of {len(prompts)} prompts are longer than {self.max_text_tokens} tokens "
                "and were truncated (the end-of-text token is kept)",
                UserWarning,
                stacklevel=2,
            )
        self.last_clip_scores = scores.mean(dim=1).detach().cpu()  # raw per-clip scores of this update
        self.score_sum += scores.mean(dim=1).double().sum().to(self.score_sum.device)
        self.clips += scores.shape[0]
        self.frames_scored += scores.numel()
        self.truncated += truncated

    def compute(self) -> Tensor:
        """The mean clip score, clamped at 0 after averaging (torchmetrics ``CLIPScore`` semantics)."""
        if self.clips == 0:
            raise ValueError("VideoCLIPScore.compute() called before any update()")
        mean = (self.score_sum / self.clips).float()
        return torch.clamp(mean, min=0.0)

    # -- what produced the numbers ------------------------------------------------------------------
    def backbone(self) -> dict[str, Any]:
        """The CLIP model, the frame sampling and the text truncation behind the scores: publish it with them."""
        config = self.clip_model.config
        vision, text = config.vision_config, config.text_config
        return {
            "model": self.model_name,
            "revision": self.revision,
            "architecture": (
                f"CLIP ViT patch {vision.patch_size}, {vision.image_size} px, width {vision.hidden_size}, "
                f"{vision.num_hidden_layers} layers; text width {text.hidden_size}, {text.num_hidden_layers} layers; "
                f"projection {config.projection_dim}"
            ),
            "frames": "all" if self.frames is None else self.frames,
            "frame_sampling": f"{FRAME_SAMPLING}, k = {'T' if self.frames is None else f'min({self.frames}, T)'}",
            "max_text_tokens": self.max_text_tokens,
            "truncation": f"tokenizer truncation to {self.max_text_tokens} tokens, end-of-text token kept",
            "aggregation": "100 * cos(frame, prompt), mean over frames, mean over clips, then max(., 0)",
        }

    def report(self) -> dict[str, Any]:
        """``{"clip_score", "clips", "frames_scored", "truncated_prompts", "backbone"}`` for the data seen so far."""
        return {
            "clip_score": float(self.compute()),
            "clips": int(self.clips),
            "frames_scored": int(self.frames_scored),
            "truncated_prompts": int(self.truncated),
            "backbone": self.backbone(),
        }


class CLIPScoreParams(Params):
    """Which CLIP model scores the clips, and which of their frames."""

    model: str = Field(
        DEFAULT_MODEL,
        description="Hugging Face Hub id, a local directory holding a saved CLIPModel and CLIPProcessor, or "
        "zoo://weights/... for one shipped with zoo.",
    )
    revision: str | None = Field(
        None, description="Hub revision (commit, branch or tag) for a Hub id; None = the default branch."
    )
    frames: PositiveInt | None = Field(
        16, description="Frames scored per clip, evenly spaced (segment centres); shorter clips use all; None = all."
    )
    image_batch: PositiveInt = Field(64, description="Frames per CLIP image forward pass (bounds memory).")


class CLIPScoreEvaluator:
    """``clip-score`` for the ``evaluate`` recipe; the CLIP model loads in ``prepare`` (skipped if unavailable)."""

    name = "clip-score"

    def __init__(self, params: CLIPScoreParams):
        self.params, self.metric, self.clips = params, None, []

    def prepare(self, pipeline: Any) -> None:
        from zoo.metrics.evaluator import MetricUnavailable

        p = self.params
        try:
            self.metric = VideoCLIPScore(p.model, frames=p.frames, revision=p.revision, image_batch=p.image_batch)
        except (ZooError, OSError, ValueError) as error:
            raise MetricUnavailable(
                f"CLIP model '{p.model}' is not available here ({error}); set model to a local directory "
                "or a Hub id that is cached or reachable"
            ) from error

    def update(self, videos: Tensor, items: Sequence[dict[str, Any]]) -> None:
        self.metric.update(videos, [item["prompt"] for item in items])
        self.clips.extend(self.metric.last_clip_scores.tolist())

    def compute(self) -> dict[str, float]:
        return {"value": float(self.metric.compute())}

    def describe(self) -> dict[str, Any]:
        return {"protocol": "CLIP score (torchmetrics semantics), frame-averaged", "backbone": self.metric.backbone()}

    def per_clip(self) -> list[float] | None:
        return list(self.clips)


@register(
    "metric",
    "clip-score",
    params=CLIPScoreParams,
    description="Text-video CLIP score: 100 * cos per frame, mean over frames and clips, clamped at 0.",
)
def build_clip_score(p: CLIPScoreParams) -> CLIPScoreEvaluator:
    return CLIPScoreEvaluator(p)
