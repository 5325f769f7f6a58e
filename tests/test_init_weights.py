"""Recipe ``init`` entries: roles taken from a file, and key prefixes left at their fresh initialisation."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import zoo
from zoo.errors import ZooError
from zoo.io.weights import save_safetensors
from zoo.recipes.common import InitWeights, ModelRef, build_pipeline

PATCH4 = ["components.backbone.patch_size=[1,4,4]"]
TAE_CONV = "autoencoder.encoder.conv_in.spatial.weight"


@pytest.fixture(scope="module")
def donor(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    """A whole tiny text-to-video pipeline (1x2x2 patches) saved as safetensors."""
    torch.manual_seed(1)
    state = zoo.load("moviegen-video-tiny", weights=False).state_dict()
    path = tmp_path_factory.mktemp("donor") / "weights.safetensors"
    save_safetensors(state, path)
    return path, state


def test_exclude_keeps_fresh_patch_layers_and_loads_the_rest(donor):
    path, state = donor
    entry = InitWeights(uri=str(path), exclude=["backbone.patchify", "backbone.final.unpatchify"])
    torch.manual_seed(2)
    pipe = build_pipeline(ModelRef(preset="moviegen-video-tiny", overrides=PATCH4), [entry])
    loaded = pipe.state_dict()
    assert loaded["backbone.patchify.proj.weight"].shape != state["backbone.patchify.proj.weight"].shape
    assert torch.equal(loaded["backbone.blocks.0.ffn.w1.weight"], state["backbone.blocks.0.ffn.w1.weight"])
    assert torch.equal(loaded[TAE_CONV], state[TAE_CONV])
    text = [k for k in state if k.startswith("text_encoders.")]
    assert text and all(torch.equal(loaded[k], state[k]) for k in text)


def test_exclude_with_components_loads_only_those_roles(donor):
    path, state = donor
    entry = InitWeights(uri=str(path), components=["backbone"], exclude=["backbone.patchify", "backbone.final"])
    torch.manual_seed(3)
    pipe = build_pipeline(ModelRef(preset="moviegen-video-tiny", overrides=PATCH4), [entry])
    loaded = pipe.state_dict()
    assert torch.equal(loaded["backbone.blocks.1.self_attn.q.weight"], state["backbone.blocks.1.self_attn.q.weight"])
    assert not torch.equal(loaded[TAE_CONV], state[TAE_CONV])


def test_a_shape_change_outside_exclude_is_an_error(donor):
    path, _ = donor
    with pytest.raises(ZooError, match="patchify"):
        build_pipeline(ModelRef(preset="moviegen-video-tiny", overrides=PATCH4), [InitWeights(uri=str(path))])
    partial = InitWeights(uri=str(path), exclude=["backbone.patchify"])  # the final projection changed too
    with pytest.raises(ZooError, match="unpatchify"):
        build_pipeline(ModelRef(preset="moviegen-video-tiny", overrides=PATCH4), [partial])


def test_exclude_deepens_a_trained_backbone_with_identity_blocks(donor):
    path, state = donor
    layers = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("backbone.blocks."))
    deeper = [f"components.backbone.layers={layers + 1}", "components.backbone.zero_init_residual=true"]
    entry = InitWeights(uri=str(path), exclude=[f"backbone.blocks.{layers}"])
    pipe = build_pipeline(ModelRef(preset="moviegen-video-tiny", overrides=deeper), [entry])
    loaded = pipe.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())
    dim, context_dim = pipe.backbone.params.dim, pipe.backbone.params.context_dim or pipe.backbone.params.dim
    x, cond, context = torch.randn(2, 6, dim), torch.randn(2, 6, dim), torch.randn(2, 3, context_dim)
    assert torch.equal(pipe.backbone.blocks[layers](x, cond, context, None), x)
