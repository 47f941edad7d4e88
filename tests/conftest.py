"""Fixtures shared by the tests: seeded generators and array backends."""

import importlib.util

import array_api_compat
import numpy as np
import pytest
import sklearn
from sklearn.utils._array_api import _convert_to_numpy


def _cuda_available():
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


def _cupy_available():
    if importlib.util.find_spec("cupy") is None:
        return False
    import cupy

    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


# (namespace, device) pairs; GPU ones only run where a GPU is present.
BACKENDS = [
    pytest.param(("numpy", None), id="numpy"),
    pytest.param(
        ("array_api_strict", None),
        id="array_api_strict",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("array_api_strict") is None,
            reason="array-api-strict not installed",
        ),
    ),
    pytest.param(
        ("torch", "cpu"),
        id="torch-cpu",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("torch") is None, reason="torch not installed"
        ),
    ),
    pytest.param(
        ("torch", "cuda"),
        id="torch-cuda",
        marks=pytest.mark.skipif(not _cuda_available(), reason="no CUDA GPU"),
    ),
    pytest.param(
        ("cupy", None),
        id="cupy",
        marks=pytest.mark.skipif(not _cupy_available(), reason="no CuPy GPU"),
    ),
]


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
        return _convert_to_numpy(array, array_api_compat.array_namespace(array))

    def __repr__(self):
        return f"Backend({self.name!r}, {self.device!r})"


@pytest.fixture(params=BACKENDS)
def backend(request):
    """An array backend, with scikit-learn's array-API dispatch switched on."""
    name, device = request.param
    with sklearn.config_context(array_api_dispatch=True):
        yield Backend(name, device)


@pytest.fixture
def rng():
    """A seeded numpy generator."""
    return np.random.default_rng(20241005)
