"""Quality and utility against naive dense float64 projections written here."""

import warnings

import numpy as np
import pytest
import sklearn
from _naive import cumulative_projection, feature_projection
from _naive import target_matrix as one_hot
from hypothesis import given, settings
from hypothesis import strategies as st

from skfeat import FeatureSpectrum
from skfeat.metrics import (
    cumulative_quality,
    cumulative_utility,
    feature_quality,
    feature_utility,
    projection_measures,
)

# -- naive reference: explicit projector matrices, QR, matrix_rank -----------


def as_backend(name):
    """A converter numpy -> backend; CUDA only where a GPU is present."""
    module = pytest.importorskip(name.split("-")[0])
    if name == "torch-cuda":
        if not module.cuda.is_available():
            pytest.skip("no CUDA GPU")

        class Cuda:
            @staticmethod
            def asarray(a):
                return module.asarray(a, device="cuda")

        return Cuda
    return module


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    m, k, C = 60, 8, 4
    labels = rng.integers(0, C, size=m)
    E = rng.normal(size=(m, k)) + one_hot(labels) @ rng.normal(size=(C, k))
    return E, labels, rng


# -- exact values -----------------------------------------------------------


def test_quality_matches_naive_projector(data):
    E, labels, _ = data
    Y = one_hot(labels)
    np.testing.assert_allclose(
        feature_quality(E, labels), feature_projection(E, Y), atol=1e-12
    )
    np.testing.assert_allclose(
        cumulative_quality(E, labels), cumulative_projection(E, Y), atol=1e-11
    )


def test_centered_target_matches_naive(data):
    E, labels, _ = data
    Yc = one_hot(labels) - 1.0 / 4
    np.testing.assert_allclose(
        cumulative_quality(E, labels, center_target=True),
        cumulative_projection(E, Yc),
        atol=1e-11,
    )
    Q = cumulative_quality(E, labels, center_target=True)
    assert Q[-1] <= 3 + 1e-12  # span of dimension C - 1


def test_regression_target_matrix_and_vector(data):
    E, _, rng = data
    Y = rng.normal(size=(E.shape[0], 2))
    np.testing.assert_allclose(
        cumulative_quality(E, Y), cumulative_projection(E, Y), atol=1e-11
    )
    np.testing.assert_allclose(
        feature_quality(E, Y[:, 0]), feature_projection(E, Y[:, :1]), atol=1e-12
    )
    Yc = Y - Y.mean(axis=0)
    np.testing.assert_allclose(
        cumulative_quality(E, Y, center_target=True),
        cumulative_projection(E, Yc),
        atol=1e-11,
    )


def test_string_labels_equal_integer_labels(data):
    E, labels, _ = data
    names = np.array(["cat", "dog", "emu", "fox"], dtype=object)[labels]
    np.testing.assert_allclose(
        cumulative_quality(E, names), cumulative_quality(E, labels), atol=1e-14
    )
    assert np.allclose(
        cumulative_quality(E, list(names)), cumulative_quality(E, labels)
    )


def test_utility_matches_naive(data):
    E, _, rng = data
    F = E[:, :3] @ rng.normal(size=(3, 5)) + 0.3 * rng.normal(size=(E.shape[0], 5))
    np.testing.assert_allclose(
        feature_utility(E, F), feature_projection(E, F), atol=1e-12
    )
    np.testing.assert_allclose(
        cumulative_utility(E, F), cumulative_projection(E, F), atol=1e-11
    )


def test_projection_measures_equal_separate_functions(data):
    E, labels, rng = data
    F = rng.normal(size=(E.shape[0], 3))
    res = projection_measures(E, labels, outputs=F)
    np.testing.assert_array_equal(res.cumulative_quality, cumulative_quality(E, labels))
    np.testing.assert_array_equal(res.feature_quality, feature_quality(E, labels))
    np.testing.assert_array_equal(res.cumulative_utility, cumulative_utility(E, F))
    np.testing.assert_array_equal(res.feature_utility, feature_utility(E, F))
    assert res.target_rank == 4 and res.output_rank == 3
    assert set(projection_measures(E, labels)) == {
        "feature_quality",
        "cumulative_quality",
        "target_rank",
        "target_type",
    }


# -- closed forms -----------------------------------------------------------


def test_target_in_feature_span_gives_full_quality(data):
    _, labels, rng = data
    m = labels.size
    Y = one_hot(labels)
    E = np.hstack([rng.normal(size=(m, 3)), Y @ rng.normal(size=(4, 4))])
    Q = cumulative_quality(E, labels)
    assert np.all(np.diff(Q) >= -1e-12)
    assert Q[-1] == pytest.approx(4.0, abs=1e-10)


def test_linear_readout_utility_reaches_output_rank():
    rng = np.random.default_rng(1)
    Phi_train, Phi_eval = rng.normal(size=(100, 6)), rng.normal(size=(80, 6))
    E = FeatureSpectrum().fit(Phi_train).transform(Phi_eval)
    W = rng.normal(size=(6, 2)) @ rng.normal(size=(2, 3))  # rank 2, 3 outputs
    res = projection_measures(E, outputs=Phi_eval @ W)
    assert res.output_rank == 2
    assert res.cumulative_utility[-1] == pytest.approx(2.0, abs=1e-10)
    u = res.feature_utility
    assert np.all((u >= 0) & (u <= 1))


def test_dependent_columns_add_exactly_nothing(data):
    E, labels, _ = data
    extended = np.hstack([E[:, :3], E[:, :1], E[:, :1] - 2 * E[:, 2:3], E[:, 3:]])
    Q = cumulative_quality(extended, labels)
    assert np.all(np.isfinite(Q))
    assert Q[3] == Q[2] and Q[4] == Q[2]
    np.testing.assert_allclose(
        np.delete(Q, [3, 4]), cumulative_quality(E, labels), atol=1e-11
    )


def test_more_eigenfunctions_than_samples_is_finite():
    rng = np.random.default_rng(2)
    labels = np.array([0, 1, 2, 0, 1])
    E = rng.normal(size=(5, 9))
    Q = cumulative_quality(E, labels)
    assert np.all(np.isfinite(Q)) and np.all(np.diff(Q) >= -1e-12)
    assert Q[-1] == pytest.approx(3.0, abs=1e-10)  # span(E) is all of R^5
    assert np.all(Q[4:] == Q[4])


def test_zero_column_has_zero_quality_and_warns(data):
    E, labels, _ = data
    E = E.copy()
    E[:, 2] = 0.0
    with pytest.warns(UserWarning, match="identically zero"):
        q = feature_quality(E, labels)
    assert q[2] == 0.0 and np.all(np.isfinite(q))


def test_constant_function_has_quality_one_for_onehot_only():
    labels = np.array([0, 1, 1, 0, 2, 2])
    E = np.ones((6, 1))
    assert feature_quality(E, labels)[0] == pytest.approx(1.0)
    assert feature_quality(E, labels, center_target=True)[0] == pytest.approx(0.0)


def test_float32_input_gives_float64_close_to_naive(data):
    E, labels, _ = data
    Q = cumulative_quality(E.astype(np.float32), labels)
    assert Q.dtype == np.float64
    np.testing.assert_allclose(
        Q, cumulative_projection(E.astype(np.float32), one_hot(labels)), atol=1e-4
    )


def test_input_is_not_modified(data):
    E, labels, rng = data
    F = rng.normal(size=(E.shape[0], 2))
    copies = E.copy(), labels.copy(), F.copy()
    projection_measures(E, labels, outputs=F, center_target=True)
    for before, after in zip(copies, (E, labels, F)):
        np.testing.assert_array_equal(before, after)


# -- invariances (hypothesis) -----------------------------------------------


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(6, 30), k=st.integers(1, 6))
def test_properties_and_naive_agreement(seed, m, k):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=m)
    labels[:3] = [0, 1, 2]
    E = rng.normal(size=(m, k))
    q = feature_quality(E, labels)
    Q = cumulative_quality(E, labels)
    assert np.all((q >= 0) & (q <= 1))
    assert np.all(np.diff(Q) >= -1e-12) and Q[-1] <= 3 + 1e-12
    if k < m:
        np.testing.assert_allclose(
            Q, cumulative_projection(E, one_hot(labels)), atol=1e-9
        )
    perm = rng.permutation(m)
    np.testing.assert_allclose(cumulative_quality(E[perm], labels[perm]), Q, atol=1e-9)
    # Scaling each eigenfunction changes nothing: projections are of spans.
    scale = rng.uniform(0.1, 10.0, size=k)
    np.testing.assert_allclose(cumulative_quality(E * scale, labels), Q, atol=1e-9)
    np.testing.assert_allclose(feature_quality(E * scale, labels), q, atol=1e-9)


def test_outputs_rotation_invariance(data):
    E, _, rng = data
    F = rng.normal(size=(E.shape[0], 3))
    R = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    np.testing.assert_allclose(
        cumulative_utility(E, F @ R * 7.0), cumulative_utility(E, F), atol=1e-11
    )


# -- backends ----------------------------------------------------------------


@pytest.mark.parametrize("backend", ["array_api_strict", "torch", "torch-cuda"])
def test_array_api_backends_match_numpy(data, backend):
    xp = as_backend(backend)
    E, labels, rng = data
    F = rng.normal(size=(E.shape[0], 3))
    expected = projection_measures(E, labels, outputs=F)
    with sklearn.config_context(array_api_dispatch=True):
        got = projection_measures(xp.asarray(E), labels, outputs=xp.asarray(F))
        got32 = cumulative_quality(xp.asarray(E.astype(np.float32)), labels)
    for key in ("cumulative_quality", "feature_quality", "cumulative_utility"):
        assert isinstance(got[key], np.ndarray)
        np.testing.assert_allclose(got[key], expected[key], atol=1e-10)
    np.testing.assert_allclose(got32, expected.cumulative_quality, atol=1e-4)


def test_dask_arrays_match_numpy(data):
    da = pytest.importorskip("dask.array")
    E, labels, rng = data
    F = rng.normal(size=(E.shape[0], 3))
    expected = projection_measures(E, labels, outputs=F)
    got = projection_measures(
        da.from_array(E, chunks=(25, 8)), labels, outputs=da.from_array(F, chunks=25)
    )
    np.testing.assert_allclose(
        got.cumulative_quality, expected.cumulative_quality, atol=1e-10
    )
    np.testing.assert_allclose(
        got.cumulative_utility, expected.cumulative_utility, atol=1e-10
    )


# -- bad input: one clear error each ---------------------------------------


def test_outputs_vector_is_one_column(data):
    E, _, rng = data
    f = rng.normal(size=E.shape[0])
    np.testing.assert_array_equal(
        cumulative_utility(E, f), cumulative_utility(E, f[:, None])
    )


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda E, y, F: cumulative_quality(E[:-1], y), ValueError, "same number"),
        (lambda E, y, F: cumulative_utility(E, F[:-2]), ValueError, "same number"),
        (
            lambda E, y, F: cumulative_quality(E, np.zeros(len(y), int)),
            ValueError,
            "single",
        ),
        (lambda E, y, F: feature_quality(E, ["a"] * len(y)), ValueError, "single"),
        (
            lambda E, y, F: cumulative_utility(E, np.where(F > 1, np.nan, F)),
            ValueError,
            "NaN",
        ),
        (
            lambda E, y, F: cumulative_utility(E, np.where(F > 1, np.inf, F)),
            ValueError,
            "infinity",
        ),
        (
            lambda E, y, F: cumulative_quality(np.where(E > 1, np.nan, E), y),
            ValueError,
            "NaN",
        ),
        (lambda E, y, F: cumulative_quality(E[:0], y[:0]), ValueError, "empty"),
        (lambda E, y, F: cumulative_quality(E[:, :0], y), ValueError, "empty"),
        (lambda E, y, F: cumulative_quality(E[:1], y[:1]), ValueError, "at least 2"),
        (lambda E, y, F: cumulative_quality(E[:, 0], y), ValueError, "2-D"),
        (lambda E, y, F: cumulative_quality(E.astype(str), y), TypeError, "real"),
        (
            lambda E, y, F: cumulative_quality(E, y, target_type="x"),
            ValueError,
            "target_type",
        ),
        (
            lambda E, y, F: cumulative_quality(E, np.zeros((len(y), 2, 2))),
            ValueError,
            "1-D or 2-D",
        ),
    ],
)
def test_bad_input_raises_clear_error(data, call, error, match):
    E, labels, rng = data
    F = rng.normal(size=(E.shape[0], 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(error, match=match):
            call(E, labels, F)


# -- FeatureSpectrum convenience methods: same formulas, one pass over Phi ------


def spectrum_data():
    """Training features, evaluation features, labels and outputs."""
    rng = np.random.default_rng(3)
    labels = np.tile([0, 1, 2], 40)
    Phi = one_hot(labels) @ rng.normal(size=(3, 7)) + rng.normal(size=(120, 7))
    F = Phi @ rng.normal(size=(7, 3))
    return Phi[:80], Phi[80:], labels[80:], F[80:]


@pytest.fixture
def fitted():
    train, Phi, labels, F = spectrum_data()
    return FeatureSpectrum(n_components=5).fit(train), Phi, labels, F


def test_spectrum_methods_equal_functions_on_transform(fitted):
    from skfeat.metrics import cka_mf

    spectrum, Phi, labels, F = fitted
    E = spectrum.transform(Phi)
    np.testing.assert_allclose(
        spectrum.quality(Phi, labels), cumulative_quality(E, labels), atol=1e-10
    )
    np.testing.assert_allclose(
        spectrum.quality(Phi, labels, center_target=True),
        cumulative_quality(E, labels, center_target=True),
        atol=1e-10,
    )
    np.testing.assert_allclose(
        spectrum.utility(Phi, F), cumulative_utility(E, F), atol=1e-10
    )
    res = spectrum.projection_measures(Phi, labels, outputs=F)
    np.testing.assert_allclose(
        res.feature_quality, feature_quality(E, labels), atol=1e-10
    )
    np.testing.assert_allclose(res.feature_utility, feature_utility(E, F), atol=1e-10)
    assert res.cka_mf == pytest.approx(cka_mf(Phi, F), abs=1e-12)
    assert spectrum.score(Phi, labels) == pytest.approx(
        cumulative_quality(E, labels)[2] / 3, abs=1e-10
    )


def test_spectrum_methods_sparse_and_errors(fitted):
    import scipy.sparse as sp

    spectrum, Phi, labels, F = fitted
    np.testing.assert_allclose(
        spectrum.quality(sp.csr_array(Phi), labels),
        spectrum.quality(Phi, labels),
        atol=1e-10,
    )
    with pytest.raises(ValueError, match="features"):
        spectrum.quality(Phi[:, :3], labels)
    with pytest.raises(ValueError, match="same number"):
        spectrum.utility(Phi, F[:-1])
    with pytest.raises(ValueError, match="needs the targets"):
        spectrum.score(Phi, None)
    with pytest.raises(ValueError, match="target"):
        spectrum.quality(Phi, labels, target_type="x")


def test_measures_never_form_a_sample_by_sample_array():
    import tracemalloc

    from skfeat.metrics import cka_mf

    rng = np.random.default_rng(4)
    m = 20_000  # an m x m float64 array would be 3.2 GB
    Phi = rng.normal(size=(m, 8))
    F = Phi[:, :2] + 0.1 * rng.normal(size=(m, 2))
    labels = rng.integers(0, 3, size=m)
    tracemalloc.start()
    projection_measures(Phi, labels, outputs=F)
    cka_mf(Phi, F)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * Phi.nbytes


def test_spectrum_measures_on_torch(fitted):
    torch = pytest.importorskip("torch")
    spectrum, Phi, labels, F = fitted
    expected = spectrum.projection_measures(Phi, labels, outputs=F)
    with sklearn.config_context(array_api_dispatch=True):
        train = torch.asarray(spectrum_data()[0])
        est = FeatureSpectrum(n_components=5).fit(train)
        got = est.projection_measures(
            torch.asarray(Phi), labels, outputs=torch.asarray(F)
        )
    for key in ("cumulative_quality", "cumulative_utility", "cka_mf"):
        np.testing.assert_allclose(got[key], expected[key], atol=1e-8)


def test_tiny_samples_and_degenerate_targets_are_defined():
    E = np.array([[1.0, 2.0], [1.0, -1.0]])
    Q = cumulative_quality(E, [0, 1])
    np.testing.assert_allclose(Q, [1.0, 2.0], atol=1e-12)
    with pytest.warns(UserWarning, match="targets are zero"):
        Q = cumulative_quality(E, np.full((2, 1), 3.0), center_target=True)
    np.testing.assert_array_equal(Q, [0.0, 0.0])
    with pytest.warns(UserWarning, match="outputs are zero"):
        U = cumulative_utility(E, np.zeros(2))
    np.testing.assert_array_equal(U, [0.0, 0.0])


def test_pandas_inputs():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(5)
    E = rng.normal(size=(20, 3))
    labels = np.array(list("abcd") * 5)
    expected = cumulative_quality(E, labels)
    got = cumulative_quality(pd.DataFrame(E), pd.Series(labels))
    np.testing.assert_allclose(got, expected, atol=1e-14)


def test_in_order_basis_cholesky_path_equals_gram_schmidt(monkeypatch):
    from skfeat.metrics import _gram

    rng = np.random.default_rng(6)
    A = rng.normal(size=(50, 6)) @ np.diag([1.0, 1e-2, 1.0, 3.0, 1e-3, 1.0])
    G = A.T @ A
    fast = _gram.in_order_basis(G, 1e-12)

    def no_cholesky(_):
        raise np.linalg.LinAlgError

    monkeypatch.setattr(_gram.np.linalg, "cholesky", no_cholesky)
    loop = _gram.in_order_basis(G, 1e-12)
    np.testing.assert_allclose(fast, loop, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(fast.T @ G @ fast, np.eye(6), atol=1e-10)


def test_spectrum_scalar_target_is_a_clear_error(fitted):
    """Regression: a scalar y reached ``y.shape[0]`` and raised IndexError."""
    spectrum, Phi, _, _ = fitted
    with pytest.raises(ValueError, match="y must be 1-D or 2-D"):
        spectrum.score(Phi, 1)
    with pytest.raises(ValueError, match="y must be 1-D or 2-D"):
        spectrum.projection_measures(Phi, np.float64(0.5))


def test_ragged_labels_name_the_input(data):
    E, _, _ = data
    with pytest.raises(ValueError, match="y could not be read as an array"):
        feature_quality(E, [[0, 1], [1]])
