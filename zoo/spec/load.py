"""From a reference to a validated object: compose, then validate once, reporting every error."""

from __future__ import annotations

from typing import Any, Literal, Sequence

from zoo.errors import SpecError, SpecIssue
from zoo.spec.catalog import Catalog
from zoo.spec.compose import Composed, compose
from zoo.spec.model_spec import ModelSpec
from zoo.spec.params import ComponentSpec
from zoo.spec.validate import Marks, Validator, mark_for

DocumentKind = Literal["model", "recipe", "strategy"]


def document_kind(data: dict[str, Any]) -> DocumentKind | None:
    """A model spec names a ``pipeline:``; a strategy preset (``recipes/strategies/``) is a node whose
    ``type:`` is a registered strategy; any other node with a ``type:`` is a recipe."""
    if "pipeline" in data or "components" in data:
        return "model"
    if "type" in data:
        from zoo.registry import REGISTRY

        kind_type = data["type"]
        strategy = isinstance(kind_type, str) and kind_type in REGISTRY.names("strategy")
        return "strategy" if strategy and kind_type not in REGISTRY.names("recipe") else "recipe"
    return None


def validate_model_spec(data: dict[str, Any], marks: Marks | None = None) -> ModelSpec:
    """Validate merged model-spec data; raises SpecError with every problem found."""
    validator = Validator(marks)
    data = dict(data)
    pipeline_type = data.pop("pipeline", None)
    components = data.pop("components", {})
    pipeline = None
    if pipeline_type is None:
        from zoo.registry import REGISTRY

        names = ", ".join(REGISTRY.names("pipeline")) or "none registered"
        validator.issue(("pipeline",), "missing 'pipeline:' (the pipeline type)", f"one of: {names}")
    elif not isinstance(components, dict):
        validator.issue(("components",), f"components must be a mapping, got {type(components).__name__}")
    else:
        pipeline = validator.component(
            "pipeline", {"type": pipeline_type, **components}, ("components",), type_path=("pipeline",)
        )
    if pipeline is not None:
        data["pipeline"] = pipeline
    spec = validator.model(ModelSpec, data, (), failed={"pipeline"} if pipeline is None else set())
    validator.raise_if_any()
    return spec


def validate_recipe(data: dict[str, Any], marks: Marks | None = None, kind: str = "recipe") -> ComponentSpec:
    """Validate merged recipe data (a node of ``kind``: ``recipe`` or ``strategy``); raises SpecError."""
    body = {k: v for k, v in data.items() if k != "schema_version"}
    validator = Validator(marks)
    spec = validator.component(kind, body, ())
    validator.raise_if_any()
    assert spec is not None
    return spec


def validate_document(doc: Composed, expect: DocumentKind | None = None) -> ModelSpec | ComponentSpec:
    """Validate a composed document as a model spec, a recipe or a strategy (detected when ``expect`` is None)."""
    kind = expect or document_kind(doc.data)
    if kind is None:
        raise SpecError(
            [
                SpecIssue(
                    "",
                    "not a spec or a recipe: a model spec has 'pipeline:', a recipe has 'type:'",
                    mark_for(doc.marks, ()),
                )
            ]
        )
    return validate_model_spec(doc.data, doc.marks) if kind == "model" else validate_recipe(doc.data, doc.marks, kind)


def load_spec(
    ref: Any, *, layers: Sequence[str] = (), overrides: Sequence[str] = (), warn: bool = True
) -> ModelSpec:
    """Compose and validate a model spec from a preset name, a path or a URI."""
    doc = compose(ref, "specs", layers=layers, overrides=overrides, warn=warn)
    spec = validate_document(doc, "model")
    assert isinstance(spec, ModelSpec)
    return spec


def load_recipe(
    ref: Any, *, layers: Sequence[str] = (), overrides: Sequence[str] = (), warn: bool = True
) -> ComponentSpec:
    """Compose and validate a recipe from a shipped recipe name, a path or a URI."""
    doc = compose(ref, "recipes", layers=layers, overrides=overrides, warn=warn)
    spec = validate_document(doc, "recipe")
    assert isinstance(spec, ComponentSpec)
    return spec


def catalog_for(ref: str) -> Catalog:
    """Which catalog a bare name belongs to (recipes have a folder: 'train/x')."""
    return "recipes" if "/" in ref and not ref.endswith((".yaml", ".yml")) and "://" not in ref else "specs"
