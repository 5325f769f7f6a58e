"""Text-to-video (and text-to-image, T = 1): Movie Gen Video's generation pipeline (paper §3).

prompt -> "FPS-16 " prefix -> text encoders + projections -> noise latents -> flow-matching ODE with
classifier-free guidance -> TAE decode -> video ``(B, 3, T, H, W)`` in [-1, 1].
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import torch
from pydantic import Field, PositiveInt, model_validator

from zoo.flow.guidance import take_rows
from zoo.models.text.conditioner import TextConditioner
from zoo.pipeline import Pipeline, build_components
from zoo.pipelines.steps import VideoOutput, backbone_velocity, module_dtype, prepare_latents, seeded_generator
from zoo.registry import register
from zoo.spec.model_spec import ModelSpec
from zoo.spec.params import Params, Slot, component


class TextToVideoParams(Params):
    """Components of a text-to-video model and its default output format."""

    autoencoder: Slot("autoencoder") = Field(description="Pixels <-> latents (the TAE).")
    text_encoders: list[Slot("text_encoder")] = Field(
        min_length=1, description="Text encoders; their projected outputs are concatenated (paper §3.1.4)."
    )
    backbone: Slot("backbone") = Field(description="The flow-matching transformer.")
    flow: Slot("flow") = Field(
        default_factory=lambda: component("flow", "flow-matching"), description="Training objective (paper §3.1.2)."
    )
    sampler: Slot("sampler") = Field(
        default_factory=lambda: component("sampler", "euler"), description="ODE solver, schedule and CFG scale."
    )
    fps: PositiveInt = Field(16, description="Default frames per second, written into the prompt (moviegen-facts §1.3).")
    frames: PositiveInt = Field(256, description="Default number of frames (16 s at 16 FPS, moviegen-facts §1.1).")
    height: PositiveInt = Field(768, description="Default frame height in pixels (moviegen-facts §1.1).")
    width: PositiveInt = Field(768, description="Default frame width in pixels (moviegen-facts §1.1).")

    @model_validator(mode="after")
    def _components_fit(self) -> TextToVideoParams:
        latent = getattr(self.autoencoder.params, "latent_channels", None)
        wanted = getattr(self.backbone.params, "in_channels", None)
        if latent is not None and wanted is not None and latent != wanted:
            raise ValueError(
                f"the backbone takes {wanted} latent channels but the autoencoder makes {latent}: "
                "set backbone.in_channels to autoencoder.latent_channels"
            )
        return self


class TextToVideoPipeline(Pipeline):
    """``pipe("a red circle moving left", steps=50, guidance=7.5, seed=0)`` -> :class:`VideoOutput`."""

    def __init__(self, spec: ModelSpec, components: dict, conditioner: TextConditioner):
        super().__init__(spec, components)
        self.conditioner = conditioner

    @torch.inference_mode()
    def __call__(
        self,
        prompt: str | Sequence[str],
        *,
        steps: int | None = None,
        guidance: float | None = None,
        seed: int | None = 0,
        frames: int | None = None,
        height: int | None = None,
        width: int | None = None,
        fps: float | None = None,
        guide: TextToVideoPipeline | None = None,
        guide_scale: float = 1.4,
        progress: bool = False,
    ) -> VideoOutput:
        """Generate one video per prompt; the same seed gives the same video.

        ``guide``: a weaker model over the same latent space (an earlier checkpoint, fewer blocks) to
        steer away from, with ``guide_scale`` (autoguidance; see :meth:`sample_latents`).
        """
        defaults = self.spec.pipeline.params
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        warn_unknown_words(prompts, self.spec.metadata.prompt_vocabulary)
        frames, fps = frames or defaults.frames, fps or defaults.fps
        latents = self.sample_latents(
            prompts, steps=steps, guidance=guidance, seed=seed, frames=frames, height=height, width=width, fps=fps,
            guide=guide, guide_scale=guide_scale, progress=progress,
        )
        autoencoder = self.autoencoder.eval()
        video = autoencoder.decode(autoencoder.denormalize(latents.to(module_dtype(autoencoder))), frames=frames)
        return VideoOutput(video.clamp(-1, 1), prompts, seed, float(fps))

    @torch.inference_mode()
    def sample_latents(
        self,
        prompts: Sequence[str],
        *,
        sampler: Any = None,
        steps: int | None = None,
        guidance: float | None = None,
        seed: int | None = 0,
        frames: int | None = None,
        height: int | None = None,
        width: int | None = None,
        fps: float | None = None,
        guide: TextToVideoPipeline | None = None,
        guide_scale: float = 1.4,
        progress: bool = False,
    ) -> torch.Tensor:
        """Normalised latents ``(B, C, t, h, w)`` for ``prompts``; ``sampler`` replaces the preset's solver.

        With a ``guide`` (autoguidance, Karras et al. 2024), the conditional velocity ``v_c`` becomes
        ``v_g + guide_scale·(v_c − v_g)``, ``v_g`` the guide's conditional velocity, before
        classifier-free guidance combines it with the unconditional one: one more backbone call per step.
        """
        defaults = self.spec.pipeline.params
        frames, height, width = frames or defaults.frames, height or defaults.height, width or defaults.width
        fps = fps or defaults.fps
        backbone, sampler = self.backbone.eval(), sampler or self.sampler
        self.conditioner.eval()
        cond = self.conditioner(list(prompts), fps=fps)
        scale = sampler.guidance if guidance is None else guidance
        null = self.conditioner.null_conditioning(len(prompts), fps=fps) if scale != 1 else None
        latent_shape = self.autoencoder.latent_shape(frames, height, width)
        generator = seeded_generator(seed)  # the initial noise, then any draws of a stochastic solver
        noise = prepare_latents(len(prompts), latent_shape, device=self.device, dtype=module_dtype(backbone),
                                generator=generator, noise_prior=self.flow.noise)
        velocity = backbone_velocity(backbone)
        if guide is not None and guide_scale != 1:
            self.check_guide(guide)
            guide.conditioner.eval()
            velocity = autoguided(velocity, backbone_velocity(guide.backbone.eval()))
            theirs = guide.conditioner(list(prompts), fps=fps)
            rows = torch.full((len(prompts),), float(guide_scale), device=self.device)
            cond = (cond, theirs, rows)
            # the unconditional branch is not autoguided (scale 1), but has the same structure, so the
            # solver still runs both of the model's branches as one 2B batch
            null = None if null is None else (null, theirs, torch.ones_like(rows))
        return sampler.sample(velocity, noise, cond=cond, null_cond=null, guidance=scale, steps=steps, progress=progress,
                              generator=generator, noise_prior=self.flow.noise)

    def check_guide(self, guide: TextToVideoPipeline) -> None:
        """Raise ValueError unless ``guide`` is a text-to-video model over this model's latent space."""
        if not isinstance(guide, TextToVideoPipeline):
            raise ValueError(f"the guide must be a text-to-video pipeline, not {type(guide).__name__}")
        ours = self.spec.pipeline.params.autoencoder.model_dump()  # flat: {type, **params}
        theirs = guide.spec.pipeline.params.autoencoder.model_dump()
        differ = sorted(key for key in ours.keys() | theirs.keys() if ours.get(key) != theirs.get(key))
        if differ:
            raise ValueError(
                f"the guide's autoencoder differs from this model's in {', '.join(differ)}: "
                "a guide must work in the same latent space"
            )


def autoguided(velocity_fn: Any, guide_fn: Any) -> Any:
    """A ``velocity_fn(x, t, (cond, guide_cond, scales))`` that pushes the model's velocity away from the guide's.

    ``scales`` ``(B,)`` is each row's guide scale: the guide runs only on the rows whose scale is not 1
    (the conditional ones), and those rows get ``v_g + scale·(v − v_g)``; the others keep ``v``.
    """

    def velocity(x: torch.Tensor, t: torch.Tensor, cond: tuple[Any, Any, torch.Tensor]) -> torch.Tensor:
        own, theirs, scales = cond
        v = velocity_fn(x, t, own)
        rows = (scales != 1).nonzero().squeeze(1)
        if rows.numel() == 0:
            return v
        v_guide = guide_fn(x[rows], t[rows], take_rows(theirs, rows))
        scale = scales[rows].to(v.dtype).view(-1, *([1] * (v.dim() - 1)))
        v = v.clone()
        v[rows] = v_guide + scale * (v[rows] - v_guide)
        return v

    return velocity


class UnknownPromptWarning(UserWarning):
    """A prompt uses words the model never saw in training; it still generates, but may ignore them."""


def warn_unknown_words(prompts: Sequence[str], vocabulary: str | None) -> None:
    """Warn (never fail) when a prompt leaves the closed vocabulary a tiny model was trained on."""
    if vocabulary != "shapes-world":
        return
    from zoo.data.shapes_world import parse_prompt

    for prompt in prompts:
        unknown = parse_prompt(prompt).unknown_words
        if unknown:
            warnings.warn(
                f"'{prompt}': this model was trained on shapes world only and does not know "
                f"{', '.join(repr(w) for w in unknown)}; the video may ignore them",
                UnknownPromptWarning,
                stacklevel=3,
            )


@register("pipeline", "text-to-video", params=TextToVideoParams, description="Movie Gen Video: text to video/image.")
def build_text_to_video(p: TextToVideoParams, *, spec: ModelSpec) -> TextToVideoPipeline:
    components = build_components(p)
    backbone_params = p.backbone.params
    width = getattr(backbone_params, "context_dim", None) or getattr(backbone_params, "dim")
    conditioner = TextConditioner(components["text_encoders"], width)
    components["text_projections"] = conditioner.projections
    return TextToVideoPipeline(spec, components, conditioner)
