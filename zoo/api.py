"""The public Python API: ``zoo.load``, ``zoo.list``, ``zoo.list_recipes``, ``zoo.info``."""

from __future__ import annotations

import builtins
import fnmatch
import logging
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from zoo.errors import ZooError
from zoo.pipeline import Pipeline
from zoo.registry import KINDS, REGISTRY
from zoo.spec import catalog
from zoo.spec.load import load_spec
from zoo.spec.model_spec import ModelSpec, WeightsSpec

log = logging.getLogger("zoo")

_DTYPE_BYTES = {torch.float32: 4, torch.float16: 2, torch.bfloat16: 2, torch.float64: 8}


def list(pattern: str = "*", kind: str | None = None) -> builtins.list[str]:  # noqa: A001 - timm-style name
    """Names matching a glob ``pattern``: shipped presets, or registered entries of a registry ``kind``.

    ``zoo.list("moviegen-*")`` lists presets; ``zoo.list(kind="backbone")`` lists backbone types.
    """
    if kind is None or kind == "preset":
        return catalog.names("specs", pattern)
    if kind not in KINDS:
        from zoo.errors import UnknownNameError

        raise UnknownNameError("kind", kind, ["preset", *KINDS])
    return [n for n in REGISTRY.names(kind) if fnmatch.fnmatchcase(n, pattern)]


def list_recipes(pattern: str = "*") -> builtins.list[str]:
    """Shipped recipe names (``train/moviegen-video-tiny``) matching a glob pattern."""
    return catalog.names("recipes", pattern)


def _resolve_spec(name_or_spec: str | ModelSpec | os.PathLike[str], overrides: Sequence[str] | None) -> ModelSpec:
    if isinstance(name_or_spec, ModelSpec):
        if overrides:
            from zoo.spec.load import validate_model_spec
            from zoo.spec.compose import Composed, apply_overrides

            doc = Composed(name_or_spec.to_dict(), {})
            apply_overrides(doc, overrides)
            return validate_model_spec(doc.data, doc.marks)
        return name_or_spec
    return load_spec(os.fspath(name_or_spec), overrides=overrides or ())


def build_pipeline(spec: ModelSpec, *, meta: bool = False) -> Pipeline:
    """Build a spec's pipeline; ``meta=True`` builds on the meta device (no memory, for counting)."""
    if meta:
        with torch.device("meta"):
            return spec.pipeline.build(spec=spec)
    return spec.pipeline.build(spec=spec)


def available_memory_bytes(device: torch.device | None = None) -> int | None:
    """Memory still free on ``device`` (host MemAvailable for CPU, free memory for CUDA), if known."""
    if device is not None and device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def load(
    name_or_path: str | ModelSpec | os.PathLike[str],
    *,
    overrides: Sequence[str] | None = None,
    weights: str | WeightsSpec | bool | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Pipeline:
    """Build a preset (name, path, URI or ModelSpec) into a :class:`Pipeline`.

    ``overrides`` are dotlist strings (``["components.backbone.layers=2"]``). ``weights`` is a URI
    or WeightsSpec replacing the spec's, or ``False`` to skip loading. When the model cannot fit in
    host memory it is built on the meta device instead, with a warning, so a strategy or a sharded
    checkpoint can materialise it.
    """
    spec = _resolve_spec(name_or_path, overrides)
    meta_pipe = build_pipeline(spec, meta=True)
    n_params = sum(meta_pipe.parameter_counts().values())
    bytes_needed = n_params * _DTYPE_BYTES.get(dtype or torch.float32, 4)
    target = torch.device(device) if device is not None else torch.device("cpu")
    available = available_memory_bytes(target) if target.type in ("cpu", "cuda") else None
    if available is not None and bytes_needed > 0.8 * available:
        warnings.warn(
            f"{spec.name}: {n_params / 1e9:.2f}B parameters need {bytes_needed / 2**30:.1f} GiB "
            f"({dtype or torch.float32}) but {available / 2**30:.1f} GiB are available, so it was built on the meta "
            "device (no memory allocated). Options: materialise it sharded with a strategy preset "
            "(recipes/strategies/), load it in bf16 (dtype=torch.bfloat16) on a bigger machine, ask for "
            "device='meta' explicitly to silence this, or use a smaller preset (moviegen-video-5b, "
            "moviegen-video-tiny).",
            ResourceWarning,
            stacklevel=2,
        )
        return meta_pipe
    if target.type == "meta":
        return meta_pipe
    pipe = build_pipeline(spec)
    weights_spec = _weights_spec(spec, weights)
    if weights_spec is not None:
        pipe.load_weights(weights_spec.uri, sha256=weights_spec.sha256, strict=weights_spec.strict)
    if device is not None or dtype is not None:
        pipe.to(device=device, dtype=dtype)
    return pipe


def _weights_spec(spec: ModelSpec, weights: str | WeightsSpec | bool | None) -> WeightsSpec | None:
    if weights is False:
        return None
    if isinstance(weights, WeightsSpec):
        return weights
    if isinstance(weights, str):
        return WeightsSpec(uri=weights)
    return spec.weights


@dataclass
class ComponentInfo:
    """One row of ``zoo info``: a component's role, type and parameter count."""

    role: str
    type: str
    parameters: int


@dataclass
class Info:
    """What ``zoo.info`` reports about a preset, computed on the meta device."""

    name: str
    description: str
    pipeline: str
    components: builtins.list[ComponentInfo]
    total_parameters: int
    weights: str | None
    metadata: dict[str, Any]
    frames: int | None = None
    height: int | None = None
    width: int | None = None
    latent_shape: tuple[int, ...] | None = None
    tokens: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def info(
    name_or_path: str | ModelSpec | os.PathLike[str],
    *,
    height: int | None = None,
    width: int | None = None,
    frames: int | None = None,
    overrides: Sequence[str] | None = None,
) -> Info:
    """Parameter counts per component, latent and token shapes, and weights location of a preset.

    Nothing is allocated: the pipeline is built on the meta device. ``height``/``width`` (pixels) and
    ``frames`` default to the pipeline's own defaults when it declares them.
    """
    spec = _resolve_spec(name_or_path, overrides)
    pipe = build_pipeline(spec, meta=True)
    counts = pipe.parameter_counts()
    rows = [ComponentInfo(role, _component_type(spec, role), n) for role, n in counts.items()]
    params = spec.pipeline.params
    frames = frames or getattr(params, "frames", None)
    height = height or getattr(params, "height", None)
    width = width or getattr(params, "width", None)
    latent_shape = tokens = None
    autoencoder = pipe.components.get("autoencoder")
    if frames and height and width and hasattr(autoencoder, "latent_shape"):
        latent_shape = tuple(autoencoder.latent_shape(frames, height, width))
        backbone = pipe.components.get("backbone")
        if hasattr(backbone, "num_tokens"):
            tokens = int(backbone.num_tokens(latent_shape))
    return Info(
        name=spec.name,
        description=spec.description,
        pipeline=spec.pipeline.type,
        components=rows,
        total_parameters=sum(counts.values()),
        weights=spec.weights.uri if spec.weights else None,
        metadata=spec.metadata.model_dump(),
        frames=frames,
        height=height,
        width=width,
        latent_shape=latent_shape,
        tokens=tokens,
    )


def _component_type(spec: ModelSpec, role: str) -> str:
    head, _, index = role.partition(".")
    node = getattr(spec.pipeline.params, head, None)
    if isinstance(node, builtins.list) and index.isdigit():
        node = node[int(index)]
    elif isinstance(node, dict) and index:
        node = node.get(index)
    return getattr(node, "type", "-")

