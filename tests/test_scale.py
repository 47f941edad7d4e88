"""Out-of-core fitting, the randomized solver and the fused Gram product."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from hypothesis import given, settings
from hypothesis import strategies as st

from skfeat import FeatureSpectrum, fit_from_batches
from skfeat._moments import gram_product
from skfeat._randomized import randomized_eigh


def decaying(n, p, decay=0.7, seed=0, dtype=np.float64):
    """Features with singular values decay**j: clear gaps, known spectrum."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.normal(size=(n, min(n, p))))
    V, _ = np.linalg.qr(rng.normal(size=(p, min(n, p))))
    s = decay ** np.arange(min(n, p)) * np.sqrt(n)
    return ((U * s) @ V.T).astype(dtype)


def exact_spectrum(X):
    """Naive reference: float64 SVD, eigenvalues s^2/n, signed directions."""
    X = np.asarray(X, dtype=np.float64)
    _, s, Vt = np.linalg.svd(X, full_matrices=False)
    pivot = np.argmax(np.abs(Vt), axis=1)
    Vt = Vt * np.sign(Vt[np.arange(len(Vt)), pivot])[:, None]
    return s**2 / len(X), Vt


# -- gram_product ------------------------------------------------------------


@pytest.mark.parametrize("chunk_rows", [None, 1, 7, 1000])
def test_gram_product_equals_dense(chunk_rows):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(53, 9))
    Q = rng.normal(size=(9, 4))
    Z, scale = gram_product(X, Q, chunk_rows=chunk_rows)
    np.testing.assert_allclose(Z, X.T @ X @ Q, rtol=1e-12, atol=1e-12)
    assert Z.dtype == np.float64 and scale == 1.0


def test_gram_product_sparse_and_float32():
    rng = np.random.default_rng(2)
    X = sp.random(40, 12, density=0.3, random_state=2, format="csr")
    Q = rng.normal(size=(12, 3))
    dense = X.toarray()
    np.testing.assert_allclose(gram_product(X, Q, chunk_rows=9)[0], dense.T @ dense @ Q)
    X32 = dense.astype(np.float32)
    Z, _ = gram_product(X32, Q.astype(np.float32))
    assert Z.dtype == np.float64  # float32 products, float64 accumulation
    np.testing.assert_allclose(Z, dense.T @ dense @ Q, rtol=1e-5, atol=1e-5)


# -- randomized solver ---------------------------------------------------------


def test_randomized_eigh_matches_svd():
    X = decaying(300, 80)
    lam_ref, Vt_ref = exact_spectrum(X)
    lam, V, scale = randomized_eigh(X, 5, n_iter=4, random_state=0)
    assert scale == 1.0
    np.testing.assert_allclose(lam[:5], lam_ref[:5], rtol=1e-10)
    # Up to sign, the same directions.
    overlap = np.abs(np.sum(V[:, :5] * Vt_ref[:5].T, axis=0))
    np.testing.assert_allclose(overlap, 1.0, atol=1e-8)
    np.testing.assert_allclose(V.T @ V, np.eye(V.shape[1]), atol=1e-12)


def test_randomized_error_shrinks_with_passes():
    """More power iterations: the top eigenvalues converge (from below)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 150)) * (np.arange(1, 151) ** -0.6)
    lam_ref = exact_spectrum(X)[0][:5]
    errors = []
    for n_iter in (0, 1, 3, 6):
        lam = randomized_eigh(X, 5, n_oversamples=5, n_iter=n_iter, random_state=0)[0]
        assert np.all(lam[:5] <= lam_ref * (1 + 1e-12))  # Nystrom: never above
        errors.append(np.max((lam_ref - lam[:5]) / lam_ref))
    assert errors[-1] < 1e-3
    assert errors == sorted(errors, reverse=True)


def test_spectrum_randomized_equals_exact_routes():
    X = decaying(250, 60)
    lam_ref, Vt_ref = exact_spectrum(X)
    est = FeatureSpectrum(4, solver="randomized", random_state=0).fit(X)
    np.testing.assert_allclose(est.eigenvalues_, lam_ref[:4], rtol=1e-10)
    # Same deterministic sign convention as every other route.
    np.testing.assert_allclose(est.components_, Vt_ref[:4], atol=1e-8)
    E = est.transform(X)
    np.testing.assert_allclose(E.T @ E / len(X), np.eye(4), atol=1e-8)
    assert est.n_components_ == 4
    assert est.rank_ == 4  # documented: over the kept eigenvalues only


def test_randomized_float32_and_reproducible():
    X = decaying(200, 50, dtype=np.float32)
    a = FeatureSpectrum(3, solver="randomized", random_state=7).fit(X)
    b = FeatureSpectrum(3, solver="randomized", random_state=7).fit(X)
    assert a.eigenvalues_.dtype == np.float32 and a.components_.dtype == np.float32
    assert a.transform(X).dtype == np.float32
    np.testing.assert_array_equal(a.eigenvalues_, b.eigenvalues_)
    np.testing.assert_array_equal(a.components_, b.components_)
    other = FeatureSpectrum(3, solver="randomized", random_state=8).fit(X)
    np.testing.assert_allclose(other.eigenvalues_, a.eigenvalues_, rtol=1e-5)
    lam_ref = exact_spectrum(X)[0][:3]
    np.testing.assert_allclose(a.eigenvalues_, lam_ref, rtol=1e-5)


def test_randomized_invariances():
    """Sample permutation, orthogonal rotation of features, scaling."""
    rng = np.random.default_rng(4)
    X = decaying(150, 40, seed=4)
    kw = {"solver": "randomized", "n_iter": 6, "random_state": 0}
    base = FeatureSpectrum(3, **kw).fit(X)
    perm = FeatureSpectrum(3, **kw).fit(X[rng.permutation(len(X))])
    np.testing.assert_allclose(perm.eigenvalues_, base.eigenvalues_, rtol=1e-9)
    np.testing.assert_allclose(perm.components_, base.components_, atol=1e-8)
    R, _ = np.linalg.qr(rng.normal(size=(40, 40)))
    rot = FeatureSpectrum(3, **kw).fit(X @ R)
    np.testing.assert_allclose(rot.eigenvalues_, base.eigenvalues_, rtol=1e-9)
    # Directions rotate with the features (up to sign).
    overlap = np.abs(np.sum(rot.components_ * (base.components_ @ R), axis=1))
    np.testing.assert_allclose(overlap, 1.0, atol=1e-8)
    scaled = FeatureSpectrum(3, **kw).fit(3.0 * X)
    np.testing.assert_allclose(scaled.eigenvalues_, 9.0 * base.eigenvalues_)
    np.testing.assert_allclose(scaled.transform(3.0 * X), base.transform(X))


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 25),
    p=st.integers(1, 25),
    k=st.integers(1, 25),
    seed=st.integers(0, 2**16),
)
def test_randomized_exact_when_sketch_spans_everything(n, p, k, seed):
    """With l >= min(n, p) the Nystrom approximation is G itself."""
    k = min(k, n, p)
    X = np.random.default_rng(seed).normal(size=(n, p))
    lam_ref = exact_spectrum(X)[0]
    lam = randomized_eigh(X, k, n_oversamples=25, n_iter=0, random_state=seed)[0]
    np.testing.assert_allclose(lam[:k], lam_ref[:k], rtol=1e-8, atol=1e-10 * lam_ref[0])


def test_randomized_rank_deficient():
    """Rank 2 features, 3 asked: only 2 nonzero eigenvalues are kept."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 2)) @ rng.normal(size=(2, 30))
    with pytest.warns(UserWarning, match="only 2 eigenvalues"):
        est = FeatureSpectrum(3, solver="randomized", random_state=0).fit(X)
    assert est.n_components_ == 2
    np.testing.assert_allclose(est.eigenvalues_, exact_spectrum(X)[0][:2])


def test_auto_picks_randomized_for_wide_layers():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(40, 4100)).astype(np.float32)
    assert FeatureSpectrum(2).fit(X).solver_ == "randomized"
    assert FeatureSpectrum(5).fit(X).solver_ == "dual"  # 5 > 40 // 10
    assert FeatureSpectrum().fit(X).solver_ == "dual"
    assert FeatureSpectrum(2).fit(X[:, :30]).solver_ == "gram"


@pytest.mark.parametrize("n_components", [None, 0.5])
def test_randomized_needs_int_components(n_components):
    X = decaying(30, 10)
    with pytest.raises(ValueError, match="n_components must be an int"):
        FeatureSpectrum(n_components, solver="randomized").fit(X)


def test_randomized_errors():
    X = decaying(30, 10)
    with pytest.raises(ValueError, match="at most min"):
        FeatureSpectrum(11, solver="randomized").fit(X)
    # Streaming with solver="randomized" accumulates the one-pass sketch; after
    # a randomized fit it continues from the top eigenpairs only, and says so
    # (on either route).
    est = FeatureSpectrum(2, solver="randomized").partial_fit(X)
    assert est.solver_ == "randomized"
    fitted = FeatureSpectrum(2, solver="randomized").fit(X)
    with pytest.warns(UserWarning, match="kept eigenpairs"):
        fitted.partial_fit(X)
    fitted = FeatureSpectrum(2, solver="randomized").fit(X)
    with pytest.warns(UserWarning, match="kept eigenpairs"):
        fitted.set_params(solver="gram").partial_fit(X)
    assert fitted.solver_ == "gram"
    bad = X.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        FeatureSpectrum(2, solver="randomized").fit(bad)
    with pytest.raises(ValueError, match="n_iter"):
        FeatureSpectrum(2, solver="randomized", n_iter=-1).fit(X)


def test_randomized_forms_no_square_matrix():
    """Wide layer: peak memory far below one p x p (or n x n) float64 matrix."""
    rng = np.random.default_rng(7)
    n, p, k = 200, 3000, 5
    left = rng.normal(size=(n, 40)) * 0.7 ** np.arange(40)
    X = (left @ rng.normal(size=(40, p))).astype(np.float32)
    FeatureSpectrum(k, solver="randomized", random_state=0).fit(X[:50])  # warm-up
    est = FeatureSpectrum(k, solver="randomized", random_state=0)
    peak = _peak_bytes(lambda: est.fit(X))
    width = k + est.n_oversamples
    # A handful of p x l blocks (host float64 and device float32) and the
    # float32 n x p validation pass; one p x p float64 matrix would be 72 MB.
    assert peak < 12 * p * width * 8 + n * p * 4, peak
    assert peak < p * p * 8 / 10, peak
    X64 = X.astype(np.float64)
    exact = np.linalg.eigvalsh(X64 @ X64.T / n)[::-1][:k]  # dual, small n
    np.testing.assert_allclose(est.eigenvalues_, exact, rtol=1e-4)


def test_randomized_does_not_mutate_input():
    X = decaying(40, 12)
    before = X.copy()
    FeatureSpectrum(3, solver="randomized", random_state=0).fit(X)
    np.testing.assert_array_equal(X, before)


@pytest.mark.parametrize("backend", ["torch", "array_api_strict"])
def test_randomized_array_api(backend):
    xp = pytest.importorskip(backend)
    X = decaying(120, 30, dtype=np.float32)
    Xb = xp.asarray(X)
    with sklearn.config_context(array_api_dispatch=True):
        est = FeatureSpectrum(3, solver="randomized", random_state=0).fit(Xb)
        E = est.transform(Xb)
    ref = FeatureSpectrum(3, solver="randomized", random_state=0).fit(X)
    assert type(est.eigenvalues_) is type(Xb) and type(E) is type(Xb)
    assert est.components_.dtype == xp.float32
    np.testing.assert_allclose(np.asarray(est.eigenvalues_), ref.eigenvalues_, 1e-5)
    np.testing.assert_allclose(np.asarray(est.components_), ref.components_, 0, 1e-4)


# -- streaming -----------------------------------------------------------------


def test_fit_from_batches_equals_fit():
    X = decaying(500, 12, decay=0.8)
    ref = FeatureSpectrum(n_components=6).fit(X)
    batches = (X[i : i + 64] for i in range(0, len(X), 64))
    est = fit_from_batches(batches, FeatureSpectrum(n_components=6))
    np.testing.assert_allclose(est.eigenvalues_, ref.eigenvalues_, rtol=1e-12)
    np.testing.assert_allclose(est.components_, ref.components_, atol=1e-10)
    assert est.n_samples_seen_ == 500 and est.n_components_ == 6
    # Streaming can go on with partial_fit: equals fit on everything.
    extra = decaying(40, 12, seed=9)
    est.partial_fit(extra)
    full = FeatureSpectrum(n_components=6).fit(np.vstack([X, extra]))
    np.testing.assert_allclose(est.eigenvalues_, full.eigenvalues_, rtol=1e-12)


def test_partial_fit_chunks_equal_fit():
    """Regression: the running Phi^T Phi must not be rescaled between calls."""
    X = decaying(300, 10, decay=0.8, dtype=np.float32)
    est = FeatureSpectrum()
    for start in range(0, 300, 70):
        est.partial_fit(X[start : start + 70])
    ref = exact_spectrum(X)[0]
    np.testing.assert_allclose(est.eigenvalues_, ref, rtol=1e-4)
    assert est.n_samples_seen_ == 300


def test_fit_from_batches_template_untouched_and_float32():
    X = decaying(100, 6, dtype=np.float32)
    template = FeatureSpectrum(n_components=3)
    est = fit_from_batches([X[:50], X[50:]], template)
    assert est is not template and not hasattr(template, "eigenvalues_")
    assert est.eigenvalues_.dtype == np.float32
    np.testing.assert_allclose(est.eigenvalues_, exact_spectrum(X)[0][:3], rtol=1e-5)


@pytest.fixture
def memmap_features(tmp_path):
    n, p = 40_000, 48
    path = tmp_path / "features.npy"
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, p))
    rng = np.random.default_rng(0)
    scale = (0.97 ** np.arange(p)).astype(np.float32)
    for start in range(0, n, 10_000):
        X[start : start + 10_000] = rng.normal(size=(10_000, p)) * scale
    X.flush()
    del X
    return np.load(path, mmap_mode="r")


def _peak_bytes(function):
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memmap_partial_fit_and_batches_memory(memmap_features):
    X = memmap_features
    n, p = X.shape
    chunk = 2_000
    ref = FeatureSpectrum().fit(np.asarray(X, dtype=np.float64))

    streamed = FeatureSpectrum()

    def by_partial_fit():
        for start in range(0, n, chunk):
            streamed.partial_fit(X[start : start + chunk])

    holder = {}

    def by_batches():
        holder["est"] = fit_from_batches(X, batch_size=chunk)

    FeatureSpectrum().partial_fit(X[:10])  # imports and caches outside the count
    # O(p^2 + chunk p): a few p x p float64 matrices and one chunk's worth,
    # far below the n x p data (7.7 MB here).
    bound = 10 * p * p * 8 + 2 * chunk * p * 8
    assert bound < n * p * 4 / 4
    for run in (by_partial_fit, by_batches):
        peak = _peak_bytes(run)
        assert peak < bound, (run.__name__, peak, bound)
    for est in (streamed, holder["est"]):
        assert est.n_samples_seen_ == n
        np.testing.assert_allclose(est.eigenvalues_, ref.eigenvalues_, rtol=1e-4)


def test_fit_from_batches_torch_feature_stream():
    """A model's features produced batch by batch under no_grad."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    body = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU())
    inputs = torch.randn(300, 5)

    def stream():
        with torch.no_grad():
            for batch in inputs.split(64):
                yield body(batch)

    est = fit_from_batches(stream())
    with torch.no_grad():
        Phi = body(inputs).numpy()
    ref = FeatureSpectrum().fit(Phi)
    np.testing.assert_allclose(est.eigenvalues_, ref.eigenvalues_, rtol=1e-4)
    assert est.n_samples_seen_ == 300


def test_fit_from_batches_errors():
    X = decaying(20, 4)
    with pytest.raises(ValueError, match="empty"):
        fit_from_batches(iter([]))
    with pytest.raises(ValueError, match="at least 2 samples"):
        fit_from_batches([X[:1]])
    with pytest.raises(ValueError, match="features"):
        fit_from_batches([X[:5], X[5:, :3]])
    bad = X.copy()
    bad[7, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        fit_from_batches([bad[:10], bad[10:]])
    with pytest.raises(ValueError, match="solver"):
        fit_from_batches([X], FeatureSpectrum(solver="dual"))
    with pytest.raises(TypeError, match="holding strings"):
        fit_from_batches([np.array([["a", "b"], ["c", "d"]], dtype=object)])


def test_fit_from_batches_slices_any_namespace(backend):
    """Regression: a 2-D array-API array is sliced by rows as ``X[rows, ...]``.

    ``X[rows]`` on a 2-D array is numpy's implicit trailing ellipsis, which
    the array API does not specify: array-api-strict raised an IndexError.
    """
    X = decaying(90, 5, dtype=np.float32)
    est = fit_from_batches(backend.asarray(X), batch_size=16)
    assert est.n_samples_seen_ == 90
    assert est.eigenvalues_.dtype == backend.xp.float32
    np.testing.assert_allclose(
        backend.to_numpy(est.eigenvalues_), exact_spectrum(X)[0], rtol=1e-5
    )


def test_moments_merge_into_empty_does_not_alias_the_other():
    """Regression: merging into an empty accumulator adopted the other's
    arrays, so the next update added into (mutated) the other one too."""
    from skfeat._moments import Moments

    rng = np.random.default_rng(0)
    X, Z = rng.normal(size=(6, 3)), rng.normal(size=(4, 3))
    other = Moments().update(X)
    merged = Moments().merge(other).update(Z)
    np.testing.assert_allclose(other.gram, X.T @ X)
    np.testing.assert_allclose(other.sums, X.sum(axis=0))
    both = np.vstack([X, Z])
    np.testing.assert_allclose(merged.gram, both.T @ both)
    assert (merged.n_samples, other.n_samples) == (10, 6)
