"""The device path: data stays where it lives (CUDA torch, CuPy; CPU stand-ins).

The GPU cases skip without a GPU.  The same code path runs on CPU with torch
CPU tensors and array-api-strict, which is what these tests check everywhere:
results in the input's namespace and dtype, equal to numpy's, and no host copy
of the ``n x p`` data (only ``p x p`` / ``p x l`` blocks reach ``to_host``).
"""

import numpy as np
import pytest
import sklearn

import skfeat.utils._array_api as array_api
from skfeat import FeatureSpectrum, fit_from_batches

torch = pytest.importorskip("torch")

CUDA = torch.cuda.is_available()
try:
    import cupy

    CUPY = cupy.cuda.runtime.getDeviceCount() > 0
except Exception:  # not installed, or no driver / device
    CUPY = False

N, P = 400, 24


def features(dtype=np.float32):
    rng = np.random.default_rng(0)
    return (rng.normal(size=(N, P)) * 0.85 ** np.arange(P)).astype(dtype)


def backends():
    cases = [pytest.param("torch", "cpu", id="torch-cpu")]
    cases.append(pytest.param("array_api_strict", None, id="array-api-strict"))
    cases.append(
        pytest.param(
            "torch",
            "cuda",
            id="torch-cuda",
            marks=pytest.mark.skipif(not CUDA, reason="no CUDA device"),
        )
    )
    cases.append(
        pytest.param(
            "cupy",
            None,
            id="cupy",
            marks=pytest.mark.skipif(not CUPY, reason="no CuPy with a GPU"),
        )
    )
    return cases


def to_backend(X, name, device):
    if name == "torch":
        return torch.asarray(X, device=device)
    xp = pytest.importorskip(name)
    return xp.asarray(X)


def to_numpy(a):
    if hasattr(a, "cpu"):
        return a.cpu().numpy()
    if hasattr(a, "get"):
        return a.get()
    return np.asarray(a)


@pytest.fixture
def host_copies(monkeypatch):
    """Record the shape of every array that skfeat moves to the host."""
    shapes = []
    convert = array_api._convert_to_numpy

    def recording(array, xp):
        shapes.append(tuple(array.shape))
        return convert(array, xp)

    monkeypatch.setattr(array_api, "_convert_to_numpy", recording)
    return shapes


@pytest.mark.parametrize(("name", "device"), backends())
@pytest.mark.parametrize("solver", ["gram", "randomized"])
def test_device_path_no_host_copy(name, device, solver, host_copies):
    X = features()
    Xb = to_backend(X, name, device)
    n_components = 5 if solver == "randomized" else None
    with sklearn.config_context(array_api_dispatch=True):
        est = FeatureSpectrum(n_components, solver=solver, random_state=0).fit(Xb)
        E = est.transform(Xb)
    ref = FeatureSpectrum(n_components, solver=solver, random_state=0).fit(X)
    assert type(E) is type(Xb) and type(est.components_) is type(Xb)
    if device is not None:
        assert str(E.device).startswith(device)
    np.testing.assert_allclose(to_numpy(est.eigenvalues_), ref.eigenvalues_, 1e-5)
    np.testing.assert_allclose(to_numpy(est.components_), ref.components_, 0, 1e-4)
    np.testing.assert_allclose(to_numpy(E), ref.transform(X), 0, 1e-3)
    assert host_copies, "the small eigenproblem goes through to_host"
    assert all(N not in shape for shape in host_copies), host_copies


@pytest.mark.parametrize(("name", "device"), backends())
def test_streaming_on_device(name, device, host_copies):
    X = features(np.float64)
    batches = [to_backend(X[i : i + 100], name, device) for i in range(0, N, 100)]
    with sklearn.config_context(array_api_dispatch=True):
        est = fit_from_batches(batches)
    ref = FeatureSpectrum().fit(X)
    assert type(est.eigenvalues_) is type(batches[0])
    np.testing.assert_allclose(to_numpy(est.eigenvalues_), ref.eigenvalues_, 1e-10)
    assert all(100 not in shape for shape in host_copies), host_copies
