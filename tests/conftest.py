"""Shared fixtures. ``import zoo`` comes first: it applies the torchvision shim."""

from __future__ import annotations

from typing import Iterator, Literal

import pytest
from pydantic import Field
from torch import nn

import zoo  # noqa: F401
from zoo.pipeline import Pipeline, build_components
from zoo.registry import REGISTRY
from zoo.spec.params import Params, Slot, component


class ToyNetParams(Params):
    dim: int = Field(8, ge=1, description="Width.")
    layers: int = Field(2, ge=1, description="Depth.")
    act: Literal["gelu", "silu"] = Field("gelu", description="Activation.")


class ToyMlpParams(Params):
    hidden: int = Field(4, ge=1, description="Hidden width.")


class ToyScheduleParams(Params):
    steps: int = Field(10, ge=1, description="Steps.")


class ToySamplerParams(Params):
    guidance: float = Field(7.5, ge=0, description="CFG scale.")
    schedule: Slot("schedule") = Field(
        default_factory=lambda: component("schedule", "toy-linear"), description="Time grid."
    )


class ToyPipelineParams(Params):
    backbone: Slot("backbone") = Field(description="The network.")
    text_encoders: list[Slot("text_encoder")] = Field(default_factory=list, description="Encoders.")
    sampler: Slot("sampler") = Field(default_factory=lambda: component("sampler", "toy-euler"), description="S.")


def _toy_net(p: ToyNetParams) -> nn.Module:
    return nn.Sequential(*[nn.Linear(p.dim, p.dim) for _ in range(p.layers)])


TOY_ENTRIES = [
    ("backbone", "toy-net", ToyNetParams, _toy_net),
    ("backbone", "toy-mlp", ToyMlpParams, lambda p: nn.Linear(p.hidden, p.hidden)),
    ("text_encoder", "toy-enc", ToyMlpParams, lambda p: nn.Linear(3, p.hidden)),
    ("schedule", "toy-linear", ToyScheduleParams, lambda p: p),
    ("sampler", "toy-euler", ToySamplerParams, lambda p: p),
    ("pipeline", "toy-pipe", ToyPipelineParams, lambda p, spec: Pipeline(spec, build_components(p))),
]


@pytest.fixture
def toy_registry() -> Iterator[None]:
    """Registers small test components in the global registry for one test."""
    for kind, name, params, factory in TOY_ENTRIES:
        REGISTRY.register(kind, name, params=params, description=f"Test {kind}.", factory=factory, override=True)
    yield
    for kind, name, _, _ in TOY_ENTRIES:
        REGISTRY.unregister(kind, name)


TOY_SPEC = """\
schema_version: 1
name: toy
description: A toy preset.
pipeline: toy-pipe
components:
  backbone: {type: toy-net, dim: 8, layers: 2}
  text_encoders:
    - {type: toy-enc, hidden: 4}
  sampler:
    type: toy-euler
    schedule: {type: toy-linear, steps: 5}
"""


@pytest.fixture
def toy_spec(tmp_path, toy_registry):
    """Path of a valid toy model spec file."""
    path = tmp_path / "toy.yaml"
    path.write_text(TOY_SPEC)
    return path
