"""Fixtures shared by the tests: seeded generators and the array backends.

One ``backend`` fixture for every test that runs on several array namespaces:
numpy, array-api-strict (with ``SCIPY_ARRAY_API=1``), torch on the CPU, and
torch CUDA / CuPy only where a GPU can actually run a kernel (a CUDA build of
torch on a machine without a GPU skips them, whatever it was built for).
"""

import functools
import importlib
import importlib.util

import numpy as np
import pytest
import sklearn

from skfeat.utils._array_api import to_host


@functools.cache
def torch_cuda_runs():
    """Whether torch can run a kernel on a CUDA device here."""
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    try:
        if not torch.cuda.is_available():
            return False
        value = torch.ones(2, device="cuda").sum().item()
    except Exception:  # no driver, an unsupported device, ...
        return False
    return value == 2.0


@functools.cache
def cupy_runs():
    """Whether CuPy can run a kernel on a GPU here."""
    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        import cupy

        return float(cupy.ones(2).sum().get()) == 2.0
    except Exception:
        return False


def _installed(name):
    return importlib.util.find_spec(name) is not None


# (namespace, device) pairs; GPU ones only run where a GPU runs kernels.
BACKENDS = [
    pytest.param(("numpy", None), id="numpy"),
    pytest.param(
        ("array_api_strict", None),
        id="array_api_strict",
        marks=pytest.mark.skipif(
            not _installed("array_api_strict"), reason="array-api-strict not installed"
        ),
    ),
    pytest.param(
        ("torch", "cpu"),
        id="torch-cpu",
        marks=pytest.mark.skipif(not _installed("torch"), reason="torch not installed"),
    ),
    pytest.param(
        ("torch", "cuda"),
        id="torch-cuda",
        marks=pytest.mark.skipif(
            not torch_cuda_runs(), reason="no CUDA device that runs kernels"
        ),
    ),
    pytest.param(
        ("cupy", None),
        id="cupy",
        marks=pytest.mark.skipif(not cupy_runs(), reason="no CuPy GPU"),
    ),
]

# The backends other than numpy: the device path.
DEVICE_BACKENDS = BACKENDS[1:]


class Backend:
    """An array namespace under test: converts numpy arrays to it and back."""

    def __init__(self, name, device):
        self.name = name
        self.device = device
        self.xp = importlib.import_module(name)

    def asarray(self, array):
        if self.name == "torch":
            return self.xp.asarray(array, device=self.device)
        return self.xp.asarray(array)

    def to_numpy(self, array):
        return to_host(array, dtype=None)

    def __repr__(self):
        return f"Backend({self.name!r}, {self.device!r})"


@pytest.fixture(params=BACKENDS)
def backend(request):
    """An array backend, with scikit-learn's array-API dispatch switched on."""
    name, device = request.param
    with sklearn.config_context(array_api_dispatch=True):
        yield Backend(name, device)


@pytest.fixture(params=DEVICE_BACKENDS)
def device_backend(request):
    """A non-numpy backend (the device path), with array-API dispatch on."""
    name, device = request.param
    with sklearn.config_context(array_api_dispatch=True):
        yield Backend(name, device)


@pytest.fixture
def rng():
    """A seeded numpy generator."""
    return np.random.default_rng(20241005)
