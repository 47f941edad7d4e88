"""Wide layers (p > m): every measure takes the cheaper side, with the same numbers.

References are the dense float64 formulas of ``_naive`` (explicit ``m x m``
kernels and projectors); each case runs at ``p > m`` (sample side) and
``p < m`` (feature side), in float32 and float64.
"""

import tracemalloc
import warnings

import numpy as np
import pytest
from _naive import (
    cka_kernels,
    cumulative_projection,
    debiased_linear_cka,
    eigenfunctions,
    feature_projection,
    linearity,
    projector,
    spectrum,
    target_matrix,
)

from skfeat import FeatureSpectrum
from skfeat._moments import sample_moments, samples_side_is_smaller
from skfeat.metrics import (
    cka_mf,
    feature_regime,
    linear_cka,
    projection_measures,
    target_linearity,
)

# float32 inputs: products rounded to eps32 relative, summed in float64.
TOL = {np.float64: 1e-10, np.float32: 2e-5}


def layer(p, m=40, n=120, dtype=np.float64, seed=0):
    """Training and evaluation features with a decaying spectrum, labels, outputs."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=n + m)
    X = rng.normal(size=(n + m, p)) * 0.8 ** np.arange(p) + target_matrix(
        labels
    ) @ rng.normal(size=(3, p))
    F = X @ rng.normal(size=(p, 3)) / np.sqrt(p)
    X, F = X.astype(dtype), F.astype(dtype)
    return X[:n], X[n:], labels[n:], F[n:]


CASES = [(p, dtype) for p in (12, 300) for dtype in (np.float64, np.float32)]


@pytest.mark.parametrize(("p", "dtype"), CASES)
def test_cka_measures_match_dense_kernels_on_both_sides(p, dtype):
    _, X, _, F = layer(p, dtype=dtype)
    Xh, Fh = X.astype(np.float64), F.astype(np.float64)
    tol = TOL[dtype]
    assert samples_side_is_smaller(*X.shape) == (p > X.shape[0])
    K = Xh @ Xh.T
    assert cka_mf(X, F) == pytest.approx(1 - cka_kernels(K, projector(Fh)), abs=tol)
    expected = cka_kernels(K, Fh @ Fh.T)
    assert linear_cka(X, F) == pytest.approx(expected, abs=tol)
    assert linear_cka(F, X) == pytest.approx(expected, abs=tol)
    # Both sides wide.
    assert linear_cka(X, X**2) == pytest.approx(
        cka_kernels(K, (Xh**2) @ (Xh**2).T), abs=tol
    )
    assert linear_cka(X, X**2, debiased=True) == pytest.approx(
        debiased_linear_cka(Xh, Xh**2), abs=tol
    )
    assert linear_cka(X, F, debiased=True) == pytest.approx(
        debiased_linear_cka(Xh, Fh), abs=tol
    )
    assert feature_regime(X, F) == ("MF" if cka_mf(X, F) <= 0.1 else "EF")


@pytest.mark.parametrize(("p", "dtype"), CASES)
@pytest.mark.parametrize("solver", ["auto", "randomized"])
def test_spectrum_measures_match_naive_on_both_sides(p, dtype, solver):
    train, X, labels, F = layer(p, dtype=dtype)
    est = FeatureSpectrum(n_components=8, solver=solver, random_state=0).fit(train)
    lam = np.asarray(est.eigenvalues_, dtype=np.float64)
    V = np.asarray(est.components_, dtype=np.float64).T
    E = eigenfunctions(X, lam, V)
    Y = target_matrix(labels)
    tol = TOL[dtype]
    res = est.projection_measures(X, labels, outputs=F)
    np.testing.assert_allclose(
        res.cumulative_quality, cumulative_projection(E, Y), atol=tol
    )
    np.testing.assert_allclose(res.feature_quality, feature_projection(E, Y), atol=tol)
    np.testing.assert_allclose(
        res.cumulative_utility, cumulative_projection(E, F.astype(float)), atol=tol
    )
    naive_mf = 1 - cka_kernels(X.astype(float) @ X.astype(float).T, projector(F))
    assert res.cka_mf == pytest.approx(naive_mf, abs=tol)
    assert est.score(X, labels) == pytest.approx(
        cumulative_projection(E, Y)[2] / 3, abs=tol
    )
    # The metrics function on the evaluated eigenfunctions agrees.
    direct = projection_measures(est.transform(X), labels, outputs=F)
    np.testing.assert_allclose(
        res.cumulative_quality, direct.cumulative_quality, atol=tol
    )


def test_sample_moments_is_the_kernel():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(7, 50)).astype(np.float32)
    moments = sample_moments(X, chunk_rows=8)
    np.testing.assert_allclose(
        moments.host_gram(), X.astype(float) @ X.T.astype(float), rtol=1e-5
    )
    big = sample_moments(X.astype(np.float64) * 1e200)  # squares beyond float64
    np.testing.assert_allclose(
        big.gram * (big.scales[0] / 1e200) ** 2, X.astype(float) @ X.T, rtol=1e-5
    )


def test_sample_moments_of_dask_by_column_blocks():
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(9)
    X = rng.normal(size=(30, 500))
    Xd = da.from_array(X, chunks=(10, 500))  # chunked by rows
    moments = sample_moments(Xd, chunk_rows=120)
    np.testing.assert_allclose(moments.host_gram(), X @ X.T, rtol=1e-12)
    assert cka_mf(Xd, X[:, :2]) == pytest.approx(cka_mf(X, X[:, :2]), abs=1e-12)
    dual = FeatureSpectrum(4, solver="dual")
    np.testing.assert_allclose(
        dual.fit(Xd).eigenvalues_, dual.fit(X).eigenvalues_, rtol=1e-10
    )


def test_wide_measures_never_form_a_feature_by_feature_array():
    rng = np.random.default_rng(2)
    m, p = 50, 4000  # a p x p float64 array would be 128 MB
    train = rng.normal(size=(100, p)) * 0.99 ** np.arange(p)
    X = rng.normal(size=(m, p))
    F = X[:, :2] + 0.1 * rng.normal(size=(m, 2))
    labels = rng.integers(0, 3, size=m)
    est = FeatureSpectrum(n_components=10, solver="randomized", random_state=0)
    est.fit(train)
    tracemalloc.start()
    est.projection_measures(X, labels, outputs=F)
    est.score(X, labels)
    cka_mf(X, F)
    linear_cka(X, F)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * X.nbytes  # X is 1.6 MB; p x p would be 128 MB


def test_wide_constant_and_bad_input():
    rng = np.random.default_rng(3)
    X = np.ones((10, 30))
    F = rng.normal(size=(10, 2))
    with pytest.warns(UserWarning, match="constant"):
        assert cka_mf(X, F) == 1.0
    with pytest.warns(UserWarning, match="constant"):
        assert linear_cka(X, F) == 0.0
    X = rng.normal(size=(10, 30))
    with pytest.warns(UserWarning, match="constant"):
        assert cka_mf(X, np.zeros((10, 2))) == 1.0
    bad = X.copy()
    bad[3, 7] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cka_mf(bad, F)
    with pytest.raises(ValueError, match="NaN"):
        linear_cka(F, bad)
    est = FeatureSpectrum(n_components=3).fit(rng.normal(size=(20, 30)))
    with pytest.raises(ValueError, match="NaN"):
        est.projection_measures(bad, rng.integers(0, 2, size=10), outputs=F)
    assert np.isnan(bad[3, 7])  # inputs not modified
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.projection_measures(X, rng.integers(0, 2, size=10), outputs=F)


def test_wide_measures_sparse_dask_and_torch_match_numpy():
    import scipy.sparse as sp

    train, X, labels, F = layer(300)
    est = FeatureSpectrum(n_components=6).fit(train)
    expected = est.projection_measures(X, labels, outputs=F)
    got = est.projection_measures(sp.csr_array(X), labels, outputs=F)
    for key in ("cumulative_quality", "cumulative_utility", "cka_mf"):
        np.testing.assert_allclose(got[key], expected[key], atol=1e-10)
    da = pytest.importorskip("dask.array")
    Xd = da.from_array(X, chunks=(20, 300))
    assert cka_mf(Xd, F) == pytest.approx(expected.cka_mf, abs=1e-10)
    got = est.projection_measures(Xd, labels, outputs=F)
    np.testing.assert_allclose(
        got.cumulative_quality, expected.cumulative_quality, atol=1e-10
    )
    torch = pytest.importorskip("torch")
    import sklearn

    with sklearn.config_context(array_api_dispatch=True):
        est_t = FeatureSpectrum(n_components=6).fit(torch.asarray(train))
        got = est_t.projection_measures(
            torch.asarray(X), labels, outputs=torch.asarray(F)
        )
        assert cka_mf(torch.asarray(X), torch.asarray(F)) == pytest.approx(
            expected.cka_mf, abs=1e-10
        )
    for key in ("cumulative_quality", "cumulative_utility", "cka_mf"):
        np.testing.assert_allclose(got[key], expected[key], atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dual_route_matches_naive_svd(dtype):
    train, _, _, _ = layer(300, n=60, dtype=dtype)
    lam, V = spectrum(train)
    est = FeatureSpectrum(n_components=20).fit(train)
    assert est.solver_ == "dual"
    assert est.components_.dtype == dtype
    rtol = 1e-9 if dtype == np.float64 else 1e-4
    # float32 products: absolute error of order eps32 * lambda_1.
    atol = 0 if dtype == np.float64 else 1e-6 * lam[0]
    np.testing.assert_allclose(est.eigenvalues_, lam[:20], rtol=rtol, atol=atol)
    # Eigenvectors of well separated eigenvalues (the first 12 here).
    np.testing.assert_allclose(
        np.abs(np.sum(est.components_[:6] * V[:, :6].T, axis=1)), 1, atol=10 * rtol
    )


def test_dual_route_forms_only_the_kept_eigenvectors(monkeypatch):
    import skfeat._spectrum as spectrum_module

    shapes = []
    original = spectrum_module._orthonormalise

    def recording(V):
        shapes.append(V.shape)
        return original(V)

    monkeypatch.setattr(spectrum_module, "_orthonormalise", recording)
    train, _, _, _ = layer(300, n=60, dtype=np.float32)
    est = FeatureSpectrum(n_components=5, solver="dual").fit(train)
    assert shapes == [(300, 5)]
    assert est.rank_ > 5 and est.effective_dimension_ > 1
    full = FeatureSpectrum(solver="dual").fit(train)
    np.testing.assert_allclose(est.eigenvalues_, full.eigenvalues_[:5], rtol=1e-6)
    np.testing.assert_allclose(
        np.abs(np.sum(est.components_ * full.components_[:5], axis=1)), 1, atol=1e-4
    )


# -- streamed randomized sketch ---------------------------------------------------


def decaying_layer(n=400, p=1500, decay=0.7, dtype=np.float64, seed=5):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, p)) * decay ** np.arange(p)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fit_from_batches_randomized_equals_in_memory(dtype, tmp_path):
    from skfeat import fit_from_batches

    X = decaying_layer(dtype=dtype)
    template = FeatureSpectrum(6, solver="randomized", random_state=3)
    expected = template.fit(X)
    path = tmp_path / "features.npy"
    np.save(path, X)
    sources = {
        "array": X,
        "memmap": np.load(path, mmap_mode="r"),
        "list": [X[i : i + 90] for i in range(0, len(X), 90)],
        "callable": lambda: (X[i : i + 64] for i in range(0, len(X), 64)),
    }
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    for name, source in sources.items():
        got = fit_from_batches(source, template, batch_size=100)
        assert got.solver_ == "randomized", name
        assert got.n_samples_seen_ == len(X)
        assert got.eigenvalues_.dtype == dtype
        np.testing.assert_allclose(got.eigenvalues_, expected.eigenvalues_, rtol=rtol)
        np.testing.assert_allclose(
            np.abs(np.sum(got.components_ * expected.components_, axis=1)),
            1,
            atol=10 * rtol,
        )
    # And the top eigenpairs are those of the exact spectrum.
    lam, _ = spectrum(X)
    np.testing.assert_allclose(expected.eigenvalues_, lam[:6], rtol=100 * rtol)


def test_fit_from_batches_randomized_sources_and_errors():
    from skfeat import fit_from_batches

    X = decaying_layer(n=200, p=300)
    template = FeatureSpectrum(4, solver="randomized", random_state=0)
    with pytest.raises(ValueError, match="one-shot iterator"):
        fit_from_batches((X[i : i + 50] for i in range(0, 200, 50)), template)
    single = template.set_params(n_iter=0)
    got = fit_from_batches((X[i : i + 50] for i in range(0, 200, 50)), single)
    np.testing.assert_allclose(got.eigenvalues_, single.fit(X).eigenvalues_, rtol=1e-10)
    calls = []

    def shrinking():
        calls.append(1)
        return iter([X[:100], X[100 : 200 - len(calls)]])

    with pytest.raises(ValueError, match="same rows on every pass"):
        fit_from_batches(shrinking, FeatureSpectrum(4, solver="randomized"))
    with pytest.raises(ValueError, match="empty"):
        fit_from_batches([], FeatureSpectrum(4, solver="randomized"))
    with pytest.raises(ValueError, match="n_components must be an int"):
        fit_from_batches(X, FeatureSpectrum(solver="randomized"))
    with pytest.raises(ValueError, match="features"):
        fit_from_batches([X, X[:, :10]], FeatureSpectrum(4, solver="randomized"))
    bad = X.copy()
    bad[5, 5] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        fit_from_batches([X, bad], FeatureSpectrum(4, solver="randomized"))
    with pytest.raises(ValueError, match="solver"):
        fit_from_batches(X, FeatureSpectrum(solver="dual"))
    # The Gram route also reads a callable or a re-iterable source.
    gram = fit_from_batches(lambda: iter([X[:120], X[120:]]), FeatureSpectrum(4))
    np.testing.assert_allclose(
        gram.eigenvalues_, FeatureSpectrum(4).fit(X).eigenvalues_, rtol=1e-10
    )


def test_streamed_randomized_forms_no_square_matrix():
    from skfeat import fit_from_batches

    rng = np.random.default_rng(6)
    n, p = 200, 3000  # p x p float64: 72 MB; X: 4.8 MB
    X = rng.normal(size=(n, 30)) @ rng.normal(size=(30, p))
    batches = [X[i : i + 50] for i in range(0, n, 50)]
    template = FeatureSpectrum(5, solver="randomized", random_state=0)
    fit_from_batches(batches[:1], template)  # warm-up (imports)
    tracemalloc.start()
    fit_from_batches(batches, template)
    est = FeatureSpectrum(5, solver="randomized", random_state=0)
    for batch in batches:
        est.partial_fit(batch)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2 * X.nbytes


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_partial_fit_randomized_sketch_matches_exact_eigenpairs(dtype):
    # Eigenvalues 0.25^j: the one-pass sketch of width l is accurate to
    # about lambda_{l+1} / lambda_k = 0.25^(l + 1 - k).
    X = decaying_layer(n=300, p=800, decay=0.5, dtype=dtype)
    lam, V = spectrum(X)
    est = FeatureSpectrum(5, solver="randomized", n_oversamples=15, random_state=0)
    for i in range(0, 300, 70):
        est.partial_fit(X[i : i + 70])
    assert est.solver_ == "randomized" and est.n_samples_seen_ == 300
    assert est.eigenvalues_.dtype == dtype
    rtol = 1e-8 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(est.eigenvalues_, lam[:5], rtol=rtol)
    np.testing.assert_allclose(
        np.abs(np.sum(est.components_ * V[:, :5].T, axis=1)), 1, atol=rtol
    )
    # Any chunking gives the one-pass result of fit with n_iter=0.
    one = FeatureSpectrum(5, solver="randomized", n_oversamples=15, random_state=0)
    one.set_params(n_iter=0).fit(X)
    np.testing.assert_allclose(est.eigenvalues_, one.eigenvalues_, rtol=10 * rtol)


def test_partial_fit_randomized_exact_for_low_rank_and_unchanged_on_error():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(120, 6)) @ rng.normal(size=(6, 500))  # rank 6 <= l
    est = FeatureSpectrum(4, solver="randomized", n_oversamples=4, random_state=1)
    est.partial_fit(X[:60])
    saved = (est.eigenvalues_.copy(), est.n_samples_seen_)
    bad = X[60:].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.partial_fit(bad)
    np.testing.assert_array_equal(est.eigenvalues_, saved[0])
    assert est.n_samples_seen_ == saved[1]
    est.partial_fit(X[60:])
    lam, _ = spectrum(X)
    np.testing.assert_allclose(est.eigenvalues_, lam[:4], rtol=1e-9)
    # A later fit drops the sketch.
    est.fit(X)
    assert not hasattr(est, "_sketch")
    # Continuing a fit: from its kept eigenpairs, with a warning.
    fitted = FeatureSpectrum(4, solver="randomized", random_state=0).fit(X[:60])
    with pytest.warns(UserWarning, match="kept eigenpairs"):
        fitted.partial_fit(X[60:])
    assert fitted.n_samples_seen_ == 120
    # The reference: the first 60 rows' top-4 part (what the fit kept) plus
    # the next 60 rows exactly (rank <= 4 + 6 <= the sketch's 14 columns).
    lam60, V60 = spectrum(X[:60])
    kept = (V60[:, :4] * lam60[:4]) @ V60[:, :4].T * 60
    continued = np.linalg.eigvalsh((kept + X[60:].T @ X[60:]) / 120)[::-1]
    np.testing.assert_allclose(fitted.eigenvalues_, continued[:4], rtol=1e-8)


def test_streamed_randomized_on_torch_and_dask_match_numpy():
    import sklearn

    from skfeat import fit_from_batches

    X = decaying_layer(n=200, p=400)
    template = FeatureSpectrum(4, solver="randomized", random_state=0)
    expected = template.fit(X)
    one_pass = FeatureSpectrum(4, solver="randomized", random_state=0, n_iter=0)
    one_pass.fit(X)
    da = pytest.importorskip("dask.array")
    got = fit_from_batches(da.from_array(X, chunks=(50, 400)), template, batch_size=64)
    np.testing.assert_allclose(got.eigenvalues_, expected.eigenvalues_, rtol=1e-10)
    est = FeatureSpectrum(4, solver="randomized", random_state=0)
    est.partial_fit(da.from_array(X[:100], chunks=(50, 400)))
    est.partial_fit(X[100:])
    np.testing.assert_allclose(est.eigenvalues_, one_pass.eigenvalues_, rtol=1e-10)
    torch = pytest.importorskip("torch")
    Xt = torch.asarray(X)
    with sklearn.config_context(array_api_dispatch=True):
        got = fit_from_batches([Xt[:120], Xt[120:]], template)
        assert isinstance(got.eigenvalues_, torch.Tensor)
        est = FeatureSpectrum(4, solver="randomized", random_state=0)
        for i in range(0, 200, 50):
            est.partial_fit(Xt[i : i + 50])
        assert isinstance(est.components_, torch.Tensor)
    np.testing.assert_allclose(got.eigenvalues_, expected.eigenvalues_, rtol=1e-10)
    np.testing.assert_allclose(est.eigenvalues_, one_pass.eigenvalues_, rtol=1e-10)


@pytest.mark.parametrize("scale", [1e200, 1e150, 1e-150, 1e-200])
def test_wide_measures_of_extreme_magnitudes(scale):
    # Squares beyond float64 (1e200), squares in range but their sums of
    # squares not (1e150), and the same below: the sample side is rescaled.
    _, X, labels, F = layer(300)
    est = FeatureSpectrum(5).fit(X)
    expected = est.projection_measures(X, labels, outputs=F)
    assert cka_mf(X * scale, F) == pytest.approx(cka_mf(X, F), abs=1e-12)
    assert linear_cka(X * scale, X**2) == pytest.approx(linear_cka(X, X**2), abs=1e-12)
    assert linear_cka(X * scale, F, debiased=True) == pytest.approx(
        linear_cka(X, F, debiased=True), abs=1e-12
    )
    if scale in (1e200, 1e-200):
        return  # eigenvalues beyond float64: the spectrum refuses to fit
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = (
            FeatureSpectrum(5)
            .fit(X * scale)
            .projection_measures(X * scale, labels, outputs=F)
        )
    np.testing.assert_allclose(
        got.cumulative_quality, expected.cumulative_quality, atol=1e-10
    )
    assert got.cka_mf == pytest.approx(expected.cka_mf, abs=1e-12)


@pytest.mark.parametrize(("p", "dtype"), CASES)
def test_target_linearity_on_both_sides(p, dtype):
    rng = np.random.default_rng(10)
    # Well-conditioned features (the naive pinv counts float32 rounding as
    # rank, skfeat's rule does not): p = 300 > m has rank m, so TL = 1.
    _, X, labels, _ = layer(p, dtype=dtype)
    signal = target_matrix(labels) @ rng.normal(size=(3, p))
    H = (signal + rng.normal(size=(len(X), p))).astype(dtype)
    values = H[:, :2].astype(float) @ rng.normal(size=(2, 2)) + rng.normal(
        size=(len(X), 2)
    )
    tol = TOL[dtype] * 10
    assert target_linearity(H, labels) == pytest.approx(
        linearity(H, target_matrix(labels)), abs=tol
    )
    assert target_linearity(H, values, target_type="values") == pytest.approx(
        linearity(H, values), abs=tol
    )
    # A rank-deficient wide H (rank 5 < m): the sample side keeps 5 directions.
    # (float64: the naive pinv would count float32 rounding as rank.)
    low = rng.normal(size=(len(X), 5)) @ rng.normal(size=(5, 200))
    assert target_linearity(low, labels) == pytest.approx(
        linearity(low, target_matrix(labels)), abs=tol
    )
    with pytest.raises(ValueError, match="constant|single class"):
        target_linearity(low, np.ones(len(X)), target_type="values")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_score_of_few_eigenfunctions_evaluates_them(dtype):
    # p <= m, but k <= p / 4 and no outputs: E = X W (m x k), not X^T X.
    train, X, labels, F = layer(200, m=300, n=400, dtype=dtype)
    est = FeatureSpectrum(10, solver="randomized", random_state=0).fit(train)
    E = eigenfunctions(
        X, np.asarray(est.eigenvalues_, float), np.asarray(est.components_, float).T
    )
    Y = target_matrix(labels)
    tol = TOL[dtype]
    np.testing.assert_allclose(
        est.quality(X, labels), cumulative_projection(E, Y), atol=tol
    )
    assert est.score(X, labels) == pytest.approx(
        cumulative_projection(E, Y)[2] / 3, abs=tol
    )
    # With outputs the one pass over [X | Y | F] is kept: the same values.
    both = est.projection_measures(X, labels, outputs=F)
    np.testing.assert_allclose(
        both.cumulative_quality, est.quality(X, labels), atol=tol
    )
    rng = np.random.default_rng(11)
    m, p = 3000, 2500  # p x p float64: 50 MB; X: 30 MB float32
    X = rng.standard_normal((m, p), dtype=np.float32)
    labels = rng.integers(0, 3, size=m)
    est = FeatureSpectrum(5, solver="randomized", random_state=0).fit(X[:500])
    est.score(X[:100], labels[:100])  # warm-up
    tracemalloc.start()
    est.score(X, labels)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * p * p / 4


@pytest.mark.parametrize("p", [10, 100])  # the feature side, then the m x m side
def test_cka_of_a_float32_side_with_a_large_mean_and_a_small_spread(p):
    # Relative spread 1e-4: far above float32's resolution of the values, so
    # not constant; both routes measure it (exactly centred in float64).
    rng = np.random.default_rng(0)
    m = 40
    X = rng.normal(size=(m, p))
    Y = (1000 + 0.1 * rng.normal(size=(m, 3))).astype(np.float32)
    Yd = Y.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = linear_cka(X, Y)
        debiased = linear_cka(X, Y, debiased=True)
    assert got == pytest.approx(cka_kernels(X @ X.T, Yd @ Yd.T), rel=1e-6)
    centred = Yd - Yd.mean(axis=0)
    assert debiased == pytest.approx(debiased_linear_cka(X, centred), rel=1e-6)


def test_cka_keeps_its_digits_when_float32_features_have_a_large_mean():
    # One-pass float32 products lose the centred Gram of these features (mean
    # 1e4 x their spread); linear_cka and cka_mf measure them again, shifted
    # by a row (CKA is unchanged by it), and agree with the dense reference
    # whatever the argument order.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 10))
    Y = (1000 + 0.1 * rng.normal(size=(400, 3))).astype(np.float32)
    Yd = Y.astype(np.float64)
    reference = cka_kernels(X @ X.T, Yd @ Yd.T)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert linear_cka(Y, X) == pytest.approx(reference, rel=1e-5)
        assert linear_cka(X, Y) == pytest.approx(reference, rel=1e-5)
        Phi = (50 + rng.normal(size=(400, 8))).astype(np.float32)
        F = Phi[:, :2].astype(np.float64) @ rng.normal(size=(2, 3))
        Phid = Phi.astype(np.float64)
        expected = 1 - cka_kernels(Phid @ Phid.T, projector(F))
        assert cka_mf(Phi, F) == pytest.approx(expected, rel=1e-5)


def test_spectrum_measures_keep_cka_digits_when_float32_features_have_a_large_mean():
    # The one-pass measures keep their uncentred Gram; CKA-MF alone is
    # measured again from the shifted features.
    rng = np.random.default_rng(0)
    X = (1000 + 0.1 * rng.normal(size=(400, 3))).astype(np.float32)
    F = rng.normal(size=(400, 2))
    spectrum = FeatureSpectrum().fit(X)
    Xd = X.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = spectrum.projection_measures(X, outputs=F).cka_mf
    assert got == pytest.approx(1 - cka_kernels(Xd @ Xd.T, projector(F)), rel=1e-5)
