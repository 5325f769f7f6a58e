"""Training losses shared by the zoo's models."""

from zoo.losses.opl import outlier_penalty_loss

__all__ = ["outlier_penalty_loss"]
