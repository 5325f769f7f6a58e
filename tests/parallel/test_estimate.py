import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from zoo.cli import main
from zoo.models.video_transformer import Block, VideoTransformer, VideoTransformerParams
from zoo.parallel.estimate import (
    GIB,
    backbone_buckets,
    block_activation_elements,
    estimate,
    estimate_table,
    model_shape,
    train_flops,
)
from zoo.parallel.spec import ModelParallelParams

PAPER_LAYOUT = dict(  # recipes/strategies/h100-768x8.yaml
    tp=4, cp=2, precision="bf16-mixed", activation_checkpointing={"mode": "full"},
    frozen={"autoencoder": "sharded", "text_encoders": "sharded"},
)


@pytest.fixture(scope="module")
def paper():
    return model_shape("moviegen-video")  # 30B, built on the meta device once


def test_paper_30b_shape_is_read_off_the_meta_build(paper):
    assert (paper.layers, paper.dim, paper.heads, paper.ffn_dim) == (48, 6144, 48, 16384)
    assert paper.tokens == 73_728 and paper.text_tokens == 512 + 100 + 256
    assert 29.0e9 < paper.trained < 29.5e9  # backbone 29.26B + text projections
    assert paper.per_text_token >= 2 * 48 * 6144 * 6144  # cross-attention keys and values


def test_30b_fits_an_h100_under_the_paper_layout_and_not_on_one_gpu(paper):
    sharded = estimate(paper, ModelParallelParams(**PAPER_LAYOUT), world_size=6144)
    assert sharded.degrees == {"dp_replicate": 1, "dp_shard": 768, "cp": 2, "tp": 4}
    assert sharded.fits and 20 < sharded.total < 0.9 * 79.6
    single = estimate(paper, ModelParallelParams(precision="bf16-mixed"), world_size=1)
    assert not single.fits
    # 16 bytes per trained parameter: fp32 weights, fp32 gradients, two fp32 AdamW moments
    assert single.params + single.grads + single.optimizer == pytest.approx(16 * paper.trained / GIB)


def test_trained_state_per_gpu_falls_as_dp_shard_grows(paper):
    totals, optimizer = [], []
    for shard in (1, 2, 4, 8, 16):
        e = estimate(paper, ModelParallelParams(dp_shard=shard, tp=4, precision="bf16-mixed"), world_size=4 * shard)
        totals.append(e.total)
        optimizer.append(e.optimizer)
    assert totals == sorted(totals, reverse=True) and len(set(totals)) == len(totals)
    assert optimizer[0] / optimizer[-1] == pytest.approx(16)  # AdamW moments are fully sharded


def test_checkpointing_sequence_and_context_parallel_lower_activations(paper):
    def activations(**kw):
        return estimate(paper, ModelParallelParams(tp=4, precision="bf16-mixed", **kw), world_size=64).activations

    none, selective, full = (activations(activation_checkpointing={"mode": m}) for m in ("none", "selective", "full"))
    assert full < selective < none
    assert activations(sequence_parallel=True) < none
    assert activations(cp=2) < 0.6 * none


def test_train_flops_matches_a_hand_computed_case():
    # 6 * (10 tokens * 1000 + 4 text tokens * 100) + 12 * 2 layers * 8 dim * 10 * (10 + 4)
    assert train_flops(per_token=1000, per_text_token=100, layers=2, dim=8, tokens=10, text_tokens=4) == 62_400 + 26_880
    # one sample of the 30B model at 73,728 tokens is about 3e16 FLOPs (6 P N ~ 1.1e16, attention ~ 2e16)
    shape = model_shape("moviegen-video")
    e = estimate(shape, ModelParallelParams(tp=4, cp=2), world_size=8)
    assert e.flops_per_step == pytest.approx(3.07e16, rel=0.02)
    assert e.step_seconds == pytest.approx(e.flops_per_step / (8 * 989e12 * 0.4))


def test_backbone_buckets_count_the_tensor_parallel_and_text_side_weights():
    d, f, layers = 32, 48, 2
    with torch.device("meta"):
        model = VideoTransformer(VideoTransformerParams(dim=d, layers=layers, heads=4, ffn_dim=f))
    buckets = backbone_buckets(model)
    assert buckets["tensor_parallel"] == layers * (8 * d * d + 3 * d * f)  # 4+4 attention linears, 3 FFN linears
    assert buckets["per_text_token"] == layers * 2 * d * d  # cross-attention k and v
    assert buckets["trained"] == sum(p.numel() for p in model.parameters())


def _saved_bytes(block: Block, tokens: int, dim: int) -> int:
    weights = {p.untyped_storage().data_ptr() for p in block.parameters()}
    storages: dict[int, int] = {}

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in weights:
            storages[ptr] = t.untyped_storage().nbytes()
        return t

    x = torch.randn(1, tokens, dim, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        block(x, torch.randn(1, 6, dim), torch.randn(1, 8, dim), None)
    return sum(storages.values())


def test_block_activation_elements_match_the_saved_tensors_of_one_block():
    torch.manual_seed(0)
    d, f = 64, 160
    block = Block(VideoTransformerParams(dim=d, layers=1, heads=4, ffn_dim=f))
    per_token = (_saved_bytes(block, 256, d) - _saved_bytes(block, 128, d)) / 128 / 4  # fp32 elements
    # 17 + 4 f/d = 27 d elements; the rest is the norms' rsqrt and attention's log-sum-exp per token
    assert per_token == pytest.approx(block_activation_elements(d, f), rel=0.02)


def test_estimate_table_has_one_column_per_estimate(paper):
    rows = estimate_table([estimate(paper, ModelParallelParams(**PAPER_LAYOUT), world_size=6144)], ["h100-768x8"])
    assert rows[0] == ["", "h100-768x8"]
    assert dict((r[0], r[1]) for r in rows[1:])["mesh (replicate x shard x cp x tp)"] == "1 x 768 x 2 x 4"


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_estimate_prints_a_table(paper, capsys):
    code, out, _ = run(capsys, "estimate", "moviegen-video", "--strategy", "h100-768x8", "--world-size", "6144")
    assert code == 0
    assert "total GiB per GPU" in out and "1 x 768 x 2 x 4" in out and "yes (71.7)" in out


def test_cli_estimate_reads_a_strategy_file_and_its_world_size(paper, tmp_path, capsys):
    path = tmp_path / "tp2.yaml"
    path.write_text("schema_version: 1\ntype: model-parallel\ndp_shard: 4\ntp: 2\nprecision: bf16-mixed\n")
    code, out, _ = run(capsys, "estimate", "moviegen-video", "--strategy", str(path))
    assert code == 0 and "8 x h100" in out and "1 x 4 x 1 x 2" in out


def test_cli_estimate_bad_strategy_exits_2_with_a_short_message(capsys):
    code, out, err = run(capsys, "estimate", "moviegen-video", "--strategy", "h100-8x9", "--world-size", "64")
    assert code == 2 and out == ""
    assert "unknown strategy preset 'h100-8x9'" in err and "h100-8x8" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "estimate", "moviegen-video", "--strategy", "h100-8x8")
    assert code == 2 and "pass --world-size" in err
