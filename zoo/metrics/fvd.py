"""FVD: the Fréchet distance between Gaussians fitted to video features of real and generated clips.

Unterthiner et al. (arXiv 1812.01717); the reference setup is StyleGAN-V's ``fvd2048_16f``: the tf-hub
I3D (its TorchScript port), 400-d logits averaged over time, the first 16 frames of each clip, 2048
generated against 2048 real clips, float64 statistics. Every choice that moves the number is a field
of :class:`FVDProtocol` and is written into reports by :meth:`FVD.protocol_report`.

State is float64 sums per side (clip count, Σx, Σxxᵀ), reduced by summing across ranks, so the
result does not depend on how clips were split over devices or batches.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from pydantic import Field, model_validator
from torch import Tensor, nn
from torchmetrics import Metric

from zoo.metrics.frechet import CovarianceNorm, frechet_distance, mean_and_covariance
from zoo.models.i3d import MIN_FRAMES, ResizeMode
from zoo.registry import register
from zoo.spec.params import Params, Slot, component

SIDES = ("real", "fake")


class FVDProtocol(Params):
    """The choices behind an FVD number; two FVDs compare only when all of them (and the weights) agree."""

    covariance: CovarianceNorm = Field(
        "N", description="Covariance normalisation: 'N' (StyleGAN-V, cd-fvd) or 'n-1' (tfgan, np.cov, unbiased)."
    )
    frames: int = Field(16, ge=1, description="Frames per clip: the first `frames` of each clip; 16 is standard.")
    resize: ResizeMode = Field(
        "bilinear",
        description="How frames reach 224x224 pixels: 'bilinear' straight there (the TF reference) or "
        "'short-side-crop'. Must match the extractor's own resize mode.",
    )
    real_samples: int | None = Field(
        2048, ge=2, description="Real clips the protocol calls for; None = all real clips of the set."
    )
    fake_samples: int = Field(2048, ge=2, description="Generated clips the protocol calls for; 2048 is standard.")
    extractor: str = Field(
        "i3d", description="Name of the feature network (registry video_features name), recorded in reports."
    )

    @model_validator(mode="after")
    def _i3d_needs_frames(self) -> FVDProtocol:
        if self.extractor == "i3d" and self.frames < MIN_FRAMES:
            raise ValueError(f"I3D needs at least {MIN_FRAMES} frames per clip, the protocol takes {self.frames}")
        return self

    @property
    def name(self) -> str:
        """StyleGAN-V's name for the protocol: ``fvd2048_16f`` = 2048 generated clips of 16 frames."""
        return f"fvd{self.fake_samples}_{self.frames}f"


class FVD(Metric):
    """``update(videos (B, 3, T, H, W) in [-1, 1], real=...)``; ``compute()`` -> FVD as a float.

    ``extractor`` maps videos to features ``(B, D)``, e.g. the registered I3D,
    ``component("video_features", "i3d", weights=...).build()``; it may be None when only precomputed
    features are fed through :meth:`update_features`.
    ``feature_dim`` defaults to the extractor's ``feature_dim`` attribute, else 400 (I3D logits).
    Calling the metric like a module only updates it; call :meth:`compute` for the value.
    """

    full_state_update = False
    higher_is_better = False
    is_differentiable = False

    def __init__(
        self,
        extractor: nn.Module | Callable[[Tensor], Tensor] | None = None,
        protocol: FVDProtocol | dict[str, Any] | None = None,
        *,
        feature_dim: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.protocol = protocol if isinstance(protocol, FVDProtocol) else FVDProtocol(**(protocol or {}))
        extractor_resize = getattr(extractor, "resize", None)
        if isinstance(extractor_resize, str) and extractor_resize != self.protocol.resize:
            raise ValueError(
                f"the extractor resizes with {extractor_resize!r} but the protocol says {self.protocol.resize!r}"
            )
        self.extractor = extractor
        self.feature_dim = int(feature_dim or getattr(extractor, "feature_dim", None) or 400)
        dim = self.feature_dim
        for side in SIDES:
            self.add_state(f"{side}_count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{side}_sum", torch.zeros(dim, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{side}_outer", torch.zeros(dim, dim, dtype=torch.float64), dist_reduce_fx="sum")

    # -- updating --------------------------------------------------------------------------------------
    def features(self, videos: Tensor) -> Tensor:
        """Features ``(B, D)`` of the first ``protocol.frames`` frames of each clip, without autograd."""
        if self.extractor is None:
            raise ValueError("this FVD has no feature extractor; feed features with update_features")
        if videos.dim() != 5 or videos.shape[1] != 3:
            raise ValueError(f"expected videos (B, 3, T, H, W), got shape {tuple(videos.shape)}")
        frames = self.protocol.frames
        if videos.shape[2] < frames:
            raise ValueError(f"clips have {videos.shape[2]} frames; the protocol takes the first {frames}")
        module = self.extractor if isinstance(self.extractor, nn.Module) else None
        was_training = module.training if module is not None else False
        if module is not None:
            module.eval()
        try:
            with torch.no_grad():
                return self.extractor(videos[:, :, :frames])
        finally:
            if module is not None:
                module.train(was_training)

    def update(self, videos: Tensor | None, real: bool, *, features: Tensor | None = None) -> None:
        """Add clips to the real (``real=True``) or generated side; or pass precomputed ``features=(B, D)``."""
        if (videos is None) == (features is None):
            raise ValueError("pass either videos or features=")
        if features is None:
            features = self.features(videos)
        if features.dim() != 2 or features.shape[1] != self.feature_dim:
            raise ValueError(f"expected features (B, {self.feature_dim}), got shape {tuple(features.shape)}")
        side = "real" if real else "fake"
        values = features.detach().to(device=self.real_sum.device, dtype=torch.float64)
        setattr(self, f"{side}_count", getattr(self, f"{side}_count") + values.shape[0])
        setattr(self, f"{side}_sum", getattr(self, f"{side}_sum") + values.sum(dim=0))
        setattr(self, f"{side}_outer", getattr(self, f"{side}_outer") + values.T @ values)

    def update_features(self, features: Tensor, real: bool) -> None:
        """Add precomputed features ``(B, D)`` (e.g. cached real-set features) to one side."""
        self.update(None, real, features=features)

    def forward(self, *args: Any, **kwargs: Any) -> None:
        """Update only: a per-batch FVD is meaningless (one side is usually empty)."""
        self.update(*args, **kwargs)

    # -- results ---------------------------------------------------------------------------------------
    def statistics(self, real: bool) -> tuple[Tensor, Tensor]:
        """``(μ (D,), Σ (D, D))`` of one side, float64, with the protocol's covariance normalisation."""
        side = "real" if real else "fake"
        count = getattr(self, f"{side}_count")
        if count == 0:
            raise ValueError(f"FVD has no {side} clips yet")
        return mean_and_covariance(
            count, getattr(self, f"{side}_sum"), getattr(self, f"{side}_outer"), self.protocol.covariance
        )

    def compute(self) -> float:
        mu_real, sigma_real = self.statistics(real=True)
        mu_fake, sigma_fake = self.statistics(real=False)
        return frechet_distance(mu_real, sigma_real, mu_fake, sigma_fake)

    def protocol_report(self) -> dict[str, Any]:
        """Every protocol choice, the feature extractor and the clip counts used, for reports."""
        p = self.protocol
        with self.sync_context():
            used = {side: int(getattr(self, f"{side}_count")) for side in SIDES}
        describe = getattr(self.extractor, "describe", None)
        extractor = describe() if callable(describe) else {"name": p.extractor, "module": type(self.extractor).__name__}
        complete = used["fake"] >= p.fake_samples and (p.real_samples is None or used["real"] >= p.real_samples)
        return {
            "metric": "fvd",
            "protocol": p.name,
            "extractor": p.extractor,
            "extractor_details": extractor,
            "feature_dim": self.feature_dim,
            "frames": p.frames,
            "frame_selection": f"first {p.frames} frames of each clip",
            "input": "(B, 3, T, H, W) float RGB in [-1, 1]",
            "resize": p.resize,
            "covariance": p.covariance,
            "sqrt": "Tr(sqrt(S_real S_fake)): singular values of sqrt(S_fake) sqrt(S_real), eigh roots, float64",
            "real_samples": p.real_samples if p.real_samples is not None else "all",
            "fake_samples": p.fake_samples,
            "real_samples_used": used["real"],
            "fake_samples_used": used["fake"],
            "complete": complete,
        }


class FVDParams(Params):
    """FVD in an evaluation run: the feature network, the reference clips and the protocol."""

    features: Slot("video_features") = Field(
        default_factory=lambda: component("video_features", "i3d"),
        description="Feature network, e.g. {type: i3d, weights: <TorchScript file>, format: torchscript}.",
    )
    real: Slot("dataset") | None = Field(
        None, description="Reference clips (items with 'video' (3, T, H, W) in [-1, 1]); None = skip FVD."
    )
    covariance: CovarianceNorm = Field("N", description="Covariance normalisation: 'N' or 'n-1'.")
    frames: int = Field(16, ge=1, description="Frames per clip (the first ones).")
    real_samples: int | None = Field(2048, ge=2, description="Reference clips used; None = all of `real`.")
    fake_samples: int = Field(2048, ge=2, description="Generated clips the protocol calls for (reported).")
    batch_size: int = Field(16, ge=1, description="Reference clips per feature batch.")
    allow_random_weights: bool = Field(
        False, description="Compute FVD even with a randomly initialised feature network (tests only)."
    )


class FVDEvaluator:
    """``fvd`` for the ``evaluate`` recipe: reference features in ``prepare``, generated clips in ``update``."""

    name = "fvd"

    def __init__(self, params: FVDParams):
        self.params, self.metric = params, None

    def prepare(self, pipeline: Any) -> None:
        from zoo.data.batches import collate
        from zoo.metrics.evaluator import MetricUnavailable

        p = self.params
        if p.real is None:
            raise MetricUnavailable("FVD needs reference clips: set `real` to a dataset of videos")
        extractor = p.features.build()
        if getattr(extractor, "random_weights", False) and not p.allow_random_weights:
            raise MetricUnavailable(
                f"the '{p.features.type}' feature network has no weights here; set features.weights to its file "
                "(see the FVD page of the docs)"
            )
        resize = getattr(extractor, "resize", "bilinear")
        protocol = FVDProtocol(
            covariance=p.covariance, frames=p.frames, resize=resize if isinstance(resize, str) else "bilinear",
            real_samples=p.real_samples, fake_samples=p.fake_samples, extractor=p.features.type,
        )
        self.metric = FVD(extractor, protocol)
        dataset = p.real.build()
        count = len(dataset) if p.real_samples is None else min(p.real_samples, len(dataset))
        for start in range(0, count, p.batch_size):
            batch = collate([{"video": dataset[i]["video"]} for i in range(start, min(start + p.batch_size, count))])
            self.metric.update(batch["video"], real=True)

    def update(self, videos: Tensor, items: Any) -> None:
        self.metric.update(videos, real=False)

    def compute(self) -> dict[str, float]:
        return {"value": self.metric.compute()}

    def describe(self) -> dict[str, Any]:
        return self.metric.protocol_report()

    def per_clip(self) -> list[float] | None:
        return None


@register("metric", "fvd", params=FVDParams, description="Fréchet Video Distance with a pinned protocol.")
def build_fvd(p: FVDParams) -> FVDEvaluator:
    return FVDEvaluator(p)
