"""The Fréchet distance between two Gaussians, and Gaussian statistics from accumulated sums (FID, FVD).

    d² = ‖μ₁ − μ₂‖² + Tr(Σ₁) + Tr(Σ₂) − 2 Tr((Σ₁ Σ₂)^{1/2})

The trace of the square root is taken in the symmetric form of tensorflow-gan: with A = Σ₁^{1/2},
Tr((Σ₁ Σ₂)^{1/2}) = Tr((A Σ₂ A)^{1/2}), and A Σ₂ A is symmetric positive semi-definite, so both roots come
from ``torch.linalg.eigh`` (tiny negative eigenvalues from rounding are clamped to 0), the trace is the
sum of the singular values of Σ₂^{1/2} A, and no complex part can appear, unlike ``scipy.linalg.sqrtm``
of the non-symmetric product. Everything is float64.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import Tensor

CovarianceNorm = Literal["N", "n-1"]
"""Divide the scatter matrix by N (StyleGAN-V, cd-fvd) or by n - 1 (tfgan, ``np.cov``, unbiased)."""

ArrayLike = Tensor | np.ndarray


def _float64(value: ArrayLike) -> Tensor:
    return torch.as_tensor(value).detach().to(dtype=torch.float64)


def _symmetric(matrix: Tensor) -> Tensor:
    return (matrix + matrix.transpose(-1, -2)) / 2


def sqrtm_psd(matrix: ArrayLike) -> Tensor:
    """The symmetric square root of a symmetric positive semi-definite matrix ``(D, D)``, in float64.

    Eigenvalues below 0 (rounding) are clamped to 0; the input is symmetrised first.
    """
    eigenvalues, eigenvectors = torch.linalg.eigh(_symmetric(_float64(matrix)))
    roots = eigenvalues.clamp(min=0).sqrt()
    return (eigenvectors * roots) @ eigenvectors.transpose(-1, -2)


def trace_sqrt_product(sigma1: ArrayLike, sigma2: ArrayLike) -> float:
    """Tr((Σ₁ Σ₂)^{1/2}) as Tr((A Σ₂ A)^{1/2}) with A = Σ₁^{1/2} (both symmetric roots, float64).

    That trace is the sum of the singular values of B = Σ₂^{1/2} A, since
    BᵀB = A Σ₂ A. Taking them from ``svdvals`` of B, rather than square roots of the eigenvalues of
    A Σ₂ A, keeps small ones accurate: a rounding error ε in an eigenvalue near 0 becomes √ε after the root.
    """
    product = sqrtm_psd(sigma2) @ sqrtm_psd(sigma1)
    return float(torch.linalg.svdvals(product).sum())


def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike) -> float:
    """Squared Fréchet (2-Wasserstein) distance between N(μ₁, Σ₁) and N(μ₂, Σ₂), in float64.

    ``mu*`` are ``(D,)`` means, ``sigma*`` ``(D, D)`` covariances. FID and FVD are this value (not its
    square root). Rounding can make it a tiny negative number for identical inputs; it is not clamped.
    """
    mu1, mu2, sigma1, sigma2 = (_float64(v) for v in (mu1, mu2, sigma1, sigma2))
    dim = mu1.shape[0] if mu1.dim() == 1 else -1
    for name, value, shape in (("mu1", mu1, (dim,)), ("mu2", mu2, (dim,)), ("sigma1", sigma1, (dim, dim)),
                               ("sigma2", sigma2, (dim, dim))):
        if tuple(value.shape) != shape:
            raise ValueError(f"{name} has shape {tuple(value.shape)}; expected {shape} (mu1 is {tuple(mu1.shape)})")
    mean_term = float(((mu1 - mu2) ** 2).sum())
    return mean_term + float(sigma1.trace() + sigma2.trace()) - 2.0 * trace_sqrt_product(sigma1, sigma2)


def mean_and_covariance(
    count: ArrayLike | float, total: ArrayLike, outer_total: ArrayLike, covariance: CovarianceNorm = "N"
) -> tuple[Tensor, Tensor]:
    """``(μ (D,), Σ (D, D))`` in float64 from accumulated ``n``, ``Σx (D,)`` and ``Σxxᵀ (D, D)``.

    Σ = (Σxxᵀ − n μμᵀ) / n for ``"N"``, / (n − 1) for ``"n-1"``; the two differ by the factor n / (n − 1).
    """
    n = float(torch.as_tensor(count, dtype=torch.float64))
    total, outer_total = _float64(total), _float64(outer_total)
    if covariance not in ("N", "n-1"):
        raise ValueError(f"unknown covariance normalisation {covariance!r}; use 'N' or 'n-1'")
    needed = 2 if covariance == "n-1" else 1
    if n < needed:
        raise ValueError(f"need at least {needed} samples for covariance {covariance!r}, got {n:g}")
    mean = total / n
    scatter = outer_total - n * torch.outer(mean, mean)
    return mean, _symmetric(scatter / (n if covariance == "N" else n - 1))
