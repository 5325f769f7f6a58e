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


def block_inputs(backbone: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random tokens ``(2, 6, D)``, conditioning ``(2, 6, D)`` and context ``(2, 3, D_ctx)`` for one block."""
    dim, context_dim = backbone.params.dim, backbone.params.context_dim or backbone.params.dim
    return torch.randn(2, 6, dim), torch.randn(2, 6, dim), torch.randn(2, 3, context_dim)


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
    x, cond, context = block_inputs(pipe.backbone)
    assert torch.equal(pipe.backbone.blocks[layers](x, cond, context, None), x)


def test_grow_widens_the_ffn_and_keeps_what_each_block_computes(donor):
    path, state = donor
    narrow = zoo.load("moviegen-video-tiny", weights=False)
    narrow.load_state(state)
    ffn = narrow.backbone.params.ffn_dim
    wider = [f"components.backbone.ffn_dim={2 * ffn}", "components.backbone.zero_init_residual=true"]
    pipe = build_pipeline(ModelRef(preset="moviegen-video-tiny", overrides=wider),
                          [InitWeights(uri=str(path), grow=["backbone.blocks"])])
    w1, w2 = pipe.backbone.blocks[0].ffn.w1.weight, pipe.backbone.blocks[0].ffn.w2.weight
    assert w1.shape[0] == 2 * ffn and torch.equal(w1[:ffn], state["backbone.blocks.0.ffn.w1.weight"])
    assert w1[ffn:].abs().sum() > 0 and torch.count_nonzero(w2[:, ffn:]) == 0  # new units: random in, zero out
    x, cond, context = block_inputs(narrow.backbone)
    with torch.no_grad():
        torch.testing.assert_close(pipe.backbone.blocks[0](x, cond, context, None),
                                   narrow.backbone.blocks[0](x, cond, context, None))


def test_grow_refuses_a_stored_tensor_larger_than_the_model(donor):
    path, _ = donor
    narrower = ["components.backbone.ffn_dim=64"]
    with pytest.raises(ZooError, match=r"ffn\.w1\.weight has shape .* does not fit"):
        build_pipeline(ModelRef(preset="moviegen-video-tiny", overrides=narrower),
                       [InitWeights(uri=str(path), grow=["backbone.blocks"])])
