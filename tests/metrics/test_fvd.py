"""FVD: the Fréchet distance against SciPy, the metric's state and protocol, and the I3D contract."""

import warnings

import numpy as np
import pytest
import scipy.linalg
import torch

from zoo.errors import WeightsError
from zoo.io.weights import save_safetensors, sha256_file
from zoo.metrics.frechet import frechet_distance, mean_and_covariance, sqrtm_psd
from zoo.metrics.fvd import FVD, FVDProtocol
from zoo.models.i3d import MIN_FRAMES, I3DParams, InceptionI3d, build_i3d, resize_frames, same_padding
from zoo.registry import REGISTRY
from zoo.spec.params import component

DIM = 12


def features(n: int, seed: int, shift: float = 0.0) -> np.ndarray:
    """Correlated Gaussian features ``(n, DIM)``."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(DIM, DIM)) / np.sqrt(DIM)
    return rng.normal(size=(n, DIM)) @ mixing + shift


def scipy_frechet(x: np.ndarray, y: np.ndarray, ddof: int) -> float:
    """The textbook computation: np.cov and scipy.linalg.sqrtm of the (non-symmetric) product."""
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False, ddof=ddof), np.cov(y, rowvar=False, ddof=ddof)
    root = np.real(scipy.linalg.sqrtm(s1 @ s2))
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(root))


def fed(x: np.ndarray, y: np.ndarray, covariance: str = "N", chunks: int = 1) -> FVD:
    metric = FVD(protocol=FVDProtocol(covariance=covariance), feature_dim=DIM)
    for part in np.array_split(x, chunks):
        metric.update_features(torch.from_numpy(part), real=True)
    for part in np.array_split(y, chunks):
        metric.update_features(torch.from_numpy(part), real=False)
    return metric


# --- the Fréchet distance ------------------------------------------------------------------------------


@pytest.mark.parametrize("covariance, ddof", [("N", 0), ("n-1", 1)])
def test_fvd_matches_scipy_sqrtm_and_np_cov_within_1e_6_relative(covariance, ddof):
    x, y = features(200, 0), features(150, 1, shift=0.3)
    expected = scipy_frechet(x, y, ddof)
    assert expected > 0.1
    assert fed(x, y, covariance, chunks=3).compute() == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_of_gaussian_statistics_matches_scipy_within_1e_6_relative():
    x, y = features(300, 2), features(300, 3, shift=-0.5)
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(scipy_frechet(x, y, ddof=1), rel=1e-6)


def test_symmetric_square_root_squares_back_and_clamps_negative_eigenvalues():
    s = np.cov(features(100, 4), rowvar=False)
    root = sqrtm_psd(s)
    assert torch.allclose(root @ root, torch.from_numpy(s), atol=1e-12)
    assert torch.allclose(root, torch.from_numpy(np.real(scipy.linalg.sqrtm(s))), atol=1e-9)
    almost_psd = torch.diag(torch.tensor([4.0, 1.0, -1e-12], dtype=torch.float64))
    assert torch.equal(sqrtm_psd(almost_psd), torch.diag(torch.tensor([2.0, 1.0, 0.0], dtype=torch.float64)))


def test_fvd_of_a_set_against_itself_is_zero_within_1e_9():
    x = features(100, 5)
    assert abs(fed(x, x).compute()) < 1e-9


def test_n_and_n_minus_1_differ_by_the_factor_n_over_n_minus_1_in_the_covariance():
    x, y = features(20, 6), features(30, 7, shift=0.2)
    n_x, n_y = len(x), len(y)
    with_n, unbiased = fed(x, y, "N").compute(), fed(x, y, "n-1").compute()
    # same means; every covariance scaled by n / (n - 1), so the traces and the cross term move accordingly
    s1, s2 = np.cov(x, rowvar=False, ddof=0), np.cov(y, rowvar=False, ddof=0)
    c1, c2 = n_x / (n_x - 1), n_y / (n_y - 1)
    cross = np.trace(np.real(scipy.linalg.sqrtm(s1 @ s2)))
    expected = (c1 - 1) * np.trace(s1) + (c2 - 1) * np.trace(s2) - 2 * (np.sqrt(c1 * c2) - 1) * cross
    assert unbiased - with_n == pytest.approx(expected, rel=1e-6)
    assert abs(unbiased - with_n) > 0.01  # visible at this sample size


def test_mean_and_covariance_from_sums_match_numpy():
    x = features(50, 8)
    sums = (len(x), torch.from_numpy(x.sum(0)), torch.from_numpy(x.T @ x))
    for covariance, ddof in (("N", 0), ("n-1", 1)):
        mean, cov = mean_and_covariance(*sums, covariance=covariance)
        assert np.allclose(mean.numpy(), x.mean(0), atol=1e-12)
        assert np.allclose(cov.numpy(), np.cov(x, rowvar=False, ddof=ddof), atol=1e-12)
    with pytest.raises(ValueError, match="at least 2 samples"):
        mean_and_covariance(1, torch.zeros(DIM), torch.zeros(DIM, DIM), "n-1")


# --- the metric ----------------------------------------------------------------------------------------


def test_states_of_two_halves_merge_to_the_state_of_the_whole():
    x, y = features(64, 9), features(64, 10, shift=0.1)
    whole = fed(x, y)
    first, second = fed(x[:40], y[:10]), fed(x[40:], y[10:])
    first.merge_state(second)
    for name in ("real_count", "real_sum", "real_outer", "fake_count", "fake_sum", "fake_outer"):
        assert torch.allclose(getattr(first, name), getattr(whole, name), rtol=1e-12, atol=1e-12), name
        assert getattr(first, name).dtype == torch.float64
    assert first.compute() == pytest.approx(whole.compute(), rel=1e-9)
    assert whole._reductions["real_outer"] is not None  # summed across ranks (dist_reduce_fx="sum")


def test_update_takes_the_first_protocol_frames_and_refuses_shorter_clips():
    seen = []

    def extractor(videos):
        seen.append(videos)
        return videos.mean(dim=(1, 3, 4))  # (B, T) as features

    metric = FVD(extractor, FVDProtocol(frames=10, extractor="frame-means"), feature_dim=10)
    videos = torch.linspace(-1, 1, 2 * 3 * 12 * 4 * 4).reshape(2, 3, 12, 4, 4)
    metric.update(videos, real=True)
    assert torch.equal(seen[0], videos[:, :, :10])
    with pytest.raises(ValueError, match="clips have 9 frames; the protocol takes the first 10"):
        metric.update(videos[:, :, :9], real=False)
    with pytest.raises(ValueError, match="I3D needs at least 9 frames"):
        FVDProtocol(frames=8)


def test_protocol_report_names_every_choice_and_the_extractor():
    metric = fed(features(8, 11), features(4, 12))
    report = metric.protocol_report()
    for field in FVDProtocol.model_fields:
        assert field in report, field
    assert report["protocol"] == "fvd2048_16f"
    assert (report["real_samples_used"], report["fake_samples_used"], report["complete"]) == (8, 4, False)
    assert report["covariance"] == "N" and report["resize"] == "bilinear" and report["frames"] == 16


# --- I3D -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def i3d():
    with pytest.warns(UserWarning, match="random weights"):
        return component("video_features", "i3d", weights=None).build()


def test_i3d_is_registered_and_maps_a_small_clip_to_400_logits(i3d):
    assert "i3d" in REGISTRY.names("video_features")
    torch.manual_seed(0)
    out = i3d(torch.rand(1, 3, 10, 32, 32) * 2 - 1)
    assert out.shape == (1, 400) and out.dtype == torch.float32 and torch.isfinite(out).all()
    assert 12.5e6 < sum(p.numel() for p in i3d.parameters()) < 12.8e6  # Inception-I3D RGB with 400 logits
    i3d.train()
    assert not i3d.training and not any(p.requires_grad for p in i3d.parameters())  # frozen


def test_fvd_with_random_i3d_reports_the_extractor_and_is_zero_on_identical_sets(i3d):
    metric = FVD(i3d, FVDProtocol(frames=10))
    videos = torch.rand(2, 3, 12, 16, 24) * 2 - 1
    metric.update(videos, real=True)
    metric.update(videos, real=False)
    assert abs(metric.compute()) < 1e-6
    details = metric.protocol_report()["extractor_details"]
    assert details["name"] == "i3d" and details["random_weights"] is True
    with pytest.raises(ValueError, match="resizes with 'bilinear'"):
        FVD(i3d, FVDProtocol(resize="short-side-crop"))


@pytest.mark.parametrize("mode", ["bilinear", "short-side-crop"])
@pytest.mark.parametrize("size", [(32, 32), (36, 64), (300, 250)])
def test_resize_modes_give_224_square_frames_in_minus_one_to_one(mode, size):
    videos = torch.rand(2, 3, 2, *size) * 2 - 1
    out = resize_frames(videos, mode)
    assert out.shape == (2, 3, 2, 224, 224)
    assert out.min() >= -1 and out.max() <= 1


def test_short_side_crop_keeps_aspect_and_bilinear_warps():
    # a frame whose columns encode x: the crop keeps the centre columns, the warp keeps all of them
    ramp = torch.linspace(-1, 1, 448).expand(1, 3, 1, 224, 448)
    cropped, warped = resize_frames(ramp, "short-side-crop"), resize_frames(ramp, "bilinear")
    assert torch.allclose(cropped, ramp[..., 112:336])
    assert warped[..., 0].max() < -0.99 and warped[..., -1].min() > 0.99


def test_i3d_preprocessing_refuses_short_clips_and_values_outside_minus_one_to_one(i3d):
    assert MIN_FRAMES == 9
    with pytest.raises(ValueError, match="at least 9 frames, got 8"):
        i3d(torch.zeros(1, 3, 8, 32, 32))
    with pytest.raises(ValueError, match=r"values in \[-1, 1\]"):
        i3d(torch.full((1, 3, 10, 32, 32), 255.0))


def test_same_padding_matches_tensorflow():
    assert same_padding(224, 7, 2) == (2, 3)  # output 112
    assert same_padding(10, 3, 2) == (0, 1)  # output 5, the odd pixel padded at the end
    assert same_padding(9, 3, 2) == (1, 1)  # output 5
    assert same_padding(5, 2, 2) == (0, 1)  # output 3
    assert same_padding(7, 1, 1) == (0, 0)


def test_state_dict_weights_load_with_their_sha256_and_a_wrong_sha256_is_refused(tmp_path):
    torch.manual_seed(1)
    source = InceptionI3d(400)
    path = tmp_path / "i3d.safetensors"
    digest = save_safetensors(source.state_dict(), path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # loading real weights does not warn
        loaded = build_i3d(I3DParams(weights=str(path), sha256=digest, format="state_dict"))
    assert torch.equal(loaded.network.Mixed_5c.b3b.conv3d.weight, source.Mixed_5c.b3b.conv3d.weight)
    assert loaded.describe()["sha256"] == digest and not loaded.random_weights
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        build_i3d(I3DParams(weights=str(path), sha256="0" * 64, format="state_dict"))
    with pytest.raises(ValueError, match="sha256 is given but weights is not"):
        I3DParams(sha256=digest)


class _ScriptedI3D(torch.nn.Module):
    """Stands in for the StyleGAN-V TorchScript export: same call signature, refuses its own preprocessing."""

    def forward(self, x: torch.Tensor, rescale: bool = True, resize: bool = True, return_features: bool = False):
        if rescale or resize or not return_features:
            raise RuntimeError("expected rescale=False, resize=False, return_features=True")
        if x.shape[-2] != 224 or x.shape[-1] != 224 or x.min() < -1 or x.max() > 1:
            raise RuntimeError("expected 224x224 frames in [-1, 1]")
        return x.mean(dim=(1, 2, 3, 4)).unsqueeze(1).expand(-1, 400)


def test_torchscript_weights_are_called_after_zoo_preprocessing_and_verified(tmp_path):
    path = tmp_path / "i3d_torchscript.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(_ScriptedI3D()), str(path))
    digest = sha256_file(path)
    model = build_i3d(I3DParams(weights=f"file://{path}", sha256=digest))
    videos = torch.rand(2, 3, 9, 40, 30) * 2 - 1
    out = model(videos)
    assert out.shape == (2, 400)
    assert torch.allclose(out[:, 0], resize_frames(videos, "bilinear").mean(dim=(1, 2, 3, 4)), atol=1e-6)
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        build_i3d(I3DParams(weights=str(path), sha256="f" * 64))


def test_fvd_evaluator_skips_without_weights_or_reference_clips_and_scores_a_set_against_itself():
    from zoo.data.batches import collate
    from zoo.metrics.evaluator import MetricUnavailable
    from zoo.spec.params import component

    real = {"type": "shapes-world", "split": "heldout", "size": 2, "frames": 10, "height": 32, "width": 32}
    with pytest.raises(MetricUnavailable, match="reference clips"):
        component("metric", "fvd", frames=10).build().prepare(None)
    with pytest.raises(MetricUnavailable, match="no weights here"):
        component("metric", "fvd", frames=10, real=real).build().prepare(None)
    evaluator = component("metric", "fvd", frames=10, real=real, real_samples=2, allow_random_weights=True).build()
    evaluator.prepare(None)
    clips = component("dataset", "shapes-world", **{k: v for k, v in real.items() if k != "type"}).build()
    evaluator.update(collate([{"video": clips[i]["video"]} for i in range(2)])["video"], items=None)
    assert abs(evaluator.compute()["value"]) < 1e-6
    report = evaluator.describe()
    assert report["protocol"] == "fvd2048_10f" and report["extractor"] == "i3d" and report["covariance"] == "N"
