"""FeatureSpectrum against a naive dense float64 SVD, invariances and bad input."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _naive import eigenfunctions, spectrum
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from sklearn.exceptions import NotFittedError

from skfeat import FeatureSpectrum, eigenvalue_dimension

SOLVERS = ["auto", "gram", "dual", "svd"]


def make_features(rng, n, p, decay=0.7, dtype=np.float64):
    """Features with well-separated eigenvalues and a nonzero mean."""
    scales = decay ** np.arange(p)
    X = rng.normal(size=(n, p)) * scales + 0.3
    return X.astype(dtype)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("shape", [(80, 6), (12, 30)], ids=["n>p", "p>n"])
def test_matches_naive_svd(rng, solver, shape):
    X = make_features(rng, *shape)
    X_new = make_features(rng, 5, shape[1])
    lam, V = spectrum(X)
    est = FeatureSpectrum(solver=solver).fit(X)
    assert est.n_components_ == est.rank_ == lam.size == min(shape)
    assert_allclose(est.eigenvalues_, lam, rtol=1e-9)
    assert_allclose(est.components_, V.T, atol=1e-8)
    assert_allclose(est.transform(X_new), eigenfunctions(X_new, lam, V), atol=1e-8)
    assert est.n_samples_seen_ == shape[0]
    assert est.n_features_in_ == shape[1]


@pytest.mark.parametrize("solver", SOLVERS)
def test_eigenfunctions_orthonormal_on_training_sample(rng, solver):
    X = make_features(rng, 50, 8)
    E = FeatureSpectrum(solver=solver).fit_transform(X)
    assert_allclose(E.T @ E / len(X), np.eye(8), atol=1e-9)


def test_uncentred_first_eigenfunction_is_constant(rng):
    # Features = large constant + small noise: PCA would discard the constant,
    # the uncentred operator keeps it as the first eigenfunction.
    X = 5.0 + 0.01 * rng.normal(size=(200, 4))
    E = FeatureSpectrum().fit_transform(X)
    assert_allclose(E[:, 0], np.ones(200), atol=1e-2)


@pytest.mark.parametrize("solver", SOLVERS)
def test_rank_deficient_and_duplicate_columns(rng, solver):
    A = rng.normal(size=(40, 3))
    X = np.hstack([A @ rng.normal(size=(3, 6)), A[:, [0, 0]]])  # rank 3, 8 columns
    est = FeatureSpectrum(solver=solver).fit(X)
    lam, V = spectrum(X)
    assert lam.size == 3
    assert est.rank_ == est.n_components_ == 3
    assert_allclose(est.eigenvalues_, lam, rtol=1e-8)
    assert_allclose(est.components_, V.T, atol=1e-7)
    # The eigenfunctions stay finite and orthonormal: the null space is dropped.
    E = est.transform(X)
    assert_allclose(E.T @ E / len(X), np.eye(3), atol=1e-8)


@pytest.mark.parametrize("solver", SOLVERS)
def test_float32_in_float32_out_and_accurate(rng, solver):
    X = make_features(rng, 300, 10, decay=0.8, dtype=np.float32)
    lam, V = spectrum(X)
    est = FeatureSpectrum(solver=solver).fit(X)
    assert est.eigenvalues_.dtype == np.float32
    assert est.components_.dtype == np.float32
    E = est.transform(X)
    assert E.dtype == np.float32
    assert_allclose(est.eigenvalues_, lam, rtol=2e-4)
    assert_allclose(est.components_, V.T, atol=2e-3)
    assert_allclose(E, eigenfunctions(X, lam, V), atol=5e-3)


def test_sign_convention_deterministic(rng):
    X = make_features(rng, 60, 5)
    for solver in SOLVERS:
        V = FeatureSpectrum(solver=solver).fit(X).components_
        pivot = np.argmax(np.abs(V), axis=1)
        assert np.all(V[np.arange(5), pivot] > 0)
    # Flipping the sign of the data's features does not flip the convention.
    V1 = FeatureSpectrum().fit(X).components_
    V2 = FeatureSpectrum().fit(-X).components_
    assert_allclose(V1, V2, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=1, max_value=59), max_size=6),
    seed=st.integers(0, 2**16),
)
def test_partial_fit_equals_fit(cuts, seed):
    rng = np.random.default_rng(seed)
    X = make_features(rng, 60, 7)
    bounds = [0, *sorted(set(cuts)), 60]
    est = FeatureSpectrum()
    for a, b in zip(bounds[:-1], bounds[1:]):
        est.partial_fit(X[a:b])
    ref = FeatureSpectrum().fit(X)
    assert est.n_samples_seen_ == 60
    assert_allclose(est.eigenvalues_, ref.eigenvalues_, rtol=1e-10)
    assert_allclose(est.components_, ref.components_, atol=1e-8)


@pytest.mark.parametrize("solver", ["dual", "svd"])
def test_partial_fit_continues_dual_and_svd_fits(rng, solver):
    X = make_features(rng, 50, 6)
    est = FeatureSpectrum(solver=solver).fit(X[:30]).partial_fit(X[30:])
    ref = FeatureSpectrum().fit(X)
    assert est.n_samples_seen_ == 50
    assert_allclose(est.eigenvalues_, ref.eigenvalues_, rtol=1e-9)
    assert_allclose(est.components_, ref.components_, atol=1e-8)


def test_refit_resets_partial_fit(rng):
    X = make_features(rng, 50, 6)
    est = FeatureSpectrum().partial_fit(X).partial_fit(X)
    assert est.n_samples_seen_ == 100
    est.fit(X[:20])
    assert est.n_samples_seen_ == 20
    assert_allclose(est.eigenvalues_, FeatureSpectrum().fit(X[:20]).eigenvalues_)


@pytest.mark.parametrize("solver", SOLVERS)
def test_sample_permutation_invariance(rng, solver):
    X = make_features(rng, 40, 6)
    perm = rng.permutation(40)
    a = FeatureSpectrum(solver=solver).fit(X)
    b = FeatureSpectrum(solver=solver).fit(X[perm])
    assert_allclose(a.eigenvalues_, b.eigenvalues_, rtol=1e-10)
    assert_allclose(a.transform(X)[perm], b.transform(X[perm]), atol=1e-8)


@pytest.mark.parametrize("solver", SOLVERS)
def test_orthogonal_rotation_of_features(rng, solver):
    X = make_features(rng, 40, 6)
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    a = FeatureSpectrum(solver=solver).fit(X)
    b = FeatureSpectrum(solver=solver).fit(X @ Q)
    assert_allclose(a.eigenvalues_, b.eigenvalues_, rtol=1e-10)
    # Eigenfunctions are functions of the input: rotation leaves them unchanged
    # up to the sign of each one.
    Ea, Eb = a.transform(X), b.transform(X @ Q)
    assert_allclose(np.abs(Ea.T @ Eb) / len(X), np.eye(6), atol=1e-8)


def test_scaling(rng):
    X = make_features(rng, 40, 5)
    a = FeatureSpectrum().fit(X)
    b = FeatureSpectrum().fit(3.0 * X)
    assert_allclose(b.eigenvalues_, 9.0 * a.eigenvalues_, rtol=1e-10)
    assert_allclose(b.transform(3.0 * X), a.transform(X), atol=1e-9)
    assert b.effective_dimension_ == pytest.approx(a.effective_dimension_)


def test_effective_dimension_uses_full_spectrum(rng):
    X = make_features(rng, 100, 8)
    full = FeatureSpectrum().fit(X)
    cut = FeatureSpectrum(n_components=2).fit(X)
    lam, _ = spectrum(X)
    expected = eigenvalue_dimension(lam)
    assert full.effective_dimension_ == pytest.approx(expected, rel=1e-10)
    assert cut.effective_dimension_ == pytest.approx(expected, rel=1e-10)
    assert cut.n_components_ == 2
    assert_allclose(cut.eigenvalues_, lam[:2], rtol=1e-10)


@pytest.mark.parametrize("share", [0.3, 0.5, 0.9, 0.999])
def test_n_components_share(rng, share):
    X = make_features(rng, 100, 8)
    lam, _ = spectrum(X)
    expected = int(np.argmax(np.cumsum(lam) / lam.sum() >= share)) + 1
    assert FeatureSpectrum(n_components=share).fit(X).n_components_ == expected


def test_n_components_above_rank_warns_and_keeps_rank(rng):
    X = rng.normal(size=(30, 2)) @ rng.normal(size=(2, 5))
    with pytest.warns(UserWarning, match="only 2 eigenvalues"):
        est = FeatureSpectrum(n_components=4).fit(X)
    assert est.n_components_ == 2


@pytest.mark.parametrize(
    "n_components, match",
    [
        (7, "at most min"),
        (0, "n_components"),
        (1.5, "n_components"),
        ("a", "n_components"),
    ],
)
def test_n_components_out_of_range(rng, n_components, match):
    X = make_features(rng, 6, 5)
    with pytest.raises((ValueError, TypeError), match=match):
        FeatureSpectrum(n_components=n_components).fit(X)


def test_inverse_transform_round_trip(rng):
    X = make_features(rng, 30, 5)
    est = FeatureSpectrum().fit(X)
    assert_allclose(est.inverse_transform(est.transform(X)), X, atol=1e-10)
    # With fewer components, the projection onto their span.
    est2 = FeatureSpectrum(n_components=2).fit(X)
    V = est2.components_
    assert_allclose(est2.inverse_transform(est2.transform(X)), X @ V.T @ V, atol=1e-10)
    with pytest.raises(ValueError, match="n_components_=2"):
        est2.inverse_transform(np.ones((3, 3)))


def test_feature_names_and_set_output(rng):
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(make_features(rng, 30, 3), columns=["a", "b", "c"])
    est = FeatureSpectrum(n_components=2).set_output(transform="pandas").fit(X)
    assert list(est.feature_names_in_) == ["a", "b", "c"]
    assert list(est.get_feature_names_out()) == ["eigenfunction0", "eigenfunction1"]
    out = est.transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["eigenfunction0", "eigenfunction1"]
    with pytest.raises(ValueError, match="input_features"):
        est.get_feature_names_out(["x", "y", "z"])


def test_pickle_round_trip(rng):
    X = make_features(rng, 30, 4)
    est = FeatureSpectrum().fit(X)
    clone = pickle.loads(pickle.dumps(est))
    assert_allclose(clone.transform(X), est.transform(X))
    clone.partial_fit(X)  # the running moments survive the round trip
    assert clone.n_samples_seen_ == 60


@pytest.mark.parametrize("solver", ["auto", "gram", "dual", "svd"])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_matches_dense(rng, solver, fmt):
    X = rng.normal(size=(40, 8)) * (rng.random((40, 8)) < 0.4)
    X[:, 0] += 1.0
    dense = FeatureSpectrum(solver=solver).fit(X)
    est = FeatureSpectrum(solver=solver).fit(sp.csr_array(X).asformat(fmt))
    assert_allclose(est.eigenvalues_, dense.eigenvalues_, rtol=1e-9)
    assert_allclose(est.components_, dense.components_, atol=1e-8)
    assert_allclose(est.transform(sp.csr_array(X)), dense.transform(X), atol=1e-8)


def test_backends_match_numpy(backend, rng):
    X = make_features(rng, 64, 6, dtype=np.float32)
    ref = FeatureSpectrum().fit(X)
    Xb = backend.asarray(X)
    est = FeatureSpectrum().fit(Xb)
    E = est.transform(Xb)
    for arr in (est.eigenvalues_, est.components_, E):
        assert type(arr) is type(Xb)
        assert arr.dtype == Xb.dtype
    assert_allclose(backend.to_numpy(est.eigenvalues_), ref.eigenvalues_, rtol=1e-5)
    assert_allclose(backend.to_numpy(E), ref.transform(X), atol=1e-4)
    # partial_fit through the same backend.
    est2 = FeatureSpectrum().partial_fit(Xb[:30, ...]).partial_fit(Xb[30:, ...])
    assert_allclose(backend.to_numpy(est2.eigenvalues_), ref.eigenvalues_, rtol=1e-5)


# -- bad input ------------------------------------------------------------------


def _good(rng):
    return make_features(rng, 10, 3)


@pytest.mark.parametrize(
    "make_bad, error, match",
    [
        (lambda X: np.where(X > 1, np.nan, X), ValueError, "NaN"),
        (lambda X: np.where(X > 1, np.inf, X), ValueError, "infinity"),
        (lambda X: X[:0], ValueError, "no samples"),
        (lambda X: X[:1], ValueError, "1 sample"),
        (lambda X: X[:, 0], ValueError, "2-D array.*Reshape your data"),
        (lambda X: X[:, :0], ValueError, "0 feature"),
        (lambda X: X.astype(str), TypeError, "not strings"),
        (lambda X: X.astype(object), TypeError, "object array holding strings"),
        (lambda X: X + 1j, ValueError, "Complex"),
        (lambda X: np.zeros_like(X), ValueError, "no numerically nonzero"),
    ],
    ids=[
        "nan",
        "inf",
        "empty",
        "one-sample",
        "1d",
        "no-features",
        "str",
        "object",
        "complex",
        "all-zero",
    ],
)
def test_bad_input_fit(rng, make_bad, error, match):
    X = make_bad(_good(rng))
    if X.dtype == object:
        X[0, 0] = "a"
    with pytest.raises(error, match=match):
        FeatureSpectrum().fit(X)


def test_transform_errors(rng):
    X = _good(rng)
    with pytest.raises(NotFittedError):
        FeatureSpectrum().transform(X)
    est = FeatureSpectrum().fit(X)
    with pytest.raises(ValueError, match="3 features"):
        est.transform(np.ones((2, 4)))
    with pytest.raises(ValueError, match="NaN"):
        est.transform(np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match="3 features"):
        est.partial_fit(np.ones((2, 4)))


@pytest.mark.parametrize("solver", SOLVERS)
def test_input_not_modified(rng, solver):
    X = make_features(rng, 20, 4, dtype=np.float32)
    before = X.copy()
    est = FeatureSpectrum(solver=solver).fit(X)
    est.transform(X)
    est.inverse_transform(est.transform(X))
    est.partial_fit(X)
    np.testing.assert_array_equal(X, before)


def test_no_warning_on_clean_data(rng):
    X = make_features(rng, 20, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FeatureSpectrum().fit(X).transform(X)


@pytest.mark.parametrize(
    "bad, error, match",
    [
        (np.ones((4, 3)) + 1j, TypeError, "Complex data not supported"),
        (np.ones((4, 3)).astype(str), TypeError, "real numbers"),
        (3.0, ValueError, "2-D"),
        ([[1.0, 2.0], [3.0]], ValueError, "could not be read"),
    ],
)
def test_inverse_transform_rejects_bad_input(rng, bad, error, match):
    """Regression: complex values lost their imaginary part silently, strings
    were parsed, and lists or scalars crashed with an AttributeError."""
    est = FeatureSpectrum().fit(rng.normal(size=(20, 3)))
    with pytest.raises(error, match=match):
        est.inverse_transform(bad)


def test_inverse_transform_accepts_lists(rng):
    X = rng.normal(size=(20, 3))
    est = FeatureSpectrum().fit(X)
    E = est.transform(X)
    assert_allclose(est.inverse_transform(E.tolist()), X, atol=1e-10)


def test_inverse_transform_dask_reports_nan_when_computed(rng):
    da = pytest.importorskip("dask.array")
    X = rng.normal(size=(40, 4))
    est = FeatureSpectrum().fit(X)
    E = est.transform(X)
    assert_allclose(est.inverse_transform(da.from_array(E, chunks=10)).compute(), X)
    E[13, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        est.inverse_transform(da.from_array(E, chunks=10)).compute()


def test_lists_of_numeric_strings_are_refused():
    """Regression: a numpy array of strings was refused but the same values as
    nested lists were parsed into numbers silently."""
    with pytest.raises(TypeError, match="strings"):
        FeatureSpectrum().fit([["1", "2"], ["3", "5"], ["0", "1"]])


def test_few_components_take_the_partial_eigensolver(monkeypatch):
    # n_components = k <= p / 8: all eigenvalues, k eigenvectors (syevr with
    # an index range); the fitted spectrum is that of the full solve.
    import skfeat._eigh as eigh_module

    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 48)) * 0.9 ** np.arange(48)
    calls = []
    top = eigh_module._top_eigenvectors

    def recording(G, k):
        calls.append(k)
        return top(G, k)

    monkeypatch.setattr(eigh_module, "_top_eigenvectors", recording)
    few = FeatureSpectrum(n_components=5).fit(X)
    assert calls == [5]
    full = FeatureSpectrum().fit(X)
    np.testing.assert_allclose(few.eigenvalues_, full.eigenvalues_[:5], rtol=1e-12)
    np.testing.assert_allclose(few.components_, full.components_[:5], atol=1e-10)
    assert few.rank_ == full.rank_
    assert few.effective_dimension_ == pytest.approx(full.effective_dimension_, 1e-12)
    FeatureSpectrum(n_components=7).fit(X)  # > p / 8: the full solve
    assert calls == [5]
