"""Normalisation layers shared by every model.

Movie Gen Video uses RMSNorm, the Llama 3 design (moviegen-facts §1.1, N3/N5/N6). PyTorch's own
:class:`torch.nn.RMSNorm` normalises over the last dimension and is used as is:

* ``RMSNorm(dim, eps=eps)`` normalises ``(B, N, D)`` tokens with a learned per-channel scale;
* ``RMSNorm(dim, eps=eps, elementwise_affine=False)`` is the parameter-free form used before an
  adaLN ``modulate`` (the modulation supplies the scale);
* ``RMSNorm(head_dim, eps=eps)`` over ``(B, heads, N, head_dim)`` is the QK-norm of attention.
"""

from __future__ import annotations

from torch.nn import RMSNorm

__all__ = ["RMSNorm"]
