"""Params models and component nodes: the typed objects every spec validates into.

A *component node* in YAML is a mapping whose ``type:`` names a registry entry of a kind fixed by
where the node sits (``components.backbone`` is a backbone, ``sampler.schedule`` a schedule). It
validates into a :class:`ComponentSpec`: the kind, the type name and the entry's own ``Params``.

Params models declare nested component nodes with :func:`Slot`::

    class EulerParams(Params):
        steps: int = Field(50, ge=1, description="Number of solver steps.")
        schedule: Slot("schedule") = Field(
            default_factory=lambda: component("schedule", "linear"), description="Time grid."
        )
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_serializer


class Params(BaseModel):
    """Base of every parameter model: unknown keys are errors, values are re-validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


class ComponentSpec(BaseModel):
    """A validated component node: ``kind``, registry ``type`` and that entry's ``params``."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    kind: str
    type: str
    params: Params

    @model_serializer(mode="wrap")
    def _as_yaml_node(self, handler: Any, info: Any) -> dict[str, Any]:
        # The YAML form is flat: {type: name, **params}. Nested ComponentSpecs serialise the same way.
        body = self.params.model_dump(
            mode=info.mode,
            exclude_unset=info.exclude_unset,
            exclude_defaults=info.exclude_defaults,
            exclude_none=info.exclude_none,
            by_alias=info.by_alias,
        )
        return {"type": self.type, **body}

    def build(self, **runtime: Any) -> Any:
        """Build the component through its registry factory."""
        from zoo.registry import get

        return get(self.kind, self.type).build(self.params, **runtime)

    def replace(self, **changes: Any) -> ComponentSpec:
        """A copy with some params changed (validated), e.g. ``spec.replace(layers=4)``."""
        data = {**self.params.model_dump(exclude_unset=True), **changes}
        return component(self.kind, self.type, **data)


@dataclass(frozen=True)
class SlotInfo:
    """Marks a Params field as a nested component node of ``kind``."""

    kind: str


def _coerce(kind: str) -> Any:
    def coerce(value: Any) -> Any:
        if isinstance(value, ComponentSpec):
            if value.kind != kind:
                raise ValueError(f"expected a {kind} component, got a {value.kind} ('{value.type}')")
            return value
        from zoo.spec.validate import validate_component

        return validate_component(kind, value)  # raises ValueError with located issues

    return coerce


def Slot(kind: str) -> Any:  # noqa: N802 - reads as a type in annotations
    """Annotation for a Params field holding a component node of ``kind``."""
    return Annotated[ComponentSpec, SlotInfo(kind), BeforeValidator(_coerce(kind))]


def component(kind: str, type: str, **params: Any) -> ComponentSpec:  # noqa: A002 - mirrors YAML
    """Build a validated ComponentSpec in Python, e.g. ``component("schedule", "linear")``."""
    from zoo.spec.validate import validate_component

    return validate_component(kind, {"type": type, **params})


def slot_of(annotation: Any) -> tuple[str, str] | None:
    """``(kind, container)`` if ``annotation`` is a slot, a list/dict of slots, or an optional slot.

    ``container`` is ``""`` for a single node, ``"list"`` or ``"dict"`` for collections.
    """
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        for meta in typing.get_args(annotation)[1:]:
            if isinstance(meta, SlotInfo):
                return meta.kind, ""
        return slot_of(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                found = slot_of(arg)
                if found:
                    return found
        return None
    if origin in (list, tuple):
        args = typing.get_args(annotation)
        inner = slot_of(args[0]) if args else None
        return (inner[0], "list") if inner and not inner[1] else None
    if origin is dict:
        args = typing.get_args(annotation)
        inner = slot_of(args[1]) if len(args) == 2 else None
        return (inner[0], "dict") if inner and not inner[1] else None
    return None


def submodel_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (through Optional, list, dict), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = submodel_of(arg)
        if found is not None:
            return found
    return None
