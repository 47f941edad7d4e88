"""Input checks shared by the measures: one clear error per problem."""

import numpy as np
import scipy.sparse as sp
from array_api_compat import array_namespace, is_array_api_obj
from sklearn.utils import check_array
from sklearn.utils._array_api import _convert_to_numpy

from skfeat.utils._array_api import _is_dask, namespace_and_device

__all__ = [
    "check_real_dtype",
    "check_same_length",
    "check_sample_matrix",
    "check_vector",
    "host_array",
]


def host_array(v, name):
    """Return ``v`` as a host numpy array, its dtype kept (small inputs only).

    Labels, read-out weights, eigenvalue vectors: dask arrays are computed,
    array-API arrays (torch, cupy, ...) copied to the host, lists read by
    numpy, with one clear error for what numpy cannot read (ragged lists).
    """
    if _is_dask(v):
        v = v.compute()
    if is_array_api_obj(v) and not isinstance(v, np.ndarray):
        v = _convert_to_numpy(v, array_namespace(v))
    try:
        return np.asarray(v)
    except Exception as exc:  # ragged nested lists
        raise ValueError(f"{name} could not be read as an array: {exc}") from exc


def check_real_dtype(dtype, name):
    """Raise a TypeError unless ``dtype`` (numpy or dask) holds real numbers.

    Strings, objects and complex numbers are refused rather than parsed or
    cast: numpy would read ``"1.5"`` silently and drop imaginary parts with a
    mere warning.
    """
    if np.dtype(dtype).kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; got dtype {dtype}.")


def check_vector(v, name):
    """Return ``v`` as a finite, nonempty 1-D float64 numpy array."""
    arr = host_array(v, name)
    check_real_dtype(arr.dtype, name)
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"{name} is empty.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity.")
    return arr


def check_sample_matrix(X, name, *, allow_1d=False, min_samples=2):
    """Return ``X`` as a finite, float, 2-D array of its own namespace.

    Rows are samples.  ``allow_1d`` reads a vector as one column (outputs of a
    single-output network, a single regression target).  Integer and boolean
    input becomes float64; float32 stays float32.  numpy, array-API (with
    dispatch) and dask arrays are accepted; the input is never modified.
    A dask array comes back lazy and unchecked for NaN: its values are only
    seen by the pass that reduces it, where :class:`skfeat._moments.Moments`
    (or the caller's own block check) reports them.
    """
    if _is_dask(X):
        return _check_dask_matrix(X, name, allow_1d=allow_1d, min_samples=min_samples)
    if sp.issparse(X):
        raise TypeError(f"{name} must be a dense array; got a sparse matrix.")
    dtype = getattr(X, "dtype", None)
    if dtype is None:
        X = host_array(X, name)
        dtype = X.dtype
    kind = getattr(dtype, "kind", None)
    if kind is not None and kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; got dtype {dtype}.")
    ndim = len(X.shape)
    if ndim == 1 and allow_1d:
        X = X[:, None] if isinstance(X, np.ndarray) else _as_column(X)
    elif ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array (samples x columns); got shape "
            f"{tuple(X.shape)}."
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(X.shape)}).")
    if X.shape[0] < min_samples:
        raise ValueError(
            f"{name} has {X.shape[0]} sample(s); at least {min_samples} are needed."
        )
    xp, _ = namespace_and_device(X)
    return check_array(
        X,
        dtype=[xp.float64, xp.float32],
        ensure_all_finite=True,
        ensure_min_samples=min_samples,
        input_name=name,
    )


def check_same_length(first, second):
    """Raise a ValueError naming both inputs when their row counts differ."""
    (name_a, a), (name_b, b) = first, second
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{name_a} and {name_b} must have the same number of samples (rows); "
            f"got {a.shape[0]} and {b.shape[0]}."
        )


def _as_column(X):
    xp, _ = namespace_and_device(X)
    return xp.reshape(X, (X.shape[0], 1))


def _check_dask_matrix(X, name, *, allow_1d, min_samples):
    check_real_dtype(X.dtype, name)
    if X.ndim == 1 and allow_1d:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array; got shape {X.shape}.")
    if X.shape[0] < min_samples or X.shape[1] == 0:
        raise ValueError(
            f"{name} has shape {X.shape}; at least {min_samples} samples and one "
            "column are needed."
        )
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    # Finiteness is checked on the Gram matrix by Moments.update, in the one
    # pass that reads the blocks anyway (the in-memory route would cost a
    # pass over memory; this one, a second read from disk or a cluster).
    return X
