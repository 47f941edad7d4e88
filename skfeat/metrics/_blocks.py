"""Checked row blocks of a feature matrix, whatever its storage.

The geometry and linearity measures make one pass over the rows of ``H``
(numpy, torch, cupy, array-api-strict, scipy sparse or dask).  This module
validates ``H`` once and yields dense, finite row blocks in ``H``'s own
namespace and device, so that the accumulators never see a bad value: a NaN
would otherwise surface as a silent NaN measure, or as a LAPACK error much later.
"""

import numpy as np
import scipy.sparse as sp
from array_api_compat import is_array_api_obj
from sklearn import get_config

from skfeat._moments import row_chunks
from skfeat.utils._array_api import _is_dask, namespace_and_device

from ._validation import check_real_dtype, host_array

__all__ = ["check_features", "check_rows", "iter_row_blocks", "labels_to_host"]


def check_features(H, name="H"):
    """Return ``(H, xp, device)`` for a 2-D numeric feature matrix.

    Lists and other array-likes become numpy arrays; integer and boolean
    matrices become float64; the values are checked block by block later.
    """
    if sp.issparse(H) or _is_dask(H):
        xp, device = namespace_and_device(H)
        check_real_dtype(H.dtype, name)
    else:
        foreign = is_array_api_obj(H) and not isinstance(H, np.ndarray)
        if not (foreign and get_config()["array_api_dispatch"]):
            # numpy, lists, or foreign arrays while array-API dispatch is off.
            H = _host_numbers(H, name)
        xp, device = namespace_and_device(H)
        if not xp.isdtype(H.dtype, "real floating"):
            if not xp.isdtype(H.dtype, ("integral", "bool")):
                raise TypeError(f"{name} must hold real numbers; got dtype {H.dtype}.")
            H = xp.astype(H, xp.float64)
    if H.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features); got shape {tuple(H.shape)}."
        )
    if H.shape[0] == 0 or H.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {tuple(H.shape)}.")
    return H, xp, device


def _host_numbers(H, name):
    H = host_array(H, name)
    check_real_dtype(H.dtype, name)
    if H.dtype.kind != "f" or H.dtype == np.float16:
        H = H.astype(np.float64)
    return H


def labels_to_host(y, name="y"):
    """Return labels or targets ``y`` as a host numpy array (not cast to float)."""
    y = host_array(y, name)
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError(f"{name} contains NaN or infinity.")
    return y


def check_rows(n_rows, y, name="y"):
    """Raise a clear error unless ``y`` has one entry (or row) per sample."""
    if y.ndim == 0 or y.shape[0] != n_rows:
        length = "a scalar" if y.ndim == 0 else f"{y.shape[0]} entries"
        raise ValueError(f"{name} has {length}, but H has {n_rows} samples.")


def iter_row_blocks(H, xp, n_cols, chunk_rows=None, name="H"):
    """Yield ``(rows, block)``: finite dense row blocks of ``H`` where it lives.

    ``rows`` is the ``slice`` of the block; dask arrays go block by block
    (each computed once), sparse matrices are densified one block at a time.
    """
    if _is_dask(H):
        start = 0
        for i, height in enumerate(H.chunks[0]):
            block = np.asarray(H.blocks[i].compute())
            if block.dtype.kind != "f":
                block = block.astype(np.float64)
            rows = slice(start, start + height)
            start += height
            for sub in row_chunks(height, n_cols, chunk_rows):
                chunk = block[sub]
                _check_finite(chunk, np, name)
                yield slice(rows.start + sub.start, rows.start + sub.stop), chunk
        return
    for rows in row_chunks(H.shape[0], n_cols, chunk_rows):
        if sp.issparse(H):
            chunk = H[rows].toarray()
            if chunk.dtype.kind != "f":
                chunk = chunk.astype(np.float64)
        else:
            chunk = H[rows, ...]
        _check_finite(chunk, xp, name)
        yield rows, chunk


def _check_finite(chunk, xp, name):
    if not bool(xp.all(xp.isfinite(chunk))):
        raise ValueError(f"{name} contains NaN or infinity.")
