"""Import-time compatibility shims, applied before anything imports torchvision.

PyPI has no CPU build of torchvision: the wheel that pairs with the CPU torch is a CUDA build whose
compiled ops cannot load, and torchvision's import then fails while registering fake kernels for
``torchvision::nms``/``qnms``. timm, torchmetrics and Lightning all import torchvision, so zoo defines
those two op schemas itself when (and only when) the compiled extension cannot be loaded. The
pure-Python parts of torchvision then work; its C++ ops raise their usual "Couldn't load" error.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_torchvision_stub = None  # keep referenced: a garbage-collected Library unregisters its ops


def _torchvision_ops_load() -> bool:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return True  # not installed: nothing to fix
    import torch

    for location in spec.submodule_search_locations:
        for lib in sorted(Path(location).glob("_C*.so")) + sorted(Path(location).glob("_C*.pyd")):
            try:
                torch.ops.load_library(str(lib))
                return True
            except (OSError, RuntimeError):
                return False
    return True  # no compiled extension shipped: torchvision handles that itself


def apply_torchvision_shim() -> bool:
    """Define torchvision's op schemas if its compiled ops cannot load. Returns True if applied."""
    global _torchvision_stub
    if _torchvision_stub is not None:
        return True
    import sys

    if "torchvision" in sys.modules or _torchvision_ops_load():
        return False
    import torch

    _torchvision_stub = torch.library.Library("torchvision", "DEF")
    for op in ("nms", "qnms"):
        _torchvision_stub.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    return True
