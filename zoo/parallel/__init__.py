"""Scale-out: the ``model-parallel`` strategy node, the device mesh, per-model plans and the Lightning strategy.

See ``docs/strategies.md``. Modules import torch.distributed only when used, so validating a spec stays cheap.
"""
