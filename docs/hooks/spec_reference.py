"""mkdocs hook: generate the spec reference from the registry and the spec schemas at build time.

``docs/reference/specs.md`` holds a short introduction and the marker ``<!-- spec-reference -->``;
:func:`on_page_markdown` replaces the marker with :func:`render_reference`, so every registered entry
(built-ins and installed plugins alike) is documented and nothing generated is committed.

For each registry kind and each entry of it: the one-line description, the module that defines it,
and a table of its ``Params`` fields (name, type, default, constraints, description). The top-level
``ModelSpec``, ``WeightsSpec`` and ``Metadata`` schemas come first.
"""

from __future__ import annotations

import enum
import re
import types
import typing
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

MARKER = "<!-- spec-reference -->"
PAGE = "reference/specs.md"

# What each kind is, for the section introductions.
KIND_SUMMARIES: dict[str, str] = {
    "autoencoder": "Maps pixels (or audio) to latents and back.",
    "backbone": "The denoising network that predicts the flow-matching velocity over latent tokens.",
    "text_encoder": "Turns a prompt into conditioning tokens `(B, N, D)`.",
    "vision_encoder": "Turns reference images into conditioning tokens (personalization).",
    "flow": "The training objective: the noise-to-data path and its loss.",
    "timestep_sampler": "Draws flow times `t` for training.",
    "sampler": "Integrates the learned velocity field from noise to data at inference.",
    "schedule": "The grid of flow times an inference sampler steps through.",
    "pipeline": "The top of a model spec: `pipeline:` names one, `components:` holds its parameters.",
    "dataset": "Where training and evaluation samples come from.",
    "metric": "A score computed on generated or reconstructed media.",
    "strategy": "How a model is placed on devices (data, tensor and context parallelism, precision).",
    "recipe": "A runnable job (`zoo run`): training, evaluation or generation.",
}

_CONSTRAINTS: tuple[tuple[str, str], ...] = (
    ("gt", "> {}"),
    ("ge", "≥ {}"),
    ("lt", "< {}"),
    ("le", "≤ {}"),
    ("multiple_of", "multiple of {}"),
    ("min_length", "min length {}"),
    ("max_length", "max length {}"),
    ("pattern", "pattern `{}`"),
)


# -- small formatting helpers ---------------------------------------------------------------------
def anchor(kind: str, name: str | None = None) -> str:
    """The HTML id of a kind section (``kind-sampler``) or an entry section (``sampler-euler``)."""
    raw = f"kind-{kind}" if name is None else f"{kind}-{name}"
    return re.sub(r"[^a-z0-9_-]+", "-", raw.lower()).strip("-")


def prose(text: str) -> str:
    """One line of text with ``<`` escaped outside code spans, so it never reads as HTML."""
    pieces = " ".join(str(text).split()).split("`")
    return "`".join(p if i % 2 else p.replace("<", "&lt;") for i, p in enumerate(pieces))


def cell(text: str) -> str:
    """Text made safe for one Markdown table cell: :func:`prose` with pipes escaped."""
    return prose(text).replace("|", "\\|")


def inline_yaml(value: Any) -> str:
    """A value as one line of flow-style YAML: ``{type: linear}``, ``[1, 2, 2]``, ``null``, ``''``."""
    text = yaml.safe_dump([value], default_flow_style=True, sort_keys=False, width=10_000, allow_unicode=True)
    return text.strip()[1:-1]


def code(text: str) -> str:
    """An inline code span for a table cell; ``|`` is written as an entity so it cannot split the row."""
    return "<code>" + str(text).replace("&", "&amp;").replace("<", "&lt;").replace("|", "&#124;") + "</code>"


# -- types ----------------------------------------------------------------------------------------
def _slot_kind(meta: Any) -> str | None:
    from zoo.spec.params import SlotInfo

    return meta.kind if isinstance(meta, SlotInfo) else None


def type_name(annotation: Any, metadata: list[Any] | tuple[Any, ...] = ()) -> str:
    """A readable type: ``int``, ``list[int]``, ``Literal['a', 'b']``, ``int | None``, ``sampler node``.

    Component nodes (``Slot(kind)``) read as ``<kind> node`` (``list of <kind> nodes`` in a list);
    other pydantic models by class name.
    """
    for meta in metadata:
        kind = _slot_kind(meta)
        if kind:
            return f"{kind} node"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        return type_name(args[0], args[1:])
    if origin in (Union, types.UnionType):
        parts = [type_name(a) for a in args if a is not type(None)]
        if type(None) in args:
            parts.append("None")
        return " | ".join(dict.fromkeys(parts))
    if origin is Literal:
        return "Literal[" + ", ".join(repr(a) for a in args) + "]"
    if origin in (list, tuple, set, frozenset, dict):
        inner = type_name(args[-1]) if args else ""
        if inner.endswith(" node") and (origin is not tuple or len(args) == 1 or args[1] is Ellipsis):
            return f"{'dict' if origin is dict else 'list'} of {inner}s"
        if not args:
            return origin.__name__
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return f"tuple[{type_name(args[0])}, ...]"
        return f"{origin.__name__}[" + ", ".join(type_name(a) for a in args) + "]"
    if annotation is Any:
        return "any"
    if annotation is type(None):
        return "None"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "Literal[" + ", ".join(repr(m.value) for m in annotation) + "]"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _constraint_metadata(annotation: Any, metadata: list[Any]) -> list[Any]:
    """Field metadata plus constraints written inside the annotation (``int | Annotated[int, Gt(0)]``)."""
    found = list(metadata)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        found.extend(args[1:])
        found.extend(_constraint_metadata(args[0], []))
    elif origin in (Union, types.UnionType):
        for arg in args:
            found.extend(_constraint_metadata(arg, []))
    return found


def constraints(info: FieldInfo) -> str:
    """``≥ 1``, ``> 0, ≤ 1``, ``pattern `^[0-9a-f]{64}$` `` from a field's metadata, or ``""``."""
    parts: list[str] = []
    for meta in _constraint_metadata(info.annotation, info.metadata):
        for attr, template in _CONSTRAINTS:
            value = getattr(meta, attr, None)
            if value is not None:
                text = template.format(value)
                if text not in parts:
                    parts.append(text)
    return ", ".join(parts)


# -- defaults -------------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    from zoo.spec.params import ComponentSpec

    if isinstance(value, ComponentSpec):
        return value.model_dump(mode="json", exclude_unset=True)  # {type: name, **params written}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_unset=True)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def default_text(info: FieldInfo) -> str:
    """The default as it would be written in YAML, or ``required``."""
    if info.is_required():
        return "required"
    if info.default_factory is not None:
        try:
            value = info.default_factory()  # type: ignore[call-arg]
        except Exception:  # a factory that takes the validated data, or needs runtime state
            return "computed"
    else:
        value = info.default
    if value is PydanticUndefined:
        return "required"
    return code(inline_yaml(_plain(value)))


# -- tables ---------------------------------------------------------------------------------------
def field_rows(model: type[BaseModel]) -> list[tuple[str, str, str, str, str]]:
    """``(name, type, default, constraints, description)`` for each field of ``model``."""
    rows = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        typ = _node_cell(type_name(info.annotation, info.metadata))
        rows.append((f"`{key}`", typ, default_text(info), cell(constraints(info)), cell(info.description or "")))
    return rows


def _node_cell(text: str) -> str:
    """A type for a table cell: code spans, with ``<kind> node`` linked to that kind's section."""
    from zoo.registry import KINDS

    pieces = re.split(rf"\b((?:{'|'.join(KINDS)}) nodes?)", text)
    out = []
    for i, piece in enumerate(pieces):
        if i % 2:
            kind, word = piece.split(" ")
            out.append(f"[{kind}](#{anchor(kind)}) {word}")
        elif piece.strip():
            out.append(piece.strip() if piece.strip() in ("list of", "dict of") else code(piece.strip()))
    return " ".join(out)


def model_table(model: type[BaseModel], rows: list[tuple[str, ...]] | None = None) -> str:
    """A Markdown table of a model's fields, or of ``rows`` when given (a note when there are none)."""
    rows = field_rows(model) if rows is None else rows
    if not rows:
        return "_No parameters._\n"
    lines = ["| field | type | default | constraints | description |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _doc_summary(model: type) -> str:
    """The first paragraph of a class's own docstring (not inherited), as one line."""
    doc = model.__dict__.get("__doc__") or ""
    return prose(doc.strip().split("\n\n")[0]) if doc.strip() else ""


def nested_models(model: type[BaseModel], seen: set[type] | None = None) -> list[type[BaseModel]]:
    """Plain pydantic models used inside ``model``'s fields (not component nodes), depth first."""
    from zoo.spec.params import ComponentSpec, submodel_of

    seen = seen if seen is not None else set()
    found: list[type[BaseModel]] = []
    for info in model.model_fields.values():
        sub = submodel_of(info.annotation)
        if sub is None or sub is ComponentSpec or sub in seen:
            continue
        seen.add(sub)
        found.append(sub)
        found.extend(nested_models(sub, seen))
    return found


def render_entry(entry: Any) -> str:
    """One registry entry: heading, description, defining module, Params table and nested tables."""
    head = f"### `{entry.name}` {{#{anchor(entry.kind, entry.name)}}}\n"
    lines = [head, f"{prose(entry.description)}\n"]
    summary = _doc_summary(entry.params)
    if summary and summary != entry.description:
        lines.append(f"{summary}\n")
    if entry.kind == "pipeline":
        usage = f"`pipeline: {entry.name}` with these fields under `components:`"
    else:
        usage = f"`type: {entry.name}` in a {entry.kind} node"
    lines.append(f"Written as {usage} · params `{entry.params.__name__}` · defined in `{entry.module}`\n")
    lines.append(model_table(entry.params))
    for sub in nested_models(entry.params):
        lines.append(f"`{sub.__name__}` (used above): {_doc_summary(sub)}\n")
        lines.append(model_table(sub))
    return "\n".join(lines)


def render_top_level() -> str:
    """The schemas every model spec file shares: ModelSpec, WeightsSpec, Metadata."""
    from zoo.spec.model_spec import Metadata, ModelSpec, WeightsSpec

    out = ["## Model spec files {#model-spec}\n"]
    out.append(
        "The top level of every file in `specs/`. `pipeline:` names an entry of kind "
        "[pipeline](#kind-pipeline); `components:` holds that entry's parameters.\n"
    )
    rows: list[tuple[str, ...]] = []
    for row in field_rows(ModelSpec):
        if row[0] == "`pipeline`":  # in YAML: a type name here, its parameters under `components:`
            rows.append((row[0], "[pipeline](#kind-pipeline) type name", *row[2:]))
            about = "The [pipeline](#kind-pipeline) entry's parameters: component nodes by role, and settings."
            rows.append(("`components`", "mapping", "see the pipeline", "", about))
        else:
            rows.append(row)
    out.append(model_table(ModelSpec, rows))
    for model, ident in ((WeightsSpec, "weights-spec"), (Metadata, "metadata")):
        out.append(f"### `{model.__name__}` {{#{ident}}}\n")
        out.append(f"{_doc_summary(model)}\n")
        out.append(model_table(model))
    return "\n".join(out)


def render_kind(kind: str) -> str:
    """A kind's section: what it is, then each registered entry."""
    from zoo.registry import REGISTRY

    entries = REGISTRY.entries(kind)
    out = [f"## {kind} {{#{anchor(kind)}}}\n", f"{KIND_SUMMARIES.get(kind, '')}\n".lstrip()]
    if not entries:
        out.append("_No entries of this kind are registered._\n")
    else:
        out.append(", ".join(f"[`{e.name}`](#{anchor(kind, e.name)})" for e in entries) + "\n")
        out.extend(render_entry(e) for e in entries)
    return "\n".join(out)


def render_reference() -> str:
    """The whole generated reference as Markdown (importable, so tests can check it)."""
    import zoo  # noqa: F401 - applies the torchvision shim before any component module loads
    from zoo.registry import KINDS

    parts = [render_top_level()]
    parts.append("## Registry kinds\n")
    parts.append(" · ".join(f"[{kind}](#{anchor(kind)})" for kind in KINDS) + "\n")
    parts.extend(render_kind(kind) for kind in KINDS)
    return "\n".join(parts)


# -- mkdocs hook ----------------------------------------------------------------------------------
def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace the marker on the reference page with the generated reference."""
    if page.file.src_uri == PAGE and MARKER in markdown:
        return markdown.replace(MARKER, render_reference())
    return markdown
