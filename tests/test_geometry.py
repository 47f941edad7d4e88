"""Layerwise geometry and neural collapse against naive dense float64 formulas."""

import numpy as np
import pytest
from _naive import geometry as naive_geometry
from _naive import linearity, target_matrix
from _naive import rank_share as naive_rank
from hypothesis import given, settings
from hypothesis import strategies as st

from skfeat.metrics import (
    ClassMoments,
    NeuralCollapse,
    between_class_discrimination,
    neural_collapse,
    numerical_rank,
    target_linearity,
    within_class_compression,
)


def blobs(n=90, p=6, K=3, spread=0.5, seed=0, offset=1.0):
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % K)
    centres = offset * rng.normal(size=(K, p))
    return centres[y] + spread * rng.normal(size=(n, p)), y


def simplex_collapsed(K=4, per_class=5, p=6, seed=0):
    """Every sample on its class mean; the means a rotated simplex ETF."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(p, K)))
    means = (np.eye(K) - 1 / K) @ Q.T * 3.0
    y = np.repeat(np.arange(K), per_class)
    return means[y], y, means


# -- agreement with the naive formulas ----------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_measures_match_naive_dense(seed):
    H, y = blobs(seed=seed, K=3 + seed)
    ref = naive_geometry(H, y)
    assert within_class_compression(H, y) == pytest.approx(
        ref["compression"], rel=1e-10
    )
    assert between_class_discrimination(H, y) == pytest.approx(
        ref["discrimination"], rel=1e-10
    )
    W = np.random.default_rng(seed).normal(size=ref["M"].shape)
    ref = naive_geometry(H, y, weights=W)
    preds = np.roll(y, 1)
    nc = neural_collapse(H, y, weights=W, predictions=preds)
    assert isinstance(nc, NeuralCollapse)
    assert nc.nc1 == pytest.approx(ref["nc1"], rel=1e-8)
    for name in (
        "nc2_equinorm",
        "nc2_equiangularity",
        "nc2_max_angle",
        "nc2_etf",
        "cdnv",
        "nc3",
        "nc3_etf",
    ):
        assert getattr(nc, name) == pytest.approx(ref[name], rel=1e-9), name
    assert nc.nc4 == pytest.approx(np.mean(ref["ncc"] != preds))
    assert set(nc.to_dict()) == {
        "nc1", "nc2_equinorm", "nc2_equiangularity", "nc2_max_angle", "nc2_etf",
        "nc3", "nc3_etf", "nc4", "cdnv",
    }  # fmt: skip


def test_equinorm_uses_the_reference_codes_ddof_one():
    """Papyan, Han and Donoho's code: torch.std (ddof=1) over the mean."""
    means = np.array([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0], [0.0, -4.0], [5.0, 5.0]])
    H = np.repeat(means, 2, axis=0)
    y = np.repeat(np.arange(5), 2)
    norms = np.linalg.norm(means - means.mean(axis=0), axis=1)
    nc = neural_collapse(H, y)
    assert nc.nc2_equinorm == pytest.approx(norms.std(ddof=1) / norms.mean())
    # The factor sqrt(K / (K - 1)) between the two conventions (+11.8 % at K=5).
    assert nc.nc2_equinorm / (norms.std() / norms.mean()) == pytest.approx(
        np.sqrt(5 / 4)
    )


def test_global_mean_of_class_means_for_imbalanced_classes():
    H, y = blobs(n=90, K=3, seed=4)
    keep = (y != 0) | (np.arange(90) % 5 == 0)  # class 0 rare
    H, y = H[keep], y[keep]
    for global_mean in ("samples", "classes"):
        ref = naive_geometry(H, y, global_mean=global_mean)
        nc = neural_collapse(H, y, global_mean=global_mean)
        assert nc.nc1 == pytest.approx(ref["nc1"], rel=1e-8)
        assert nc.nc2_etf == pytest.approx(ref["nc2_etf"], rel=1e-9)
    assert neural_collapse(H, y).nc2_etf != pytest.approx(
        neural_collapse(H, y, global_mean="classes").nc2_etf
    )
    with pytest.raises(ValueError, match="global_mean"):
        neural_collapse(H, y, global_mean="median")


def test_nc1_when_p_exceeds_classes_and_samples():
    # p > n: Sigma_W is singular, Sigma_B has rank K - 1 in a big space.
    H, y = blobs(n=12, p=40, K=4, seed=3)
    ref = naive_geometry(H, y)
    assert neural_collapse(H, y).nc1 == pytest.approx(ref["nc1"], rel=1e-8)


@pytest.mark.parametrize("threshold", [0.5, 0.9, 0.95, 0.999, 1.0])
def test_numerical_rank_matches_svd(threshold):
    rng = np.random.default_rng(0)
    H = rng.normal(size=(50, 8)) @ np.diag(2.0 ** -np.arange(8))
    y = np.arange(50) % 2
    assert numerical_rank(H, rank_share=threshold) == naive_rank(H, threshold)
    assert ClassMoments().update(H, y).numerical_rank(threshold) == naive_rank(
        H, threshold
    )


def test_numerical_rank_of_low_rank_features():
    rng = np.random.default_rng(1)
    H = rng.normal(size=(40, 3)) @ rng.normal(size=(3, 10))
    assert numerical_rank(H, rank_share=1.0) == 3


def test_labels_of_any_type_and_order():
    H, y = blobs(K=3)
    names = np.array(["cat", "dog", "eel"])[y]
    assert within_class_compression(H, names) == pytest.approx(
        within_class_compression(H, y)
    )
    acc = ClassMoments().update(H, names)
    assert acc.classes_.tolist() == ["cat", "dog", "eel"]
    np.testing.assert_allclose(acc.means_, naive_geometry(H, y)["M"] + H.mean(axis=0))
    assert set(acc.nearest_class_mean(H)) <= {"cat", "dog", "eel"}


# -- closed forms --------------------------------------------------------------


def test_perfect_collapse_closed_forms():
    H, y, means = simplex_collapsed()
    nc = neural_collapse(H, y, weights=means * 7.0, predictions=y)
    assert within_class_compression(H, y) == pytest.approx(0.0, abs=1e-12)
    assert nc.nc1 == pytest.approx(0.0, abs=1e-12)
    assert nc.nc2_equinorm == pytest.approx(0.0, abs=1e-12)
    assert nc.nc2_etf == pytest.approx(0.0, abs=1e-12)
    assert nc.nc3 == pytest.approx(0.0, abs=1e-12)
    assert nc.nc4 == 0.0
    assert nc.cdnv == pytest.approx(0.0, abs=1e-12)
    assert target_linearity(H, y) == pytest.approx(1.0, abs=1e-12)
    # Simplex: cos(mu_k, mu_k') = -1/(K-1) for all pairs.
    assert between_class_discrimination(H, y) == pytest.approx(1 + 1 / 3)


def test_orthogonal_means_give_discrimination_one():
    y = np.repeat([0, 1, 2], 3)
    H = np.eye(3)[y] * 5 + np.random.default_rng(0).normal(size=(9, 3)) * 1e-3
    H -= np.eye(3)[y] * 0  # raw means stay near the axes
    means = naive_geometry(H, y)
    assert between_class_discrimination(H, y) == pytest.approx(means["discrimination"])
    assert between_class_discrimination(np.eye(3)[y], y) == 1.0


def test_collapsed_far_from_origin_keeps_precision():
    # Within-class spread 1e-6 around means of size 1e4: the uncentred
    # second moment would cancel away every digit of Sigma_W.
    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    means = 1e4 + rng.normal(size=(3, 5))
    H = means[y] + 1e-6 * rng.normal(size=(60, 5))
    ref = naive_geometry(H, y)
    assert within_class_compression(H, y) == pytest.approx(ref["compression"], rel=1e-6)
    assert neural_collapse(H, y).nc1 == pytest.approx(ref["nc1"], rel=1e-5)
    assert neural_collapse(H, y).cdnv == pytest.approx(ref["cdnv"], rel=1e-6)


def test_identical_means_give_inf_not_nan():
    H = np.array([[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [-1.0, 0.0]])
    y = [0, 0, 1, 1]
    assert within_class_compression(H, y) == np.inf
    nc = neural_collapse(H, y)
    assert nc.nc1 == np.inf and nc.cdnv == np.inf


# -- invariances ----------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), K=st.integers(2, 5))
def test_invariant_under_sample_permutation(seed, K):
    H, y = blobs(n=30, p=4, K=K, seed=seed)
    perm = np.random.default_rng(seed + 1).permutation(len(y))
    a, b = neural_collapse(H, y), neural_collapse(H[perm], y[perm])
    for key, value in a.to_dict().items():
        if value is not None:
            assert getattr(b, key) == pytest.approx(value, rel=1e-9)
    assert within_class_compression(H[perm], y[perm]) == pytest.approx(
        within_class_compression(H, y), rel=1e-9
    )


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), scale=st.floats(1e-3, 1e3))
def test_invariant_under_rotation_and_scale(seed, scale):
    H, y = blobs(n=40, p=5, K=3, seed=seed)
    Q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(5, 5)))
    G = scale * H @ Q
    assert within_class_compression(G, y) == pytest.approx(
        within_class_compression(H, y), rel=1e-8
    )
    assert between_class_discrimination(G, y) == pytest.approx(
        between_class_discrimination(H, y), rel=1e-8, abs=1e-12
    )
    assert neural_collapse(G, y).nc1 == pytest.approx(
        neural_collapse(H, y).nc1, rel=1e-7
    )
    assert numerical_rank(G) == numerical_rank(H)


# -- streaming and merging ------------------------------------------------------


def _assert_same(acc, H, y):
    assert acc.within_class_compression() == pytest.approx(
        within_class_compression(H, y), rel=1e-10
    )
    assert acc.neural_collapse().nc1 == pytest.approx(
        neural_collapse(H, y).nc1, rel=1e-9
    )
    assert acc.target_linearity() == pytest.approx(target_linearity(H, y), rel=1e-10)
    assert acc.numerical_rank() == numerical_rank(H)
    assert acc.n_samples_ == len(y)


def test_streaming_equals_batch_with_classes_arriving_late():
    H, y = blobs(n=60, K=4, seed=5)
    order = np.argsort(y, kind="stable")  # class 3 first appears in the last chunk
    H, y = H[order], y[order]
    acc = ClassMoments()
    for start in range(0, 60, 7):
        acc.update(H[start : start + 7], y[start : start + 7])
    _assert_same(acc, H, y)
    small = ClassMoments(chunk_rows=4).update(H, y)
    _assert_same(small, H, y)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    cuts=st.lists(st.integers(1, 39), max_size=5, unique=True),
    offset=st.sampled_from([0.0, 1e3]),
)
def test_any_chunking_and_merge_order_equals_batch(seed, cuts, offset):
    H, y = blobs(n=40, p=4, K=3, seed=seed, offset=1.0)
    H = H + offset
    bounds = [0, *sorted(cuts), 40]
    parts = [
        ClassMoments().update(H[a:b], y[a:b]) for a, b in zip(bounds[:-1], bounds[1:])
    ]
    merged = ClassMoments()
    for part in parts[::-1]:
        merged.merge(part)
    ref = naive_geometry(H, y)
    assert merged.within_class_compression() == pytest.approx(
        ref["compression"], rel=1e-8
    )
    assert merged.neural_collapse().nc1 == pytest.approx(ref["nc1"], rel=1e-6)
    np.testing.assert_array_equal(merged.counts_, np.bincount(y))


def test_merge_equals_batch():
    H, y = blobs(n=60, K=3, seed=6, offset=50.0)
    parts = [ClassMoments().update(H[i::3], y[i::3]) for i in range(3)]
    merged = ClassMoments().merge(parts[0]).merge(parts[1]).merge(parts[2])
    _assert_same(merged, H, y)
    np.testing.assert_allclose(merged.counts_, np.bincount(y))


def test_known_classes_and_unknown_label():
    H, y = blobs(K=3)
    acc = ClassMoments(classes=[0, 1, 2, 9]).update(H, y)
    assert acc.classes_.tolist() == [0, 1, 2]  # only classes with samples
    with pytest.raises(ValueError, match="not in classes"):
        ClassMoments(classes=[0, 1]).update(H, y)


# -- backends and dtypes ----------------------------------------------------------


def test_float32_input():
    H, y = blobs(seed=2)
    ref = naive_geometry(H, y)
    H32 = H.astype(np.float32)
    assert within_class_compression(H32, y) == pytest.approx(
        ref["compression"], rel=1e-5
    )
    assert neural_collapse(H32, y).nc1 == pytest.approx(ref["nc1"], rel=1e-4)


@pytest.fixture
def dispatch():
    sklearn = pytest.importorskip("sklearn")
    try:
        with sklearn.config_context(array_api_dispatch=True):
            yield
    except RuntimeError as exc:  # SCIPY_ARRAY_API not set
        pytest.skip(str(exc))


@pytest.mark.parametrize("backend", ["torch", "array_api_strict"])
def test_array_api_backends(backend, dispatch):
    H, y = blobs(seed=4)
    if backend == "torch":
        torch = pytest.importorskip("torch")
        Hx, yx = torch.asarray(H), torch.asarray(y)
    else:
        xs = pytest.importorskip("array_api_strict")
        Hx, yx = xs.asarray(H), xs.asarray(y)
    ref = naive_geometry(H, y)
    assert within_class_compression(Hx, yx) == pytest.approx(
        ref["compression"], rel=1e-10
    )
    nc = neural_collapse(Hx, yx, predictions=yx)
    assert nc.nc1 == pytest.approx(ref["nc1"], rel=1e-8)
    assert nc.nc4 == pytest.approx(np.mean(ref["ncc"] != y))
    assert target_linearity(Hx, yx) == pytest.approx(_naive_linearity(H, y), rel=1e-10)
    assert numerical_rank(Hx) == naive_rank(H, 0.95)


def test_torch_without_dispatch_and_dask():
    torch = pytest.importorskip("torch")
    da = pytest.importorskip("dask.array")
    H, y = blobs(seed=7)
    ref = within_class_compression(H, y)
    assert within_class_compression(
        torch.asarray(H), torch.asarray(y)
    ) == pytest.approx(ref)
    Hd = da.from_array(H, chunks=(17, 4))  # row and column blocks
    assert within_class_compression(Hd, y) == pytest.approx(ref, rel=1e-10)
    streamed = ClassMoments().update(Hd[:50], y[:50]).update(H[50:], y[50:])
    _assert_same(streamed, H, y)
    assert (
        neural_collapse(Hd, y, predictions=y).nc4
        == neural_collapse(H, y, predictions=y).nc4
    )


def test_sparse_input():
    sp = pytest.importorskip("scipy.sparse")
    H, y = blobs(seed=8)
    H[np.abs(H) < 0.5] = 0
    assert within_class_compression(sp.csr_matrix(H), y) == pytest.approx(
        within_class_compression(H, y), rel=1e-10
    )


# -- bad input ------------------------------------------------------------------


def test_single_class_is_an_error():
    H, _ = blobs()
    with pytest.raises(ValueError, match="at least 2 classes"):
        within_class_compression(H, np.zeros(len(H), dtype=int))
    with pytest.raises(ValueError, match="at least 2 classes"):
        neural_collapse(H, np.zeros(len(H)), target_type="classes")


def test_class_with_one_sample_has_zero_spread():
    H, y = blobs(n=31, K=3)
    y[0] = 7  # a class of one sample
    ref = naive_geometry(H, y)
    assert within_class_compression(H, y) == pytest.approx(
        ref["compression"], rel=1e-10
    )
    assert neural_collapse(H, y).cdnv == pytest.approx(ref["cdnv"], rel=1e-10)


@pytest.mark.parametrize(
    "H, y, error, match",
    [
        (np.ones((4, 2)), [0, 1, 0], ValueError, "3 entries, but H has 4"),
        (np.array([[np.nan, 1.0], [1.0, 2.0]]), [0, 1], ValueError, "NaN or infinity"),
        (np.array([[np.inf, 1.0], [1.0, 2.0]]), [0, 1], ValueError, "NaN or infinity"),
        (np.zeros((0, 3)), [], ValueError, "empty"),
        (np.array([["a", "b"], ["c", "d"]]), [0, 1], TypeError, "real numbers"),
        (np.ones(4), [0, 1, 0, 1], ValueError, "2-D"),
        (np.ones((2, 2)), [[0, 1], [1, 0]], ValueError, "class labels"),
    ],
)
def test_bad_input(H, y, error, match):
    with pytest.raises(error, match=match):
        within_class_compression(H, y)


def test_bad_weights_predictions_and_features():
    H, y = blobs()
    with pytest.raises(ValueError, match="weights must have shape"):
        neural_collapse(H, y, weights=np.ones((2, 6)))
    with pytest.raises(ValueError, match="NaN"):
        neural_collapse(H, y, weights=np.full((3, 6), np.nan))
    with pytest.raises(ValueError, match="predictions has 3 entries"):
        neural_collapse(H, y, predictions=[0, 1, 2])
    acc = ClassMoments().update(H, y)
    with pytest.raises(ValueError, match="features"):
        acc.update(H[:, :3], y)
    with pytest.raises(ValueError, match="No samples"):
        ClassMoments().within_class_compression()
    with pytest.raises(ValueError, match="rank_share"):
        numerical_rank(H, rank_share=0.0)


def test_failed_update_leaves_the_state_unchanged():
    H, y = blobs(seed=3)
    acc = ClassMoments().update(H[:40], y[:40])
    before = acc.within_class_compression()
    bad = H[40:].copy()
    bad[-1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        acc.update(bad, y[40:])
    assert acc.within_class_compression() == before
    assert acc.n_samples_ == 40


def test_input_is_not_mutated():
    H, y = blobs()
    H0, y0 = H.copy(), y.copy()
    neural_collapse(H, y, weights=np.ones((3, 6)), predictions=y)
    target_linearity(H, y)
    np.testing.assert_array_equal(H, H0)
    np.testing.assert_array_equal(y, y0)


def test_two_dimensional_predictions_are_a_clear_error():
    """Regression: (n, 2) predictions passed the row check and failed in a
    numpy broadcast ("operands could not be broadcast together")."""
    H, y = blobs()
    with pytest.raises(ValueError, match="predictions must be 1-D"):
        neural_collapse(H, y, predictions=np.c_[y, y])


@pytest.mark.parametrize(
    "weights, error, match",
    [
        (
            np.ones((3, 6)) + 1j,
            TypeError,
            "weights (must hold real numbers|holds complex)",
        ),
        (
            np.full((3, 6), "1.0"),
            TypeError,
            "weights (must hold real numbers|holds complex)",
        ),
        ([[1.0, 2.0], [3.0]], ValueError, "weights could not be read"),
    ],
)
def test_weights_must_be_real_numbers(weights, error, match):
    """Regression: complex weights lost their imaginary part (a numpy
    ComplexWarning, then a wrong NC3) and strings were parsed as numbers."""
    H, y = blobs()
    with pytest.raises(error, match=match):
        neural_collapse(H, y, weights=weights)


def test_predictions_with_other_labels_are_a_clear_error():
    """Regression: string predictions for integer labels matched no class
    mean, and NC4 came back as 1.0 with no hint why."""
    H, y = blobs()
    with pytest.raises(ValueError, match="share no label"):
        neural_collapse(H, y, predictions=y.astype(str))
    # Some predicted labels may be absent from y: that is a real disagreement.
    preds = np.where(np.arange(len(y)) == 0, 99, y)
    means = np.array([H[y == k].mean(axis=0) for k in range(3)])
    nearest = np.argmin(((H[:, None, :] - means[None]) ** 2).sum(axis=2), axis=1)
    expected = np.mean(nearest != preds)
    assert neural_collapse(H, y, predictions=preds).nc4 == pytest.approx(expected)


def _naive_linearity(H, y):
    return linearity(H, target_matrix(y))


def test_rank_and_linearity_share_one_eigendecomposition(monkeypatch):
    """One p x p eigh per layer for the geometry record, not one per measure."""
    H, y = blobs()
    acc = ClassMoments().update(H, y)
    calls = []
    eigh = np.linalg.eigh
    monkeypatch.setattr(np.linalg, "eigh", lambda a: calls.append(a.shape) or eigh(a))
    rank, linearity = acc.numerical_rank(), acc.target_linearity()
    assert calls == [(H.shape[1], H.shape[1])]
    assert rank == naive_rank(H, 0.95)
    assert linearity == pytest.approx(_naive_linearity(H, y))
    acc.update(H[:10], y[:10])  # a new state: decomposed again
    acc.numerical_rank()
    assert len(calls) == 2
