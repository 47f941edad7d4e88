"""Linear CKA, CKA-MF and the regime against dense m x m kernels written here."""

import warnings

import numpy as np
import pytest
import sklearn
from _naive import cka_kernels, projector
from hypothesis import given, settings
from hypothesis import strategies as st

from skfeat.metrics import cka_mf, feature_regime, linear_cka


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
def rng():
    return np.random.default_rng(0)


def test_linear_cka_matches_dense_kernels(rng):
    X = rng.normal(size=(30, 5)) + 2.0
    Y = X @ rng.normal(size=(5, 3)) + rng.normal(size=(30, 3))
    expected = cka_kernels(X @ X.T, Y @ Y.T)
    assert linear_cka(X, Y) == pytest.approx(expected, abs=1e-12)
    assert linear_cka(Y, X) == pytest.approx(expected, abs=1e-12)


def test_cka_mf_matches_dense_kernels(rng):
    Phi = rng.normal(size=(40, 6))
    F = Phi[:, :2] @ rng.normal(size=(2, 3))  # rank 2 outputs
    expected = 1.0 - cka_kernels(Phi @ Phi.T, projector(F))
    assert cka_mf(Phi, F) == pytest.approx(expected, abs=1e-10)


def test_cka_with_itself_is_one_and_invariant(rng):
    X = rng.normal(size=(50, 4))
    assert linear_cka(X, X) == pytest.approx(1.0, abs=1e-12)
    R = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    Y = rng.normal(size=(50, 3))
    base = linear_cka(X, Y)
    assert linear_cka(5.0 * X @ R, 0.01 * Y) == pytest.approx(base, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    m=st.integers(3, 25),
    p=st.integers(1, 5),
    q=st.integers(1, 5),
)
def test_linear_cka_properties(seed, m, p, q):
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(m, p)), rng.normal(size=(m, q))
    value = linear_cka(X, Y)
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(cka_kernels(X @ X.T, Y @ Y.T), abs=1e-9)
    perm = rng.permutation(m)
    assert linear_cka(X[perm], Y[perm]) == pytest.approx(value, abs=1e-9)
    R = np.linalg.qr(rng.normal(size=(p, p)))[0]
    shift = rng.normal(size=p)  # centring removes any offset
    assert linear_cka(3.0 * X @ R + shift, Y) == pytest.approx(value, abs=1e-9)


def test_constant_side_gives_zero_with_warning(rng):
    X = rng.normal(size=(20, 3))
    with pytest.warns(UserWarning, match="constant"):
        assert linear_cka(X, np.full((20, 2), 3.0)) == 0.0
    with pytest.warns(UserWarning, match="constant"):
        assert cka_mf(X, np.ones(20)) == 1.0
    with pytest.warns(UserWarning, match="constant"):
        assert cka_mf(X, np.zeros((20, 2))) == 1.0


def test_planted_minimal_feature_regime(rng):
    labels = rng.integers(0, 4, size=400)
    codes = np.eye(4)[labels]
    Phi = codes @ rng.normal(size=(4, 32)) + 0.05 * rng.normal(size=(400, 32))
    outputs = Phi @ rng.normal(size=(32, 4))
    assert cka_mf(Phi, outputs) < 0.05
    assert feature_regime(Phi, outputs) == "MF"


def test_planted_extended_feature_regime(rng):
    labels = rng.integers(0, 4, size=400)
    codes = np.eye(4)[labels]
    Phi = np.hstack([codes, rng.normal(size=(400, 100))])
    outputs = codes @ rng.normal(size=(4, 4))
    assert cka_mf(Phi, outputs) > 0.5
    assert feature_regime(Phi, outputs) == "EF"
    assert feature_regime(Phi, outputs, threshold=1.0) == "MF"


@pytest.mark.parametrize("backend", ["array_api_strict", "torch", "torch-cuda"])
def test_array_api_backends_match_numpy(rng, backend):
    xp = as_backend(backend)
    Phi, F = rng.normal(size=(40, 6)), rng.normal(size=(40, 2))
    with sklearn.config_context(array_api_dispatch=True):
        got = cka_mf(xp.asarray(Phi), xp.asarray(F))
        got_cka = linear_cka(xp.asarray(Phi.astype(np.float32)), xp.asarray(F))
    assert got == pytest.approx(cka_mf(Phi, F), abs=1e-10)
    assert got_cka == pytest.approx(linear_cka(Phi, F), abs=1e-5)


def test_dask_matches_numpy(rng):
    da = pytest.importorskip("dask.array")
    Phi, F = rng.normal(size=(40, 6)), rng.normal(size=(40, 2))
    got = cka_mf(da.from_array(Phi, chunks=15), da.from_array(F, chunks=15))
    assert got == pytest.approx(cka_mf(Phi, F), abs=1e-12)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda X, F: linear_cka(X, F[:-1]), ValueError, "same number"),
        (lambda X, F: cka_mf(X[:-1], F), ValueError, "same number"),
        (lambda X, F: cka_mf(X, np.where(F > 1, np.nan, F)), ValueError, "NaN"),
        (lambda X, F: linear_cka(X[:0], F[:0]), ValueError, "empty"),
        (lambda X, F: linear_cka(X[:1], F[:1]), ValueError, "at least 2"),
        (lambda X, F: cka_mf(X.astype(str), F), TypeError, "real"),
        (lambda X, F: feature_regime(X, F, threshold=2.0), ValueError, "threshold"),
    ],
)
def test_bad_input_raises_clear_error(rng, call, error, match):
    X, F = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(error, match=match):
            call(X, F)


def test_cka_mf_invariances(rng):
    Phi = rng.normal(size=(60, 5)) + 1.0
    F = Phi[:, :2] @ rng.normal(size=(2, 3)) + 0.2 * rng.normal(size=(60, 3))
    base = cka_mf(Phi, F)
    R = np.linalg.qr(rng.normal(size=(5, 5)))[0]
    A = rng.normal(size=(3, 3))  # any invertible mix of outputs: same span
    assert cka_mf(4.0 * Phi @ R, F @ A) == pytest.approx(base, abs=1e-10)
    perm = rng.permutation(60)
    assert cka_mf(Phi[perm], F[perm]) == pytest.approx(base, abs=1e-10)
    assert 0.0 <= base <= 1.0


def test_dask_input_is_read_once(rng):
    """Regression: a separate finiteness pass computed every dask block twice
    (once to look for NaN, once for the Gram matrix)."""
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    Phi = rng.normal(size=(60, 4))
    reads = []

    def counted(block):
        reads.append(block.shape[0])
        return block

    X = da.from_array(Phi, chunks=20).map_blocks(counted, dtype=Phi.dtype)
    with dask.config.set(scheduler="sync"):
        got = linear_cka(X, Phi[:, :2])
    assert sum(reads) == 60
    assert got == pytest.approx(linear_cka(Phi, Phi[:, :2]), abs=1e-12)
    bad = Phi.copy()
    bad[33, 1] = np.inf
    with dask.config.set(scheduler="sync"):
        with pytest.raises(ValueError, match="NaN or infinity"):
            cka_mf(da.from_array(bad, chunks=20), Phi[:, :2])


def _offset_sides(m, seed=0):
    rng = np.random.default_rng(seed)
    X = (1000 + 0.1 * rng.normal(size=(m, 3))).astype(np.float32)
    Y = (X @ rng.normal(size=(3, 3))).astype(np.float32)
    return X, Y


@pytest.mark.parametrize("m", [100, 2000, 20000])
def test_float32_sides_of_large_mean_keep_their_digits(m):
    # Mean 1000, spread 0.1 (relative 1e-4, a thousand float32 ulps): real
    # spread at every m, never "constant"; the cross products with a side of
    # large mean are measured again from the shifted sides.
    from skfeat import FeatureSpectrum

    X, Y = _offset_sides(m)
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = linear_cka(X, Y)
        mf = cka_mf(X, Y)
        spectrum = FeatureSpectrum().fit(X)
        mf_spectrum = spectrum.projection_measures(X, np.arange(m) % 3, Y).cka_mf
    assert got == pytest.approx(linear_cka(X64, Y64), rel=1e-5)
    # Naive CKA-MF: explicit centred m x m kernels, span(F) cut by numpy's
    # matrix_rank rule on the float32 outputs (rank 1 from m = 2000 on).
    U, _, _ = np.linalg.svd(Y64, full_matrices=False)
    U = U[:, : np.linalg.matrix_rank(Y)]
    H = np.eye(m) - 1.0 / m if m <= 2000 else None
    if H is not None:
        K, P = H @ X64 @ X64.T @ H, H @ U @ U.T @ H
        naive = 1 - np.sum(K * P) / (np.linalg.norm(K) * np.linalg.norm(P))
        assert mf == pytest.approx(naive, rel=1e-5)
    assert mf_spectrum == pytest.approx(mf, rel=1e-6)


def test_wide_features_with_a_narrow_side_of_large_mean_are_measured():
    # The exactly centred narrow side's floor does not grow with m.
    rng = np.random.default_rng(1)
    m = 2000
    _, Y = _offset_sides(m)
    X = rng.normal(size=(m, m + 10)).astype(np.float32)
    X[:, :3] += Y
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = linear_cka(X, Y)
    want = linear_cka(X.astype(np.float64), Y.astype(np.float64))
    assert got > 0 and got == pytest.approx(want, rel=1e-4)


@pytest.mark.parametrize("ulps", [1, 2])
@pytest.mark.parametrize("wide", [False, True])
def test_sides_constant_to_rounding_are_constant(ulps, wide):
    # A constant computed with rounding (values within a few float32 ulps of
    # 1000) is a constant side on every route -- before and after any shift.
    rng = np.random.default_rng(0)
    m = 200
    c = np.float32(1000)
    q = m + 5 if wide else 2
    Y = (c + ulps * np.spacing(c) * rng.integers(-1, 2, (m, q))).astype(np.float32)
    X = rng.normal(size=(m, 3)).astype(np.float32)
    for value, constant in (
        (lambda: linear_cka(X, Y), 0.0),
        (lambda: linear_cka(Y, X), 0.0),
        (lambda: linear_cka(X, Y, debiased=True), 0.0),
        (lambda: cka_mf(X, Y), 1.0),
        (lambda: cka_mf(Y, X), 1.0),
    ):
        with pytest.warns(UserWarning, match="constant"):
            assert value() == constant


def test_float64_side_of_small_relative_spread_is_measured():
    # Relative spread 3e-6 in float64 at m = 100 000: real, measured (it fell
    # between the shift threshold and the constant floor once).
    rng = np.random.default_rng(0)
    m = 100_000
    X = rng.normal(size=(m, 2))
    Y = 1e6 + 3 * (X[:, :1] + 0.5 * rng.normal(size=(m, 1)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = linear_cka(X, Y)
    Xc, Yc = X - X.mean(axis=0), Y - Y.mean(axis=0)
    naive = np.linalg.norm(Xc.T @ Yc) ** 2 / (
        np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc)
    )
    assert got == pytest.approx(naive, rel=1e-8)


def test_one_pass_cka_warns_when_the_outputs_mean_eats_the_cross_products():
    # A stream (analyze, partial moments) cannot measure again shifted: the
    # one-pass CKA-MF says that its cross products lost digits; cka_mf,
    # which can, measures again and stays silent.
    from skfeat.metrics._cka import cka_mf_from_grams
    from skfeat.metrics._gram import GramBlocks

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 4)).astype(np.float32)
    F = (1e4 + 0.1 * (X[:, :2] + rng.normal(size=(2000, 2)))).astype(np.float32)
    with pytest.warns(UserWarning, match="second representation's mean"):
        cka_mf_from_grams(GramBlocks(X, F))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cka_mf(X, F)


def test_ordinary_data_are_not_read_for_constancy(monkeypatch):
    # The data-level constant test runs only where the Grams cannot tell
    # (a centred Gram within their rounding): ordinary data take one pass.
    import skfeat.metrics._cka as cka_module

    calls = []
    check = cka_module.constant_columns
    monkeypatch.setattr(
        cka_module, "constant_columns", lambda A: calls.append(A.shape) or check(A)
    )
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5)).astype(np.float32) + 3.0
    Y = X[:, :2] @ rng.normal(size=(2, 3)) + 1.0
    W = rng.normal(size=(40, 60)).astype(np.float32)
    linear_cka(X, Y), cka_mf(X, Y), linear_cka(W, W[:, :3]), cka_mf(W, W[:, :3])
    assert calls == []
    _, Yc = _offset_sides(300)
    Yc[:] = Yc[0]  # exactly constant: the Grams cannot tell, the data can
    with pytest.warns(UserWarning, match="constant"):
        assert linear_cka(X, Yc) == 0.0
    assert calls
