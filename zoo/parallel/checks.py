"""Before launch: does a ``model-parallel`` node fit the world size, the model and the data?

Checked while the recipe validates, so a misfit is a spec error located at the strategy field
(``strategy.tp``), not a stack trace from inside a process group: the degrees must multiply to
``trainer.devices x trainer.num_nodes``, heads and FFN width must divide by ``tp``, and every
stage's video (and image) token count must divide by ``cp``.
"""

from __future__ import annotations

from typing import Any, Sequence

from zoo.parallel.spec import ModelParallelParams


def world_size(trainer: Any) -> int | None:
    """``devices x num_nodes``, or None when devices is 'auto'."""
    return None if trainer.devices == "auto" else trainer.devices * trainer.num_nodes


def degree_issues(p: ModelParallelParams, world: int) -> list[tuple[str, str]]:
    """The degrees against the world size; the issue is put on the field that does not fit."""
    try:
        p.degrees(world)
    except ValueError as error:
        fields = ("tp", "cp", "dp_replicate")
        blamed = [f for f in fields if world % getattr(p, f)] or [f for f in fields if getattr(p, f) > 1]
        return [(blamed[0] if blamed else "dp_shard", f"{error} (trainer.devices x trainer.num_nodes = {world})")]
    return []


def model_issues(p: ModelParallelParams, model: Any, data: Any, frames: Sequence[int]) -> list[tuple[str, str]]:
    """The backbone's plan checks and the token counts of every stage against ``cp``."""
    import zoo
    from zoo.parallel.plans import check_model

    if p.tp == 1 and p.cp == 1:
        return []
    pipe = zoo.load(model.preset, overrides=model.overrides, weights=False, device="meta")
    issues = check_model(p, pipe.backbone)
    slices = p.cp * (p.tp if p.sequence_parallel else 1)  # the token stream is split over cp (and tp with SP)
    if slices > 1 and hasattr(pipe, "autoencoder"):
        defaults = pipe.spec.pipeline.params
        height = getattr(data, "height", None) or defaults.height
        width = getattr(data, "width", None) or defaults.width
        for count in sorted({*frames, 1}):
            tokens = pipe.backbone.num_tokens(pipe.autoencoder.latent_shape(count, height, width))
            if tokens % slices:
                what = "images" if count == 1 else f"{count}-frame videos"
                by = f"cp={p.cp}" + (f" x tp={p.tp} (sequence parallel)" if slices != p.cp else "")
                issues.append(("cp", f"{what} at {height}x{width} give {tokens} tokens, which do not divide by {by}"))
    return issues


def raise_strategy_issues(p: ModelParallelParams, model: Any, trainer: Any, data: Any, frames: Sequence[int]) -> None:
    """Raise a pydantic ValidationError located at ``strategy.<field>`` for every misfit."""
    from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

    world = world_size(trainer)
    issues = degree_issues(p, world) if world is not None else []
    issues += model_issues(p, model, data, frames)
    if issues:
        raise ValidationError.from_exception_data(
            "strategy",
            [
                InitErrorDetails(
                    type=PydanticCustomError("strategy_misfit", message), loc=("strategy", field), input=getattr(p, field)
                )
                for field, message in issues
            ],
        )
