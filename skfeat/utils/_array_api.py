"""The one place where skfeat finds an array's namespace and device.

Every computation in skfeat is written once against an array namespace ``xp``
(numpy, array-api-strict, torch, cupy, ...).  This module wraps the few
scikit-learn helpers that do the inspection so that the rest of the package
never imports a backend directly.  Small dense problems (p x p eigenproblems,
QR of a few columns) are moved to the host in float64 on purpose: they are
cheap there and exact; the n x p data never leaves its device.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils._array_api import (
    _convert_to_numpy,
    _is_numpy_namespace,
    _max_precision_float_dtype,
    check_same_namespace,
    get_namespace_and_device,
)

__all__ = [
    "accumulation_dtype",
    "check_same_namespace",
    "dtype_eps",
    "from_host",
    "is_dask",
    "is_numpy_namespace",
    "namespace_and_device",
    "to_host",
]


def namespace_and_device(*arrays):
    """Return ``(xp, device)`` shared by ``arrays``.

    Sparse matrices and dask arrays count as numpy here: their products are
    computed by scipy / dask and come back as numpy arrays.
    """
    dense = [a for a in arrays if a is not None and not sp.issparse(a)]
    dense = [a for a in dense if not _is_dask(a)]
    if not dense:
        xp, _, device = get_namespace_and_device(np.zeros(0))
        return xp, device
    xp, _, device = get_namespace_and_device(*dense)
    return xp, device


def is_numpy_namespace(xp):
    """Whether ``xp`` is numpy (or an array-api-compat wrapper of it)."""
    return _is_numpy_namespace(xp)


def accumulation_dtype(xp, device):
    """Float dtype used to accumulate sums on ``device``: float64 when possible."""
    return _max_precision_float_dtype(xp, device)


def dtype_eps(dtype):
    """Machine epsilon of the data's working precision: float32's or float64's.

    The one rule behind every rank tolerance in skfeat: products of float32
    data carry float32 rounding even when accumulated in float64.  Works for
    the dtypes of any namespace (numpy, torch, array-api-strict, dask).

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.utils._array_api import dtype_eps
    >>> dtype_eps(np.float32) == float(np.finfo(np.float32).eps)
    True
    >>> dtype_eps(np.dtype("float64")) == float(np.finfo(np.float64).eps)
    True
    """
    name = getattr(dtype, "__name__", None) or str(dtype)
    return float(np.finfo(np.float32 if "float32" in name else np.float64).eps)


def to_host(array, xp):
    """Return ``array`` as a float64 numpy array on the host.

    Only ever called on small (p x p, k x p, or a few columns) results.  A
    float64 numpy input comes back as is (no copy): do not modify the result
    in place.
    """
    if sp.issparse(array):
        return np.asarray(array.toarray(), dtype=np.float64)
    if _is_dask(array):
        return np.asarray(array.compute(), dtype=np.float64)
    return np.asarray(_convert_to_numpy(array, xp), dtype=np.float64)


def from_host(array, xp, device, dtype):
    """Move a small host numpy array to ``xp`` on ``device`` with ``dtype``."""
    out = xp.asarray(np.ascontiguousarray(array), device=device)
    return xp.astype(out, dtype)


def _is_dask(array):
    return type(array).__module__.startswith("dask.")


def is_dask(array):
    """Whether ``array`` is a dask array (computed by dask, not by ``xp``).

    Only ``dask.array`` arrays: other dask collections (data frames) go
    through scikit-learn's ordinary validation, which computes them.
    """
    return type(array).__module__.startswith("dask.array")
