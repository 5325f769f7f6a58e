"""Pieces every recipe shares: the model reference, initial weights and Lightning trainer settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, PositiveInt

from zoo.errors import ZooError
from zoo.io.weights import load_safetensors, load_state_dict_into
from zoo.pipeline import with_tied_aliases
from zoo.spec.params import Params

if TYPE_CHECKING:
    import torch

    from zoo.pipeline import Pipeline


class ModelRef(Params):
    """Which preset to build, with dotlist overrides applied to it."""

    preset: str = Field(description="Preset name, spec path or URI (e.g. 'moviegen-video-tiny').")
    overrides: list[str] = Field(default_factory=list, description="Dotlist overrides of the preset, 'a.b=1'.")


class InitWeights(Params):
    """A weights file loaded into the built pipeline before training."""

    uri: str = Field(description="safetensors file: zoo://, a path, file://, hf:// or any fsspec URI.")
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$", description="Expected sha256, verified first.")
    components: list[str] = Field(
        default_factory=list,
        description="Roles to take from the file (e.g. [autoencoder]); empty = every key, strictly.",
    )
    exclude: list[str] = Field(
        default_factory=list,
        description="Key prefixes (e.g. backbone.patchify) left out of the file: those entries keep their fresh "
        "initialisation, so a model whose patch size changed can start from the rest of an older one.",
    )
    grow: list[str] = Field(
        default_factory=list,
        description="Key prefixes (e.g. backbone.blocks) whose entries may be smaller than the model's along any "
        "dimension: each fills the leading slice of the fresh tensor, so a model with a wider FFN starts from a "
        "narrower one.",
    )


class TrainerParams(Params):
    """Settings handed to ``lightning.Trainer`` (the loop, devices and precision are Lightning's)."""

    accelerator: str = Field("auto", description="'cpu', 'gpu' or 'auto'.")
    devices: PositiveInt | Literal["auto"] = Field(1, description="Devices per node.")
    num_nodes: PositiveInt = Field(1, description="Nodes (torchrun / SLURM launch).")
    precision: Literal["32-true", "bf16-mixed", "bf16-true", "16-mixed"] = Field(
        "32-true", description="Lightning precision plugin."
    )
    log_every_n_steps: PositiveInt = Field(10, description="Logging interval in steps.")
    checkpoint_every_n_steps: PositiveInt = Field(200, description="Save last.ckpt every N steps.")
    val_every_n_steps: PositiveInt | None = Field(None, description="Validate every N steps; None = end of stage.")
    val_batches: PositiveInt = Field(4, description="Validation batches per validation run.")
    num_workers: int = Field(0, ge=0, description="DataLoader worker processes.")
    progress_bar: bool = Field(True, description="Show the rich progress bar.")
    tensorboard: bool = Field(
        False, description="Also log to TensorBoard under <run>/tensorboard (needs `pip install tensorboard`)."
    )


def run_dir(output_dir: str, name: str) -> Path:
    """The run directory: ``output_dir`` with ``{name}`` filled in."""
    return Path(output_dir.format(name=name))


def build_pipeline(model: ModelRef, init: list[InitWeights]) -> Pipeline:
    """Build ``model`` without its shipped weights, then load each ``init`` file in order."""
    import zoo

    pipe = zoo.load(model.preset, overrides=model.overrides, weights=False)
    for weights in init:
        tensors = load_safetensors(weights.uri, sha256=weights.sha256)
        if not weights.components and not weights.exclude and not weights.grow:
            pipe.load_state(tensors)
            continue
        tree = pipe.module_tree()
        roles = weights.components or list(tree)
        keep = tuple(f"{role}." for role in roles)
        tensors = {k: v for k, v in tensors.items() if k.startswith(keep) and not _under(k, weights.exclude)}
        if not tensors:
            raise ZooError(f"{weights.uri} holds no weights for {roles} outside {weights.exclude}")
        # excluded entries load the module's own fresh values, so every other key is still checked strictly
        fresh = tree.state_dict()
        own = {k: v for k, v in fresh.items() if k.startswith(keep) and _under(k, weights.exclude)}
        grown = {k: _grown(k, v, fresh, weights.uri) for k, v in tensors.items() if _under(k, weights.grow)}
        tensors = with_tied_aliases(tree, {**tensors, **grown, **own})
        for role in roles:
            load_state_dict_into(tree[role], tensors, prefix=f"{role}.")
    return pipe


def _under(key: str, prefixes: list[str]) -> bool:
    """Whether ``key`` is one of ``prefixes`` or lies under one (``a.b`` is under ``a``, ``ab`` is not)."""
    return any(key == p or key.startswith(p.rstrip(".") + ".") for p in prefixes)


def _grown(key: str, stored: torch.Tensor, fresh: dict[str, torch.Tensor], uri: str) -> torch.Tensor:
    """The model's fresh ``key`` with ``stored`` in its leading slice; ``stored`` may be smaller, never larger.

    With a zero-initialised output projection (``zero_init_residual``) the new rows of the inputs are
    random and the new columns of the output zero, so a widened SwiGLU computes what the narrow one did.
    """
    if key not in fresh:
        return stored  # the strict load names the unknown key
    target = fresh[key]
    if stored.ndim != target.ndim or any(s > t for s, t in zip(stored.shape, target.shape)):
        raise ZooError(
            f"{uri}: {key} has shape {tuple(stored.shape)}, which does not fit in the model's "
            f"{tuple(target.shape)} (init.grow only widens)"
        )
    out = target.clone()
    out[tuple(slice(0, n) for n in stored.shape)] = stored.to(out.dtype)
    return out


def run_loggers(directory: Path, version: str, t: TrainerParams) -> list[Any]:
    """CSV metrics under ``<directory>/logs/<version>``, and TensorBoard events there too when asked for."""
    from lightning.pytorch.loggers import CSVLogger

    loggers: list[Any] = [CSVLogger(str(directory), name="logs", version=version)]
    if t.tensorboard:
        try:
            from lightning.pytorch.loggers import TensorBoardLogger

            loggers.append(TensorBoardLogger(str(directory), name="tensorboard", version=version))
        except ModuleNotFoundError as error:
            raise ZooError(f"trainer.tensorboard needs TensorBoard: pip install tensorboard ({error})") from error
    return loggers


def lightning_trainer(
    t: TrainerParams,
    *,
    strategy: Any = None,
    max_steps: int,
    grad_clip: float | None,
    root_dir: Path,
    checkpoints: Path,
    loggers: list[Any],
    callbacks: list[Any] = (),
) -> Any:
    """The ``lightning.Trainer`` every recipe runs: step-based, checkpointing ``last.ckpt`` into ``checkpoints``
    every ``t.checkpoint_every_n_steps``, validating every ``t.val_every_n_steps`` (or at the end).
    ``strategy`` (a ``model-parallel`` node's params) selects zoo's model-parallel strategy and its precision."""
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint, RichProgressBar

    extra: dict[str, Any] = {"precision": t.precision}
    if strategy is not None:
        from zoo.parallel.lightning import ZooModelParallelStrategy, lightning_precision

        extra = {"precision": lightning_precision(strategy), "strategy": ZooModelParallelStrategy(strategy)}
    return L.Trainer(
        max_steps=max_steps,
        accelerator=t.accelerator,
        devices=t.devices,
        num_nodes=t.num_nodes,
        **extra,
        gradient_clip_val=grad_clip,
        log_every_n_steps=t.log_every_n_steps,
        val_check_interval=min(t.val_every_n_steps or max_steps, max_steps),
        check_val_every_n_epoch=None,
        limit_val_batches=t.val_batches,
        num_sanity_val_steps=0,
        enable_model_summary=False,
        enable_progress_bar=t.progress_bar,
        default_root_dir=str(root_dir),
        logger=loggers,
        callbacks=[
            ModelCheckpoint(
                dirpath=str(checkpoints), save_last=True, save_top_k=0, every_n_train_steps=t.checkpoint_every_n_steps
            ),
            *([RichProgressBar()] if t.progress_bar else []),
            *callbacks,
        ],
    )


def mixed_datasets(data: Any, image_fraction: float, **video_changes: Any) -> tuple[Any, Any]:
    """``(videos, images)`` built from one dataset node (``image_fraction`` 0 and 1), as ``MixedBatches``
    needs them; either is None when ``image_fraction`` never draws it. ``video_changes`` (e.g. ``frames``)
    apply to the video dataset only."""
    videos = data.replace(image_fraction=0.0, **video_changes).build() if image_fraction < 1 else None
    images = data.replace(image_fraction=1.0).build() if image_fraction > 0 else None
    return videos, images


def keep_previous_log(metrics: Path) -> None:
    """Lightning's CSV logger starts a resumed version's metrics.csv afresh: keep the old rows beside it."""
    if metrics.exists():
        attempt = 1
        while metrics.with_name(f"metrics-{attempt}.csv").exists():
            attempt += 1
        metrics.rename(metrics.with_name(f"metrics-{attempt}.csv"))
