"""Classifier-free guidance: the velocity combination and batching of conditioning structures.

A conditioning structure is a tensor, ``None``, or a tuple/list/dict of them, nested to any depth;
every tensor leaf has the batch on dim 0 (e.g. text tokens ``(B, N, D)``, a mask ``(B, N)``).
Conditional and unconditional passes are run as one batch of ``2B``: ``concat_batch(cond, null_cond)``
before the model call, ``v.chunk(2)`` after it.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor


def cfg_combine(v_cond: Tensor, v_uncond: Tensor, scale: float) -> Tensor:
    """``v_u + scale·(v_c − v_u)``; scale 1 gives the conditional velocity, 0 the unconditional."""
    if scale == 1.0:
        return v_cond
    return v_uncond + scale * (v_cond - v_uncond)


def batch_size_of(cond: Any) -> int | None:
    """The dim-0 size of the first tensor leaf of ``cond``, or None when it holds no tensor."""
    if isinstance(cond, Tensor):
        return cond.shape[0] if cond.dim() > 0 else None
    if isinstance(cond, dict):
        leaves = cond.values()
    elif isinstance(cond, (tuple, list)):
        leaves = cond
    else:
        return None
    for leaf in leaves:
        size = batch_size_of(leaf)
        if size is not None:
            return size
    return None


def can_concat(a: Any, b: Any) -> bool:
    """True when ``a`` and ``b`` have the same structure and tensor leaves that stack on dim 0.

    Tensor leaves must agree on every dim but the first; a leaf of ``b`` with batch 1 may stand for
    any batch of ``a`` (a shared null conditioning). Non-tensor leaves must be equal.
    """
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        if not (isinstance(a, Tensor) and isinstance(b, Tensor)) or a.dim() == 0 or a.dim() != b.dim():
            return False
        return a.shape[1:] == b.shape[1:] and (b.shape[0] in (1, a.shape[0]))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(can_concat(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(can_concat(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:  # objects whose equality is not a plain bool
        return False


def concat_batch(a: Any, b: Any) -> Any:
    """Concatenate two conditioning structures leaf by leaf on dim 0: ``(B, ...)`` + ``(B, ...)`` -> ``(2B, ...)``.

    A batch-1 leaf of ``b`` is expanded to the batch of ``a``. Non-tensor leaves (equal in both) are
    kept once. Check with :func:`can_concat` first; mismatches raise ValueError.
    """
    if isinstance(a, Tensor):
        if not can_concat(a, b):
            other = tuple(b.shape) if isinstance(b, Tensor) else type(b).__name__
            raise ValueError(f"cannot batch conditioning of shape {tuple(a.shape)} with {other}")
        if b.shape[0] != a.shape[0]:
            b = b.expand(a.shape[0], *b.shape[1:])
        return torch.cat([a, b.to(a.dtype)], dim=0)
    if isinstance(a, dict):
        return {k: concat_batch(a[k], b[k]) for k in a}
    if isinstance(a, (tuple, list)):
        return _same_sequence(a, [concat_batch(x, y) for x, y in zip(a, b)])
    return a


def split_batch(x: Any, parts: int = 2) -> list[Any]:
    """Inverse of :func:`concat_batch`: split every tensor leaf into ``parts`` equal chunks on dim 0."""
    if isinstance(x, Tensor):
        return list(x.chunk(parts, dim=0))
    if isinstance(x, dict):
        pieces = {k: split_batch(v, parts) for k, v in x.items()}
        return [{k: pieces[k][i] for k in x} for i in range(parts)]
    if isinstance(x, (tuple, list)):
        pieces = [split_batch(v, parts) for v in x]
        return [_same_sequence(x, [p[i] for p in pieces]) for i in range(parts)]
    return [x] * parts


def take_rows(x: Any, rows: Tensor) -> Any:
    """The batch rows ``rows`` (indices into dim 0) of every tensor leaf; other leaves are kept."""
    if isinstance(x, Tensor):
        return x[rows] if x.dim() > 0 else x
    if isinstance(x, dict):
        return {k: take_rows(v, rows) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return _same_sequence(x, [take_rows(v, rows) for v in x])
    return x


def _same_sequence(like: tuple | list, items: list[Any]) -> tuple | list:
    """``items`` as a sequence of the type of ``like`` (list, tuple or named tuple)."""
    if hasattr(like, "_fields"):
        return type(like)(*items)
    return type(like)(items)


def guided_velocity(
    velocity_fn: Callable[[Tensor, Tensor, Any], Tensor],
    x: Tensor,
    t: Tensor,
    cond: Any,
    null_cond: Any | None,
    scale: float,
) -> Tensor:
    """The classifier-free-guided velocity at ``x`` ``(B, ...)`` and times ``t`` ``(B,)``.

    ``scale == 1`` or ``null_cond is None``: one conditional call. Otherwise the conditional and the
    unconditional pass share one call of batch ``2B`` when the conditioning structures can be
    concatenated (see :func:`can_concat`), and run as two calls when they cannot.
    """
    if null_cond is None or scale == 1.0:
        return velocity_fn(x, t, cond)
    if batch_size_of(cond) == x.shape[0] and can_concat(cond, null_cond):
        both = velocity_fn(torch.cat([x, x]), torch.cat([t, t]), concat_batch(cond, null_cond))
        v_cond, v_uncond = both.chunk(2)
    else:
        v_cond, v_uncond = velocity_fn(x, t, cond), velocity_fn(x, t, null_cond)
    return cfg_combine(v_cond, v_uncond, scale)
