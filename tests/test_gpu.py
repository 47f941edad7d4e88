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
    assert all(100 not in shape for shape in shapes), shapes
