"""The device path: data stays where it lives (CUDA torch, CuPy; CPU stand-ins).

The GPU cases skip without a GPU that runs kernels.  The same code path runs
on CPU with torch CPU tensors and array-api-strict, which is what these tests
check everywhere: results in the input's namespace and dtype, equal to
numpy's, and no host copy of the ``n x p`` data nor of a ``p x p`` matrix (the
small eigenproblem is solved where the data lives).
"""

import contextlib

import numpy as np
import pytest

import skfeat.utils._array_api as array_api
from skfeat import FeatureSpectrum, fit_from_batches
from skfeat._eigh import refine_eigenpairs

N, P = 400, 24


def features(dtype=np.float32):
    rng = np.random.default_rng(0)
    return (rng.normal(size=(N, P)) * 0.85 ** np.arange(P)).astype(dtype)


@pytest.fixture
def host_copies(monkeypatch):
    """A context manager recording the shapes of what skfeat copies to the host."""
    convert = array_api._device_to_host

    @contextlib.contextmanager
    def recording():
        shapes = []

        def record(array):
            shapes.append(tuple(array.shape))
            return convert(array)

        monkeypatch.setattr(array_api, "_device_to_host", record)
        try:
            yield shapes
        finally:
            monkeypatch.setattr(array_api, "_device_to_host", convert)

    return recording


@pytest.mark.parametrize("solver", ["gram", "dual", "randomized"])
def test_device_path_no_host_copy(device_backend, solver, host_copies):
    X = features() if solver != "dual" else features()[:20]
    Xb = device_backend.asarray(X)
    n_components = 5 if solver == "randomized" else None
    with host_copies() as shapes:
        est = FeatureSpectrum(n_components, solver=solver, random_state=0).fit(Xb)
        E = est.transform(Xb)
    ref = FeatureSpectrum(n_components, solver=solver, random_state=0).fit(X)
    assert type(E) is type(Xb) and type(est.components_) is type(Xb)
    assert E.dtype == Xb.dtype and est.eigenvalues_.dtype == Xb.dtype
    if device_backend.device is not None:
        assert str(E.device).startswith(device_backend.device)
    to_numpy = device_backend.to_numpy
    np.testing.assert_allclose(to_numpy(est.eigenvalues_), ref.eigenvalues_, 1e-5)
    np.testing.assert_allclose(to_numpy(est.components_), ref.components_, 0, 2e-4)
    np.testing.assert_allclose(to_numpy(E), ref.transform(X), 0, 2e-3)
    # The data's samples (gram, randomized) or features (dual: the k x k
    # Cholesky-QR Gram may visit the host) never do.
    big = P if solver == "dual" else X.shape[0]
    assert all(big not in shape for shape in shapes), shapes
    if solver == "gram":
        # Only eigenvalues (and scalars) reach the host, never the p x p Gram.
        assert all(shape.count(P) < 2 for shape in shapes), shapes


def test_streaming_on_device(device_backend, host_copies):
    X = features(np.float64)
    batches = [device_backend.asarray(X[i : i + 100]) for i in range(0, N, 100)]
    with host_copies() as shapes:
        est = fit_from_batches(batches)
    ref = FeatureSpectrum().fit(X)
    assert type(est.eigenvalues_) is type(batches[0])
    np.testing.assert_allclose(
        device_backend.to_numpy(est.eigenvalues_), ref.eigenvalues_, 1e-10
    )
    assert all(100 not in shape and shape.count(P) < 2 for shape in shapes), shapes


def _reference_eigh(G):
    lam, V = np.linalg.eigh(np.asarray(G, dtype=np.float64))
    return lam[::-1], V[:, ::-1]


def _eigenvector_error(V, V_ref):
    """Largest angle-like error between matching columns (signs ignored)."""
    V = V / np.linalg.norm(V, axis=0)
    aligned = V_ref * np.sum(V * V_ref, axis=0)
    return float(np.max(np.linalg.norm(V - aligned, axis=0)))


def test_refine_eigenpairs_squares_the_error():
    rng = np.random.default_rng(1)
    p = 30
    Q, _ = np.linalg.qr(rng.normal(size=(p, p)))
    lam_true = 0.8 ** np.arange(p)
    G = (Q * lam_true) @ Q.T
    lam_ref, V_ref = _reference_eigh(G)
    # float32-eigh-sized errors: well below the smallest gap (~3e-4).
    V0 = V_ref + 1e-6 * rng.normal(size=(p, p))
    lam, V = refine_eigenpairs(G, V0)
    before = _eigenvector_error(V0, V_ref)
    after = _eigenvector_error(V, V_ref)
    assert before > 1e-6
    assert after < 1e-8, (before, after)
    np.testing.assert_allclose(lam, lam_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(V.T @ V, np.eye(p), atol=1e-9)


def test_refine_eigenpairs_clusters_stay_orthonormal():
    # Repeated eigenvalues (a rank-deficient Gram): no division by a gap.
    rng = np.random.default_rng(2)
    p = 12
    Q, _ = np.linalg.qr(rng.normal(size=(p, p)))
    lam_true = np.r_[4.0, 2.0, 2.0, 1.0, np.zeros(p - 4)]
    G = (Q * lam_true) @ Q.T
    _, V_ref = _reference_eigh(G)
    lam, V = refine_eigenpairs(G, V_ref + 1e-5 * rng.normal(size=(p, p)))
    assert np.all(np.isfinite(V))
    np.testing.assert_allclose(lam, np.sort(lam_true)[::-1], atol=1e-8)
    np.testing.assert_allclose(V.T @ V, np.eye(p), atol=1e-8)
    np.testing.assert_allclose((V * lam) @ V.T, G, atol=1e-8)


def _without_float64(monkeypatch, *modules):
    """Make ``modules`` and the eigensolver believe the device has no float64."""
    import skfeat._eigh as eigh_module

    def no_float64(xp, device):
        return xp.float32

    for module in (*modules, eigh_module):
        monkeypatch.setattr(module, "accumulation_dtype", no_float64)


def test_float32_solve_refined_in_float64(device_backend, monkeypatch, host_copies):
    # The no-float64 eigensolver on a float64 Gram: float32 eigh, then one
    # refinement step in float64 -- as accurate as a float64 eigh.
    import skfeat._eigh as eigh_module

    X = features(np.float64)
    G = X.T @ X / N
    lam_ref, V_ref = _reference_eigh(G)
    Gb = device_backend.asarray(G)
    xp = device_backend.xp
    lam32, V32 = np.linalg.eigh(G.astype(np.float32))
    raw_error = _eigenvector_error(V32[:, ::-1].astype(np.float64), V_ref)
    _without_float64(monkeypatch)
    with host_copies() as shapes:
        lam, V = eigh_module.device_eigh(Gb)
    assert shapes == []
    assert type(V) is type(Gb) and V.dtype == xp.float64
    lam, V = device_backend.to_numpy(lam), device_backend.to_numpy(V)
    np.testing.assert_allclose(lam, lam_ref, rtol=0, atol=1e-12 * lam_ref[0])
    # The well-separated leading eigenvectors gain many digits over float32.
    lead = slice(0, 10)
    refined = _eigenvector_error(V[:, lead], V_ref[:, lead])
    assert refined < 1e-3 * _eigenvector_error(
        V32[:, ::-1][:, lead].astype(np.float64), V_ref[:, lead]
    ), (refined, raw_error)
    np.testing.assert_allclose(V.T @ V, np.eye(P), atol=1e-10)


def test_fit_without_float64(device_backend, monkeypatch, host_copies):
    # The whole fit as on a device without float64: float32 accumulator,
    # float32 eigh refined in float32, all on the device.
    import skfeat._moments as moments_module
    import skfeat._spectrum as spectrum_module

    X = features()
    Xb = device_backend.asarray(X)
    _without_float64(monkeypatch, spectrum_module, moments_module)
    with host_copies() as shapes:
        est = FeatureSpectrum().fit(Xb)
        E = est.transform(Xb)
    assert all(shape.count(P) < 2 and N not in shape for shape in shapes), shapes
    assert E.dtype == Xb.dtype and est.eigenvalues_.dtype == Xb.dtype
    ref = FeatureSpectrum().fit(X.astype(np.float64))
    to_numpy = device_backend.to_numpy
    lam = to_numpy(est.eigenvalues_)
    np.testing.assert_allclose(lam, ref.eigenvalues_[: lam.size], rtol=0, atol=1e-5)
    lead = slice(0, 8)
    np.testing.assert_allclose(
        to_numpy(est.components_)[lead], ref.components_[lead], atol=1e-3
    )
    E = to_numpy(E)
    np.testing.assert_allclose(E.T @ E / N, np.eye(E.shape[1]), atol=2e-3)


def test_partial_fit_after_fit_on_device(device_backend, host_copies):
    # Continuing a fit rebuilds X^T X from the eigenpairs where they live.
    X = features(np.float64)
    first, second = device_backend.asarray(X[:300]), device_backend.asarray(X[300:])
    est = FeatureSpectrum().fit(first)
    with host_copies() as shapes:
        est.partial_fit(second)
    assert all(shape.count(P) < 2 for shape in shapes), shapes
    ref = FeatureSpectrum().fit(X)
    np.testing.assert_allclose(
        device_backend.to_numpy(est.eigenvalues_), ref.eigenvalues_, rtol=1e-9
    )
    np.testing.assert_allclose(
        device_backend.to_numpy(est.components_), ref.components_, atol=1e-7
    )


def test_refined_solve_of_a_rank_deficient_gram(device_backend, monkeypatch):
    # As on a device without float64: a cluster of zero eigenvalues (repeated
    # columns) is only orthogonalised by the refinement, and the rank rule of
    # the float32 solver sees the rank of the float64 fit.
    import skfeat._moments as moments_module
    import skfeat._spectrum as spectrum_module

    base = features()[:, :12]
    X = np.hstack([base, base[:, :6] * 2.0, base[:, :6] - base[:, 6:]])
    ref = FeatureSpectrum().fit(X.astype(np.float64))
    _without_float64(monkeypatch, spectrum_module, moments_module)
    est = FeatureSpectrum().fit(device_backend.asarray(X))
    assert est.rank_ == ref.rank_ == 12
    to_numpy = device_backend.to_numpy
    np.testing.assert_allclose(
        to_numpy(est.eigenvalues_), ref.eigenvalues_, rtol=0, atol=1e-5
    )
    np.testing.assert_allclose(
        to_numpy(est.components_)[:6], ref.components_[:6], atol=1e-4
    )


def test_device_without_eigh_solves_on_the_host(monkeypatch):
    # MPS without its CPU fallback has no eigh: the p x p matrix is solved on
    # the host in float64, and the results come back to the device.
    torch = pytest.importorskip("torch")
    import sklearn

    import skfeat._spectrum as spectrum_module

    def missing(*args, **kwargs):
        raise NotImplementedError("eigh is not implemented for this device")

    X = features()
    ref = FeatureSpectrum().fit(X.astype(np.float64))
    _without_float64(monkeypatch, spectrum_module)
    monkeypatch.setattr(torch.linalg, "eigh", missing)
    with sklearn.config_context(array_api_dispatch=True):
        est = FeatureSpectrum().fit(torch.asarray(X))
    assert isinstance(est.components_, torch.Tensor)
    assert est.components_.dtype == torch.float32
    np.testing.assert_allclose(
        est.eigenvalues_.numpy(), ref.eigenvalues_, rtol=0, atol=1e-5
    )


@pytest.mark.parametrize("n_components", [8, None])
def test_projection_measures_on_device(device_backend, host_copies, n_components):
    X = features()
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, size=N)
    F = (X[:, :3] + 0.1 * rng.normal(size=(N, 3))).astype(np.float32)
    Xb, Fb = device_backend.asarray(X), device_backend.asarray(F)
    est = FeatureSpectrum(n_components).fit(Xb)
    with host_copies() as shapes:
        got = est.projection_measures(Xb, y, Fb)
    want = FeatureSpectrum(n_components).fit(X).projection_measures(X, y, F)
    for key in ("cumulative_quality", "cumulative_utility", "feature_quality"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-4, atol=1e-5)
    assert got.cka_mf == pytest.approx(want.cka_mf, rel=1e-4, abs=1e-6)
    # Neither the p x p Gram, nor the k x p eigenvectors, nor any sample-long
    # array crosses to the host: matrices of the k + C + t side and vectors.
    assert all(N not in shape for shape in shapes), shapes
    if n_components is not None:
        # k + C + t = 14 < p = 24: every matrix that crosses is of that side.
        assert all(max(s) < P for s in shapes if len(s) == 2), shapes


# Wide layers (p > m): the measures' m x m kernels stay where the data lives.
M_WIDE, P_WIDE = 30, 80


def wide_features(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(M_WIDE, P_WIDE)) * 0.97 ** np.arange(P_WIDE) + 0.3
    y = np.arange(M_WIDE) % 3
    F = X[:, :3] @ rng.normal(size=(3, 3)) + 0.05 * rng.normal(size=(M_WIDE, 3))
    return X.astype(np.float32), y, F.astype(np.float32)


def _no_kernel_crossed(shapes, per_class_rows=False):
    # Eigenvalues (m) and small matrices may cross; neither the m x m kernel
    # nor the m x p data nor a p x p matrix -- nor anything p long, but for
    # the geometry's class means (C x p).
    assert all(shape.count(M_WIDE) < 2 for shape in shapes), shapes
    assert all(not {M_WIDE, P_WIDE} <= set(shape) for shape in shapes), shapes
    assert all(shape.count(P_WIDE) < 2 for shape in shapes), shapes
    if not per_class_rows:
        assert all(P_WIDE not in shape for shape in shapes), shapes


def test_wide_cka_on_device(device_backend, host_copies):
    from skfeat.metrics import cka_mf, linear_cka

    X, _, F = wide_features()
    Z = wide_features(1)[0]
    Xb, Zb, Fb = (device_backend.asarray(A) for A in (X, Z, F))
    with host_copies() as shapes:
        got = (linear_cka(Xb, Zb), linear_cka(Xb, Fb), cka_mf(Xb, Fb))
    _no_kernel_crossed(shapes)
    want = (linear_cka(X, Z), linear_cka(X, F), cka_mf(X, F))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    # Independent reference: centred m x m kernels in float64.
    H = np.eye(M_WIDE) - 1.0 / M_WIDE
    K, L = (H @ (A.astype(np.float64) @ A.T.astype(np.float64)) @ H for A in (X, Z))
    naive = np.sum(K * L) / (np.linalg.norm(K) * np.linalg.norm(L))
    assert got[0] == pytest.approx(naive, rel=1e-5)


def test_wide_projection_measures_on_device(device_backend, host_copies):
    X, y, F = wide_features()
    Xb, Fb = device_backend.asarray(X), device_backend.asarray(F)
    est = FeatureSpectrum(6, solver="randomized", random_state=0).fit(Xb)
    with host_copies() as shapes:
        got = est.projection_measures(Xb, y, Fb)
    _no_kernel_crossed(shapes)
    ref = FeatureSpectrum(6, solver="randomized", random_state=0).fit(X)
    want = ref.projection_measures(X, y, F)
    np.testing.assert_allclose(
        got["cumulative_quality"], want["cumulative_quality"], rtol=1e-4, atol=1e-5
    )
    assert got.cka_mf == pytest.approx(want.cka_mf, rel=1e-4, abs=1e-6)


def test_wide_geometry_on_device(device_backend, host_copies):
    from skfeat.metrics import numerical_rank, target_linearity
    from skfeat.metrics._geometry import rows_geometry

    X, y, _ = wide_features()
    # Repeated samples: a kernel of rank 20 < m, whose projector needs
    # eigenvectors (the device's eigh).
    X[20:], y[20:] = X[:10], y[:10]
    Xb = device_backend.asarray(X)
    with host_copies() as shapes:
        got = rows_geometry(Xb, y)
        rank = numerical_rank(Xb)
        values = target_linearity(Xb, X[:, 0] ** 2, target_type="values")
    _no_kernel_crossed(shapes, per_class_rows=True)
    want = rows_geometry(X, y)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-5, abs=1e-7), key
    assert rank == numerical_rank(X)
    want_values = target_linearity(X, X[:, 0] ** 2, target_type="values")
    assert values == pytest.approx(want_values, rel=1e-5)
    # Reference: least squares of the centred one-hot targets on H (float64).
    Yc = np.eye(3)[y] - np.eye(3)[y].mean(axis=0)
    fitted = X @ np.linalg.lstsq(X.astype(np.float64), Yc, rcond=None)[0]
    assert got["target_linearity"] == pytest.approx(
        np.sum(fitted**2) / np.sum(Yc**2), rel=1e-4
    )


def test_wide_debiased_and_mixed_cka_on_device(device_backend, host_copies):
    # The unbiased estimator zeroes the kernels' diagonals where they live;
    # numpy outputs beside device features join the device (a host-to-device
    # copy), never the device's m x m kernel the host.
    from skfeat.metrics import cka_mf, linear_cka

    X, _, F = wide_features()
    Xb, Fb = device_backend.asarray(X), device_backend.asarray(F)
    with host_copies() as shapes:
        got = (
            linear_cka(Xb, Fb, debiased=True),
            linear_cka(Xb, F),
            cka_mf(Xb, F),
        )
    _no_kernel_crossed(shapes)
    want = (linear_cka(X, F, debiased=True), linear_cka(X, F), cka_mf(X, F))
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_wide_cka_without_float64_keeps_digits(device_backend, monkeypatch):
    # On a device without float64 (MPS) the sides are centred on the host in
    # float64: outputs with a large offset keep their digits (a float32
    # centring lost about 1e-1 of 1 - CKA-MF at offset 1000).
    import skfeat._moments as moments_module
    import skfeat.metrics._cka as cka_module
    from skfeat.metrics import cka_mf

    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 600)).astype(np.float32)
    F = (1000.0 + X[:, :3] @ rng.normal(size=(3, 3))).astype(np.float32)
    want = cka_mf(X.astype(np.float64), F.astype(np.float64))
    _without_float64(monkeypatch, moments_module, cka_module)
    got = cka_mf(device_backend.asarray(X), device_backend.asarray(F))
    assert abs(got - want) <= 1e-6 * (1.0 - want)
