"""The object ``zoo.load`` returns: built components plus the resolved spec they came from."""

from __future__ import annotations

from typing import Any, Iterator

import torch
from torch import nn

from zoo.spec.model_spec import ModelSpec
from zoo.spec.params import ComponentSpec, Params


def build_components(params: Params, **runtime: Any) -> dict[str, Any]:
    """Build every component node (and list/dict of nodes) of a pipeline's Params, by field name."""
    built: dict[str, Any] = {}
    for name in type(params).model_fields:
        value = getattr(params, name)
        if isinstance(value, ComponentSpec):
            built[name] = value.build(**runtime)
        elif isinstance(value, list) and value and all(isinstance(v, ComponentSpec) for v in value):
            built[name] = [v.build(**runtime) for v in value]
        elif isinstance(value, dict) and value and all(isinstance(v, ComponentSpec) for v in value.values()):
            built[name] = {k: v.build(**runtime) for k, v in value.items()}
    return built


class Pipeline:
    """Components by role (``pipe.backbone``, ``pipe.text_encoders``) and the spec that built them.

    Subclasses registered as kind ``pipeline`` add ``__call__`` (generation); the base class owns
    what every pipeline shares: module access, parameter counts, device moves and weights.
    """

    def __init__(self, spec: ModelSpec, components: dict[str, Any]):
        self.spec = spec
        self.components = dict(components)

    def __getattr__(self, name: str) -> Any:
        components = self.__dict__.get("components", {})
        if name in components:
            return components[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or component '{name}'")

    def __repr__(self) -> str:
        roles = ", ".join(self.components)
        return f"{type(self).__name__}(name={self.spec.name!r}, components=[{roles}])"

    # -- modules ------------------------------------------------------------------------------
    def module_tree(self) -> nn.ModuleDict:
        """Every nn.Module component in one ModuleDict; its state_dict keys are ``role.param``."""
        tree = nn.ModuleDict()
        for role, value in self.components.items():
            if isinstance(value, nn.Module):
                tree[role] = value
            elif isinstance(value, list) and all(isinstance(v, nn.Module) for v in value):
                tree[role] = nn.ModuleList(value)
            elif isinstance(value, dict) and all(isinstance(v, nn.Module) for v in value.values()):
                tree[role] = nn.ModuleDict(value)
        return tree

    def named_modules_by_role(self) -> Iterator[tuple[str, nn.Module]]:
        """``(role, module)`` for each module component; list items as ``role.0``, ``role.1``."""
        for role, value in self.components.items():
            if isinstance(value, nn.Module):
                yield role, value
            elif isinstance(value, (list, dict)):
                items = value.items() if isinstance(value, dict) else enumerate(value)
                for key, child in items:
                    if isinstance(child, nn.Module):
                        yield f"{role}.{key}", child

    def parameter_counts(self) -> dict[str, int]:
        """Parameter count per module component (works on the meta device: nothing is allocated)."""
        return {role: sum(p.numel() for p in m.parameters()) for role, m in self.named_modules_by_role()}

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Pipeline:
        """Move every module component (in place) and return self."""
        self.module_tree().to(device=device, dtype=dtype)
        return self

    @property
    def device(self) -> torch.device:
        for param in self.module_tree().parameters():
            return param.device
        return torch.device("cpu")

    def state_dict(self) -> dict[str, torch.Tensor]:
        """All module weights keyed ``role.param`` (the layout of shipped weights files).

        Tied weights (one tensor under two names, e.g. T5's shared embedding) appear once, under the
        first name; :meth:`load_state` fills the other names back in. Weights sharded by a strategy are
        gathered whole, so then every rank must call this.
        """
        from zoo.io.weights import full_state

        state = self.module_tree().state_dict()
        aliases = tied_aliases(state)
        return full_state({k: v for k, v in state.items() if k not in aliases})

    def load_state(self, tensors: dict[str, torch.Tensor], *, strict: bool = True) -> None:
        """Load ``role.param`` tensors into the components (tied names are restored from their twin)."""
        from zoo.io.weights import load_state_dict_into

        tree = self.module_tree()
        load_state_dict_into(tree, with_tied_aliases(tree, tensors), strict=strict)

    def load_weights(self, uri: str, *, sha256: str | None = None, strict: bool = True) -> None:
        """Load a safetensors file (any supported URI) into the components, verifying sha256 if given."""
        from zoo.io.weights import load_safetensors

        self.load_state(load_safetensors(uri, sha256=sha256, device="cpu"), strict=strict)


def with_tied_aliases(module: nn.Module, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``tensors`` plus, for each tied weight of ``module`` given under one of its names only, the other names."""
    tensors = dict(tensors)
    for alias, canonical in tied_aliases(module.state_dict()).items():
        if alias not in tensors and canonical in tensors:
            tensors[alias] = tensors[canonical]
    return tensors


def tied_aliases(state: dict[str, torch.Tensor]) -> dict[str, str]:
    """``{alias: first_name}`` for state-dict entries that are views of the same tensor memory."""
    from torch.distributed.tensor import DTensor

    seen: dict[tuple, str] = {}
    aliases: dict[str, str] = {}
    for name, tensor in state.items():
        if tensor.device.type == "meta":
            continue
        if isinstance(tensor, DTensor):  # sharded: a tied weight is one DTensor object under two names
            key: tuple = ("dtensor", id(tensor))
        else:
            key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape), tensor.dtype)
        if key in seen:
            aliases[name] = seen[key]
        else:
            seen[key] = name
    return aliases
