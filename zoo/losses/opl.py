"""Outlier penalty loss (OPL) for autoencoder latents (moviegen-facts.md §3; N8 formula, N1).

The TAE trained with the usual VAE losses learns "spot" artifacts: a few latent positions with a very
large norm. OPL penalises positions whose distance to the frame's mean exceeds ``r`` standard deviations:

    L_OPL(X, r) = (1 / HW) * sum_i sum_j max(||X_ij - Mean(X)|| - r * ||Std(X)||, 0)

Reductions (UNCONFIRMED beyond the formula; the choice of public ports, facts §3): for every sample and
frame, Mean and Std are per channel over (H, W) (population std); ``||.||`` is the L2 norm over channels;
the ``1 / HW`` sum is a mean over positions; the result is then averaged over batch and frames. Gradients
flow through X and through its statistics.
"""

from __future__ import annotations

import torch
from torch import Tensor

OPL_R = 3.0  # facts §3 (N8, N1)


def outlier_penalty_loss(latent: Tensor, r: float = OPL_R, eps: float = 1e-12) -> Tensor:
    """Scalar OPL of a latent video ``(B, C, T, H, W)`` or latent image ``(B, C, H, W)``.

    ``eps`` (added to the variance) keeps the gradient finite for a spatially constant latent.
    """
    if latent.dim() == 4:
        latent = latent.unsqueeze(2)
    if latent.dim() != 5:
        raise ValueError(f"expected a latent (B, C, T, H, W) or (B, C, H, W), got shape {tuple(latent.shape)}")
    var, mean = torch.var_mean(latent, dim=(-2, -1), correction=0, keepdim=True)  # (B, C, T, 1, 1)
    std_norm = torch.sqrt(var + eps).norm(dim=1)  # (B, T, 1, 1)
    distance = (latent - mean).norm(dim=1)  # (B, T, H, W)
    excess = torch.relu(distance - r * std_norm)
    return excess.mean()
