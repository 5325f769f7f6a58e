"""The model spec: the top-level schema of every preset in ``specs/``.

```yaml
schema_version: 1
name: moviegen-video-tiny
base: moviegen-video            # optional: preset names or paths, merged in order
pipeline: text-to-video         # a registry entry of kind "pipeline" ...
components:                     # ... whose Params model validates this mapping
  backbone: {type: moviegen-transformer, layers: 4, dim: 128}
weights: {uri: "zoo://weights/moviegen-video-tiny.safetensors", sha256: "..."}
```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_serializer

from zoo.spec.migrations import CURRENT_SCHEMA_VERSION
from zoo.spec.params import ComponentSpec, Params, Slot
from zoo.spec.yaml_io import dump_yaml


class WeightsSpec(Params):
    """A weights file for a whole pipeline or one component."""

    uri: str = Field(
        description="Where the safetensors file is: zoo:// (shipped), a path, file://, hf://org/repo/file, "
        "or any fsspec URI."
    )
    sha256: str | None = Field(
        None, pattern=r"^[0-9a-f]{64}$", description="Expected sha256 of the file; verified before loading."
    )
    strict: bool = Field(True, description="Fail when the file's keys do not match the model's exactly.")


class Metadata(Params):
    """Facts about a preset shown by `zoo info` and written into model cards."""

    scale: str = Field("paper", description="'paper' for the published size, 'tiny' for CPU-trainable presets.")
    paper: str = Field("arXiv:2410.13720", description="The paper the preset follows.")
    license: str = Field("", description="License of the weights, when the preset ships any.")
    tags: list[str] = Field(default_factory=list, description="Free-form tags for `zoo list` filtering.")
    notes: str = Field("", description="Anything a user should know (what is UNCONFIRMED, derivations).")
    prompt_vocabulary: Literal["shapes-world"] | None = Field(
        None,
        description="The closed vocabulary the model was trained on; generation warns about words outside it.",
    )


class ModelSpec(Params):
    """A complete, validated model preset: the pipeline type, its components and its weights."""

    schema_version: int = Field(CURRENT_SCHEMA_VERSION, description="Spec format version of this file.")
    name: str = Field(description="Preset name, e.g. 'moviegen-video'.")
    description: str = Field("", description="One line saying what the preset is.")
    pipeline: Slot("pipeline") = Field(
        description="The pipeline type; its components are given under `components:` in YAML."
    )
    weights: WeightsSpec | None = Field(None, description="Weights for the whole pipeline, keyed by component.")
    metadata: Metadata = Field(default_factory=Metadata, description="Descriptive facts about the preset.")

    @property
    def components(self) -> Params:
        """The pipeline's validated components (its Params model)."""
        return self.pipeline.params

    @model_serializer(mode="wrap")
    def _yaml_layout(self, handler: Any, info: Any) -> dict[str, Any]:
        data = handler(self)
        node = dict(data.pop("pipeline"))
        out: dict[str, Any] = {"schema_version": data.pop("schema_version", CURRENT_SCHEMA_VERSION)}
        for key in ("name", "description"):
            if key in data:
                out[key] = data.pop(key)
        out["pipeline"] = node.pop("type")
        out["components"] = node
        out.update(data)
        return out

    def to_dict(self, *, only_set: bool = False) -> dict[str, Any]:
        """Plain data in the YAML layout; ``only_set`` keeps just the fields written explicitly."""
        data = self.model_dump(mode="json", exclude_unset=only_set)
        data["schema_version"] = self.schema_version
        return data

    def to_yaml(self, *, only_set: bool = False) -> str:
        """The spec as YAML that validates back into an equal spec."""
        return dump_yaml(self.to_dict(only_set=only_set))


def recipe_to_dict(spec: ComponentSpec) -> dict[str, Any]:
    """A validated recipe node as plain data in the file layout."""
    return {"schema_version": CURRENT_SCHEMA_VERSION, **spec.model_dump(mode="json")}
