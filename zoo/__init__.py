"""zoo: declare, train, evaluate and run the Movie Gen family of media models.

Public API: :func:`load`, :func:`list`, :func:`list_recipes`, :func:`info`, :func:`register`,
:class:`Pipeline`. Import zoo before lightning, timm or torchmetrics: it applies the torchvision
compatibility shim first (see ``zoo._compat``).
"""

from zoo._compat import apply_torchvision_shim

apply_torchvision_shim()

from zoo.errors import SpecError, UnknownNameError, WeightsError, ZooError  # noqa: E402
from zoo.registry import register  # noqa: E402

__version__ = "0.1.0"

_LAZY = {
    "load": "zoo.api",
    "list": "zoo.api",
    "list_recipes": "zoo.api",
    "info": "zoo.api",
    "Pipeline": "zoo.pipeline",
}


def __getattr__(name: str):  # PEP 562: keep `import zoo` light until the API is used
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'zoo' has no attribute '{name}'")


__all__ = [
    "Pipeline",
    "SpecError",
    "UnknownNameError",
    "WeightsError",
    "ZooError",
    "info",
    "list",
    "list_recipes",
    "load",
    "register",
]
