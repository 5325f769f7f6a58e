"""Memory per GPU and step time of one training step under a ``model-parallel`` strategy, on paper.

    from zoo.parallel.estimate import estimate
    from zoo.parallel.spec import ModelParallelParams

    strategy = ModelParallelParams(tp=4, cp=2, precision="bf16-mixed", activation_checkpointing={"mode": "full"})
    e = estimate("moviegen-video", strategy, world_size=6144)
    e.total, e.fits, e.step_seconds            # GiB per GPU, vs 90 % of an H100, seconds at 40 % MFU

The preset is built on the meta device (nothing is allocated) and its parameters are sorted into the
buckets below. ``r, s, c, t`` are the degrees ``dp_replicate, dp_shard, cp, tp``; FSDP2 shards the
trained modules over ``s*c`` ranks (:mod:`zoo.parallel.spec`). All sizes are per GPU, in GiB (2**30 B).

**Trained state.** ``P`` trained parameters (backbone, text projections, unfrozen text encoders), of
which ``P_tp`` sit in the tensor-parallel block linears (attention q/k/v/out and SwiGLU w1/w2/w3,
:func:`zoo.models.video_transformer_plan.tensor_parallel_plan`); the rest is replicated over ``tp``::

    local     = P_tp / (t*s*c) + (P - P_tp) / (s*c)
    params    = local * weight_bytes   + 2 blocks / t unsharded in the compute dtype   (when s*c > 1)
    grads     = local * grad_bytes     + 1 block / t unsharded, the reduce-scatter input (when s*c > 1)
    optimizer = local * 2 * moment_bytes                                   (AdamW's two moments)

``bf16-mixed`` holds fp32 master weights, fp32 gradients and two fp32 AdamW moments: 16 bytes per
parameter, computing in bf16 (:data:`PRECISIONS`).

**Activations** of one block, per token: ``(11 + (6 + 4f)/t) * d`` elements (``f = ffn_dim/dim``), i.e.
``(34 + 8f) * d`` bytes in bf16 at ``t = 1`` (:func:`block_activation_elements`); the 11 ``d`` outside
the tensor-parallel linears also divide by ``t`` under ``sequence_parallel``. A rank holds ``N/c`` of the
``N`` video tokens, plus under ``cp > 1`` the keys and values gathered from the other ranks. Without
checkpointing every block keeps its activations; a checkpointed block keeps only its input, and one
block is recomputed at a time in backward. ``full`` checkpoints every block, ``selective`` blocks
``0, period, 2*period, ...`` (:meth:`~zoo.models.video_transformer_plan.VideoTransformerPlan.checkpoint`).

**Frozen components** (TAE, frozen text encoders) hold weights in the compute dtype: all of them when
``replicated``, ``1/(s*c)`` when ``sharded``, none on the GPU when ``offloaded``. A sharded or offloaded
module is gathered whole for its own forward, before the backbone runs, so the peak is::

    total = params + grads + optimizer + frozen_components + max(activations, frozen_gathered)

**Compute.** Model FLOPs of one sample, forward + backward (3x forward, 2 FLOPs per multiply-add)::

    6 * (N * P_token + M * P_text) + 12 * layers * dim * N * (N + M)

``N`` video tokens, ``M`` text tokens; ``P_text`` are the parameters applied to text tokens (cross-attention
keys and values, text projections); ``P_token`` the other trained parameters, except the once-per-sample
ones (timestep MLP, adaLN modulation, position tables: negligible, left out). The last term is the
attention scores and the weighted sum of values, ``4*N*(N + M)*d`` FLOPs forward per block, non-causal.
With ``M = 0`` this is the usual ``6 * P * N + 12 * L * d * N**2``. Recomputation under activation
checkpointing is not model FLOPs (it lowers the achievable MFU instead). A step is ``B * r * s`` samples
(``B`` per data-parallel replica); step time = model FLOPs / (world size * peak * MFU).

Not modelled: the activation gradients alive during backward, the CUDA context, NCCL buffers and
allocator fragmentation, covered by :data:`USABLE_FRACTION`; the patch embedding's input; the
text encoders' and the TAE's own activations (no gradients, freed before the backbone runs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from zoo.errors import ZooError
from zoo.parallel.spec import ModelParallelParams

GIB = 2**30


@dataclass(frozen=True)
class GPU:
    """One accelerator: memory and dense bf16 peak."""

    name: str
    memory_gib: float  # total memory as nvidia-smi reports it
    peak_tflops: float  # dense bf16 tensor-core TFLOP/s (no sparsity)


GPUS: dict[str, GPU] = {
    # H100 SXM5 80 GB: 989 dense bf16 TFLOP/s (NVIDIA H100 datasheet; 1979 is the 2:4-sparse figure);
    # 81,559 MiB in nvidia-smi.
    "h100": GPU("H100 SXM 80 GB", 81_559 / 1024, 989.0),
    # H200 SXM 141 GB: the H100's compute die with more and faster HBM3e, same 989 TFLOP/s (NVIDIA H200
    # datasheet); 143,771 MiB in nvidia-smi.
    "h200": GPU("H200 SXM 141 GB", 143_771 / 1024, 989.0),
}

USABLE_FRACTION = 0.9
"""Share of GPU memory the estimate may fill. Assumption: ~10 % goes to the CUDA context, NCCL buffers,
activation gradients in flight and allocator fragmentation."""


@dataclass(frozen=True)
class Precision:
    """Bytes per trained parameter of each state, and of activations and frozen weights."""

    weight: int  # persistent (master) weights
    grad: int  # gradients, and the dtype FSDP2 reduces them in
    moment: int  # each of AdamW's two moments (same dtype as the weights they update)
    compute: int  # activations, all-gathered weights, frozen weights


PRECISIONS: dict[str, Precision] = {
    "32-true": Precision(weight=4, grad=4, moment=4, compute=4),
    # Lightning bf16-mixed under FSDP2's MixedPrecisionPolicy(param_dtype=bf16, reduce_dtype=fp32)
    # (zoo.parallel.plans): fp32 master weights and moments, fp32 gradient reduction, bf16 compute.
    "bf16-mixed": Precision(weight=4, grad=4, moment=4, compute=2),
    # Lightning bf16-true: the model, its gradients and AdamW's moments are all bf16.
    "bf16-true": Precision(weight=2, grad=2, moment=2, compute=2),
    # torchao float8 training keeps bf16-mixed's states; its float8 casts of Linear inputs are transient.
    "fp8": Precision(weight=4, grad=4, moment=4, compute=2),
}

# -- activations of one block, in elements per token per model-width unit d ------------------------
# Counted like Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models"
# §4.1 (their GPT block: 34*s*b*h bytes), for zoo's Llama-style adaLN block (zoo.models.video_transformer)
# run eagerly, with flash SDPA (saves q, k, v, output and a per-head log-sum-exp, not the N x N scores)
# and no dropout. tests/parallel/test_estimate.py measures one block's saved tensors against these.
OUTSIDE_TP_ELEMENTS = 11
"""Full width on every TP rank (1/tp under sequence parallel): self-attention norm input, normalised,
modulated (q/k/v input) and output projection's output (kept for the gate) 4; cross-attention norm
input, normalised and scaled (q input) 3; FFN norm input, normalised, modulated and w2's output 4."""
INSIDE_TP_ELEMENTS = 6
"""Split over TP ranks: self-attention q, k, v and its output (= out-projection input) 4; cross-attention
q and its output 2."""
INSIDE_TP_FFN_ELEMENTS = 4
"""Split over TP ranks, per FFN-width unit: SwiGLU's w1 x, w3 x, silu(w1 x) and their product (w2 input)."""
FINAL_LAYER_ELEMENTS = 3
"""After the blocks, on all N tokens (the sequence is gathered before it): norm input, normalised, modulated."""


def block_activation_elements(dim: int, ffn_dim: int, tp: int = 1, sequence_parallel: bool = False) -> float:
    """Activation elements one block keeps per token on one TP rank (no checkpointing)."""
    outside = OUTSIDE_TP_ELEMENTS / (tp if sequence_parallel else 1)
    inside = (INSIDE_TP_ELEMENTS + INSIDE_TP_FFN_ELEMENTS * ffn_dim / dim) / tp
    return (outside + inside) * dim


def train_flops(
    *, per_token: int, per_text_token: int, layers: int, dim: int, tokens: int, text_tokens: int = 0
) -> float:
    """Model FLOPs of one sample, forward + backward (formula in the module docstring)."""
    matmuls = 6 * (tokens * per_token + text_tokens * per_text_token)
    attention = 12 * layers * dim * tokens * (tokens + text_tokens)
    return float(matmuls + attention)


# -- what the estimate reads off a model ----------------------------------------------------------
@dataclass(frozen=True)
class ModelShape:
    """Parameter buckets and sizes of a video pipeline (see the module docstring for the buckets)."""

    name: str
    layers: int
    dim: int
    heads: int
    ffn_dim: int
    tokens: int | None  # video tokens of one sample at the preset's default size
    text_tokens: int  # conditioning tokens of one sample: the text encoders' max_tokens, summed
    trained: int  # P
    tensor_parallel: int  # P_tp
    per_text_token: int  # P_text
    per_sample: int  # applied once per sample: timestep MLP, adaLN modulation, position tables
    block: int  # parameters of one block (one FSDP2 unit)
    frozen: tuple[tuple[str, int], ...]  # (role, parameters) of each frozen module

    @property
    def per_token(self) -> int:
        """P_token: trained parameters applied to every video token."""
        return self.trained - self.per_text_token - self.per_sample


def backbone_buckets(backbone: Any) -> dict[str, int]:
    """``{trained, tensor_parallel, per_text_token, per_sample, block}`` of a video transformer."""
    from zoo.models.video_transformer_plan import tensor_parallel_plan

    split, text_side = set(tensor_parallel_plan()), {"cross_attn.k", "cross_attn.v"}
    once = ("t_embedder.", "shared_modulation.", "pos_embed.", "final.modulation.")
    counts = dict.fromkeys(("trained", "tensor_parallel", "per_text_token", "per_sample"), 0)
    for name, param in backbone.named_parameters():
        n = param.numel()
        counts["trained"] += n
        layer = ".".join(name.split(".")[2:-1]) if name.startswith("blocks.") else ""
        counts["tensor_parallel"] += n if layer in split else 0
        counts["per_text_token"] += n if layer in text_side else 0
        counts["per_sample"] += n if name.startswith(once) or layer.startswith("modulation") else 0
    counts["block"] = sum(p.numel() for p in backbone.blocks[0].parameters())
    return counts


_SHAPES: dict[tuple[str, tuple[str, ...]], ModelShape] = {}


def model_shape(spec_or_preset: Any, overrides: Sequence[str] = ()) -> ModelShape:
    """The :class:`ModelShape` of a preset name, path or ModelSpec (cached for names and paths)."""
    key = (str(spec_or_preset), tuple(overrides)) if isinstance(spec_or_preset, str) else None
    if key in _SHAPES:
        return _SHAPES[key]
    import zoo
    from zoo.models.video_transformer import VideoTransformer

    pipe = zoo.load(spec_or_preset, overrides=list(overrides), weights=False, device="meta")
    backbone = pipe.components.get("backbone")
    if not isinstance(backbone, VideoTransformer):
        kind = type(backbone).__name__
        raise ZooError(f"{pipe.spec.name}: the estimate needs a video-transformer backbone, not {kind}")
    buckets = backbone_buckets(backbone)
    encoders = list(pipe.components.get("text_encoders") or [])
    frozen, trained_extra, text_extra = [], 0, 0
    for role, module in pipe.named_modules_by_role():
        count = sum(p.numel() for p in module.parameters())
        head, _, index = role.partition(".")
        encoder = encoders[int(index)] if head == "text_encoders" else None
        if head == "autoencoder" or (encoder is not None and getattr(encoder, "frozen", True)):
            frozen.append((role, count))
        elif role != "backbone":  # text projections, unfrozen encoders: applied to text tokens
            trained_extra, text_extra = trained_extra + count, text_extra + count
    p = backbone.params
    shape = ModelShape(
        name=pipe.spec.name,
        layers=p.layers,
        dim=p.dim,
        heads=p.heads,
        ffn_dim=p.ffn_dim,
        tokens=_default_tokens(pipe, backbone),
        text_tokens=sum(int(getattr(e, "max_tokens", 0) or 0) for e in encoders),
        trained=buckets["trained"] + trained_extra,
        tensor_parallel=buckets["tensor_parallel"],
        per_text_token=buckets["per_text_token"] + text_extra,
        per_sample=buckets["per_sample"],
        block=buckets["block"],
        frozen=tuple(frozen),
    )
    if key is not None:
        _SHAPES[key] = shape
    return shape


def _default_tokens(pipe: Any, backbone: Any) -> int | None:
    params = pipe.spec.pipeline.params
    size = [getattr(params, k, None) for k in ("frames", "height", "width")]
    autoencoder = pipe.components.get("autoencoder")
    if not all(size) or not hasattr(autoencoder, "latent_shape"):
        return None
    return int(backbone.num_tokens(tuple(autoencoder.latent_shape(*size))))


# -- the estimate -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Estimate:
    """One training step of one model under one strategy. Memory fields are GiB per GPU."""

    model: str
    gpu: str
    world_size: int
    degrees: dict[str, int]  # dp_replicate, dp_shard, cp, tp
    tokens: int  # video tokens per sample (N)
    text_tokens: int  # text tokens per sample (M)
    batch_per_replica: int  # samples per data-parallel replica (B)
    trained_parameters: int
    frozen_parameters: int
    params: float
    grads: float
    optimizer: float
    activations: float
    frozen_components: float  # resident frozen weights
    frozen_gathered: float  # the largest sharded/offloaded frozen module, gathered for its forward
    total: float
    usable: float  # USABLE_FRACTION of the GPU's memory
    fits: bool
    flops_per_step: float  # model FLOPs of the whole step, all GPUs
    step_seconds: float
    tokens_per_s_per_gpu: float
    mfu: float


def estimate(
    spec_or_preset: Any,
    strategy: ModelParallelParams,
    *,
    world_size: int,
    tokens: int | None = None,
    text_tokens: int | None = None,
    batch_per_replica: int = 1,
    gpu: str = "h100",
    mfu: float = 0.4,
    overrides: Sequence[str] = (),
) -> Estimate:
    """Estimate memory per GPU and step time of training ``spec_or_preset`` under ``strategy``.

    Args:
        spec_or_preset: preset name, path, ModelSpec, or a :class:`ModelShape` already read.
        strategy: the ``model-parallel`` node.
        world_size: number of GPUs.
        tokens: video tokens per sample; None = the preset's default video size.
        text_tokens: text tokens per sample; None = the sum of the text encoders' ``max_tokens``.
        batch_per_replica: samples per data-parallel replica per step (B).
        gpu: a key of :data:`GPUS`.
        mfu: model FLOPs utilisation assumed for the step time.
        overrides: preset overrides (``components.backbone.layers=24``).
    """
    if gpu not in GPUS:
        raise ZooError(f"unknown gpu '{gpu}'; known: {', '.join(GPUS)}")
    if not 0 < mfu <= 1:
        raise ZooError(f"mfu must be in (0, 1], got {mfu}")
    shape = spec_or_preset if isinstance(spec_or_preset, ModelShape) else model_shape(spec_or_preset, overrides)
    try:
        degrees = strategy.degrees(world_size)
    except ValueError as error:
        raise ZooError(f"strategy does not fit {world_size} GPUs: {error}") from None
    r, s, c, t = (degrees[k] for k in ("dp_replicate", "dp_shard", "cp", "tp"))
    n = tokens if tokens is not None else shape.tokens
    m = text_tokens if text_tokens is not None else shape.text_tokens
    if n is None:
        raise ZooError(f"{shape.name} has no default video size; pass the number of tokens")
    problems = [f"{shape.heads} heads do not divide by tp={t}"] if shape.heads % t else []
    problems += [f"ffn_dim {shape.ffn_dim} does not divide by tp={t}"] if shape.ffn_dim % t else []
    problems += [f"{n} tokens do not divide into cp={c} ranks"] if n % c else []
    if problems:
        raise ZooError(f"strategy does not fit {shape.name}: " + "; ".join(problems))
    bytes_ = PRECISIONS[strategy.precision]
    b, d, shard = batch_per_replica, shape.dim, s * c

    # trained state
    local = shape.tensor_parallel / (t * shard) + (shape.trained - shape.tensor_parallel) / shard
    gathered_block = shape.block / t if shard > 1 else 0.0  # FSDP2 all-gathers a block's full weights
    params = local * bytes_.weight + 2 * gathered_block * bytes_.compute
    grads = local * bytes_.grad + gathered_block * bytes_.grad
    optimizer = local * 2 * bytes_.moment

    # activations
    local_tokens = n // c
    full_block = b * local_tokens * block_activation_elements(d, shape.ffn_dim, t, strategy.sequence_parallel)
    full_block += b * 2 * d / t * ((n - local_tokens) + m)  # gathered self-attn K/V, cross-attn K/V of the text
    block_input = b * local_tokens * d / (t if strategy.sequence_parallel else 1)
    checkpointing = strategy.activation_checkpointing
    recomputed = {"none": 0, "full": shape.layers}.get(checkpointing.mode)
    if recomputed is None:
        recomputed = math.ceil(shape.layers / checkpointing.period)
    elements = recomputed * block_input + (shape.layers - recomputed) * full_block
    elements += full_block if recomputed else 0  # the block being recomputed in backward
    elements += b * n * FINAL_LAYER_ELEMENTS * d
    activations = elements * bytes_.compute

    # frozen components
    resident, gathered = 0.0, 0.0
    for role, count in shape.frozen:
        placement = strategy.frozen.get(role.partition(".")[0], "replicated")
        resident += {"replicated": count, "sharded": count / shard, "offloaded": 0}[placement] * bytes_.compute
        if placement != "replicated":
            gathered = max(gathered, count * bytes_.compute)

    total = params + grads + optimizer + resident + max(activations, gathered)
    usable = GPUS[gpu].memory_gib * USABLE_FRACTION
    per_sample = train_flops(
        per_token=shape.per_token, per_text_token=shape.per_text_token, layers=shape.layers, dim=d, tokens=n,
        text_tokens=m,
    )
    samples = b * r * s
    flops = samples * per_sample
    seconds = flops / (world_size * GPUS[gpu].peak_tflops * 1e12 * mfu)
    return Estimate(
        model=shape.name, gpu=gpu, world_size=world_size, degrees=degrees, tokens=n, text_tokens=m,
        batch_per_replica=b, trained_parameters=shape.trained,
        frozen_parameters=sum(count for _, count in shape.frozen),
        params=params / GIB, grads=grads / GIB, optimizer=optimizer / GIB, activations=activations / GIB,
        frozen_components=resident / GIB, frozen_gathered=gathered / GIB, total=total / GIB, usable=usable,
        fits=total / GIB <= usable, flops_per_step=flops, step_seconds=seconds,
        tokens_per_s_per_gpu=samples * n / seconds / world_size, mfu=mfu,
    )


def estimate_table(estimates: Sequence[Estimate], labels: Sequence[str] | None = None) -> list[list[str]]:
    """Rows for printing, one column per estimate: ``[["", label, ...], [quantity, value, ...], ...]``."""
    labels = list(labels) if labels is not None else [f"#{i}" for i in range(len(estimates))]

    def mesh(e: Estimate) -> str:
        return " x ".join(str(e.degrees[k]) for k in ("dp_replicate", "dp_shard", "cp", "tp"))

    def samples(e: Estimate) -> int:
        return e.batch_per_replica * e.degrees["dp_replicate"] * e.degrees["dp_shard"]

    rows: list[tuple[str, Any]] = [
        ("GPUs", lambda e: f"{e.world_size:,} x {e.gpu}"),
        ("mesh (replicate x shard x cp x tp)", mesh),
        ("tokens per sample (video + text)", lambda e: f"{e.tokens:,} + {e.text_tokens:,}"),
        ("samples per step", lambda e: f"{samples(e):,}"),
        ("trained / frozen parameters", lambda e: f"{_si(e.trained_parameters)} / {_si(e.frozen_parameters)}"),
        ("params GiB", lambda e: _gib(e.params)),
        ("grads GiB", lambda e: _gib(e.grads)),
        ("optimizer GiB", lambda e: _gib(e.optimizer)),
        ("activations GiB", lambda e: _gib(e.activations)),
        ("frozen components GiB (gathered)", lambda e: f"{_gib(e.frozen_components)} ({_gib(e.frozen_gathered)})"),
        ("total GiB per GPU", lambda e: _gib(e.total)),
        ("fits (usable GiB)", lambda e: f"{'yes' if e.fits else 'NO'} ({e.usable:.1f})"),
        ("model FLOPs per step", lambda e: _si(e.flops_per_step)),
        ("step seconds (at MFU)", lambda e: f"{e.step_seconds:.3g} ({e.mfu:.0%})"),
        ("tokens/s per GPU", lambda e: f"{e.tokens_per_s_per_gpu:,.0f}"),
    ]
    return [["", *labels], *([name, *(value(e) for e in estimates)] for name, value in rows)]


def _gib(x: float) -> str:
    return f"{x:.2f}" if x >= 0.1 or x == 0 else f"{x:.2g}"


def _si(x: float) -> str:
    for prefix, scale in (("E", 1e18), ("P", 1e15), ("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if x >= scale:
            return f"{x / scale:.3g}{prefix}"
    return f"{x:.3g}"
