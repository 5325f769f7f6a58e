"""Pieces every recipe shares: the model reference, initial weights and Lightning trainer settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, PositiveInt

from zoo.errors import ZooError
from zoo.io.weights import load_safetensors, load_state_dict_into
from zoo.spec.params import Params

if TYPE_CHECKING:
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
        if not weights.components:
            pipe.load_state(tensors)
            continue
        keep = tuple(f"{role}." for role in weights.components)
        tensors = {k: v for k, v in tensors.items() if k.startswith(keep)}
        if not tensors:
            raise ZooError(f"{weights.uri} holds no weights for {weights.components}")
        for role in weights.components:
            load_state_dict_into(pipe.module_tree()[role], tensors, prefix=f"{role}.")
    return pipe
