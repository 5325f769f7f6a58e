"""Validation of merged spec data into typed objects, collecting every error at once.

Two stages, so plugins never need a global union type: each component node's ``type:`` is looked
up in the registry, then the node's keys are validated by that entry's own ``Params`` model. Nested
component nodes (``Slot`` fields) are validated first, with their own paths, so every error carries
its full dotted path and the ``file:line:col`` of the key that caused it.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from pydantic import BaseModel, ValidationError

from zoo.errors import Mark, SpecError, SpecIssue, UnknownNameError, closest
from zoo.spec.params import ComponentSpec, SlotInfo, slot_of, submodel_of

Path = tuple[Any, ...]
Marks = dict[Path, Mark]


def dotted(path: Iterable[Any]) -> str:
    """``("components", "text_encoders", 0, "d_model")`` -> ``components.text_encoders.0.d_model``."""
    return ".".join(str(p) for p in path)


def mark_for(marks: Marks | None, path: Path) -> Mark | None:
    """The mark of ``path`` or of its nearest ancestor that has one."""
    if not marks:
        return None
    path = tuple(path)
    while True:
        if path in marks:
            return marks[path]
        if not path:
            return None
        path = path[:-1]


def field_names(model: type[BaseModel]) -> list[str]:
    """The keys a model accepts (aliases where set)."""
    return [info.alias or name for name, info in model.model_fields.items()]


def fields_at(model: type[BaseModel], loc: Path) -> list[str]:
    """The valid keys of the (sub)model reached by following ``loc`` from ``model``."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return []
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part)
        if info is None:
            return []
        current = submodel_of(info.annotation)
    return field_names(current) if current is not None else []


def _slot_of_field(info: Any) -> tuple[str, str] | None:
    for meta in info.metadata:
        if isinstance(meta, SlotInfo):
            return meta.kind, ""
    return slot_of(info.annotation)


def _line_col(mark: Mark | None) -> tuple[int, int]:
    return (mark.line, mark.column) if mark else (0, 0)


_EXPECTED = re.compile(r"'([^']*)'")


class Validator:
    """Collects :class:`SpecIssue`s while validating nodes; raise :meth:`raise_if_any` at the end."""

    def __init__(self, marks: Marks | None = None):
        self.marks = marks or {}
        self.issues: list[SpecIssue] = []

    # -- issues -------------------------------------------------------------------------------
    def issue(self, path: Path, message: str, hint: str = "") -> None:
        self.issues.append(SpecIssue(dotted(path), message, mark_for(self.marks, path), hint))

    def raise_if_any(self, title: str = "") -> None:
        """Raise every collected issue at once, in file order (unlocated ones last)."""
        if self.issues:
            order = sorted(
                self.issues, key=lambda i: (i.mark is None, i.mark.source if i.mark else "", *_line_col(i.mark))
            )
            raise SpecError(order, title)

    # -- component nodes ----------------------------------------------------------------------
    def component(self, kind: str, data: Any, path: Path, type_path: Path | None = None) -> ComponentSpec | None:
        """Validate one component node of ``kind`` (a mapping with ``type:``, or a bare type name)."""
        from zoo.registry import REGISTRY

        type_path = type_path if type_path is not None else (*path, "type")
        if isinstance(data, ComponentSpec):
            if data.kind == kind:
                return data
            self.issue(path, f"expected a {kind} component, got a {data.kind} ('{data.type}')")
            return None
        if isinstance(data, str):
            data = {"type": data}
        if not isinstance(data, dict):
            self.issue(path, f"expected a mapping with 'type:' naming a {kind}, got {type(data).__name__}")
            return None
        type_name = data.get("type")
        if type_name is None:
            names = REGISTRY.names(kind)
            self.issue(path, f"missing 'type:' (the {kind} to use)", f"one of: {', '.join(names) or 'none registered'}")
            return None
        if not isinstance(type_name, str):
            self.issue(type_path, f"'type' must be a string naming a {kind}, got {type(type_name).__name__}")
            return None
        try:
            entry = REGISTRY.get(kind, type_name)
        except UnknownNameError as err:
            hint = f"did you mean '{err.suggestions[0]}'?" if err.suggestions else ""
            valid = ", ".join(err.valid) or "none registered"
            self.issue(type_path, f"unknown {kind} type '{type_name}'", f"{hint} valid: {valid}".strip())
            return None
        body = {k: v for k, v in data.items() if k != "type"}
        params = self.model(entry.params, body, path)
        if params is None:
            return None
        return ComponentSpec(kind=kind, type=type_name, params=params)

    # -- params models ------------------------------------------------------------------------
    def model(self, model: type[BaseModel], data: Any, path: Path, failed: set[str] | None = None) -> Any:
        """Validate ``data`` against ``model``; nested slots first, then the model itself."""
        if not isinstance(data, dict):
            self.issue(path, f"expected a mapping, got {type(data).__name__}")
            return None
        data = dict(data)
        failed = set(failed or ())
        for name, info in model.model_fields.items():
            key = info.alias or name
            slot = _slot_of_field(info)
            if slot is None or key not in data or data[key] is None:
                continue
            kind, container = slot
            value = data[key]
            if container == "":
                data[key] = self.component(kind, value, (*path, key))
                ok = data[key] is not None
            elif container == "list" and isinstance(value, list):
                items = [self.component(kind, item, (*path, key, i)) for i, item in enumerate(value)]
                data[key], ok = items, all(item is not None for item in items)
            elif container == "dict" and isinstance(value, dict):
                items = {k: self.component(kind, item, (*path, key, k)) for k, item in value.items()}
                data[key], ok = items, all(item is not None for item in items.values())
            else:
                continue  # wrong container type: let pydantic report it
            if not ok:
                failed.add(key)
                del data[key]
        try:
            return model.model_validate(data)
        except ValidationError as err:
            for error in err.errors(include_url=False):
                loc = tuple(error["loc"])
                if loc and loc[0] in failed:
                    continue  # already reported inside the nested node
                self._pydantic_issue(model, path, loc, error)
            return None

    def _pydantic_issue(self, model: type[BaseModel], path: Path, loc: Path, error: dict[str, Any]) -> None:
        kind, message, hint = error["type"], error["msg"], ""
        full = (*path, *loc)
        if kind == "extra_forbidden":
            message = "unknown key"
            match = closest(str(loc[-1]), fields_at(model, loc[:-1]), n=1)
            hint = f"did you mean '{match[0]}'?" if match else f"valid keys: {', '.join(fields_at(model, loc[:-1]))}"
        elif kind == "missing":
            message = "missing required field"
        else:
            value = error.get("input")
            if not isinstance(value, (dict, list)):
                message = f"{message} (got {value!r})"
            expected = (error.get("ctx") or {}).get("expected")
            if kind in ("literal_error", "enum") and isinstance(expected, str) and isinstance(value, str):
                match = closest(value, _EXPECTED.findall(expected), n=1)
                hint = f"did you mean '{match[0]}'?" if match else ""
        self.issue(full, message, hint)


def validate_component(kind: str, data: Any, marks: Marks | None = None, path: Path = ()) -> ComponentSpec:
    """Validate one component node; raises :class:`SpecError` listing every problem."""
    validator = Validator(marks)
    spec = validator.component(kind, data, path)
    validator.raise_if_any(f"invalid {kind}")
    assert spec is not None
    return spec
