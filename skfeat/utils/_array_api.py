"""The one place where skfeat finds an array's namespace and device.

Every computation in skfeat is written once against an array namespace ``xp``
(numpy, array-api-strict, torch, cupy, ...).  This module wraps the public
scikit-learn helper that does the inspection (``get_namespace_and_device``)
and holds skfeat's own host copy (:func:`to_host`), so that the rest of the
package never imports a backend directly.  Only small results (``p x p``,
``k x p``, a few columns) and labels are ever copied to the host; the ``n x p``
data never leaves its device.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils._array_api import check_same_namespace, get_namespace_and_device

__all__ = [
    "accumulation_dtype",
    "check_same_namespace",
    "from_host",
    "is_array_api_array",
    "is_dask",
    "is_numpy_namespace",
    "namespace_and_device",
    "to_host",
]

_NUMPY_NAMESPACES = {
    "numpy",
    "array_api_compat.numpy",
    "sklearn.externals.array_api_compat.numpy",
}


def is_dask(array):
    """Whether ``array`` is a dask array (computed by dask, not by ``xp``).

    Only ``dask.array`` arrays: other dask collections (data frames) go
    through scikit-learn's ordinary validation, which computes them.
    """
    return type(array).__module__.startswith("dask.array")


def is_array_api_array(array):
    """Whether ``array`` is a non-numpy array of an array-API library.

    torch and CuPy arrays (which do not all carry ``__array_namespace__``)
    and any array that does (array-api-strict, JAX, ...).
    """
    if isinstance(array, (np.ndarray, np.generic)):
        return False
    module = type(array).__module__
    return module.startswith(("torch", "cupy")) or hasattr(array, "__array_namespace__")


def namespace_and_device(*arrays):
    """Return ``(xp, device)`` shared by ``arrays``.

    Sparse matrices and dask arrays count as numpy here: their products are
    computed by scipy / dask and come back as numpy arrays.  Without
    scikit-learn's ``array_api_dispatch`` every array counts as numpy.
    """
    dense = [
        a for a in arrays if a is not None and not sp.issparse(a) and not is_dask(a)
    ]
    if not dense:
        dense = [np.zeros(0)]
    xp, _, device = get_namespace_and_device(*dense)
    return xp, device


def is_numpy_namespace(xp):
    """Whether ``xp`` is numpy (or an array-api-compat wrapper of it)."""
    return xp.__name__ in _NUMPY_NAMESPACES


def accumulation_dtype(xp, device):
    """Float dtype used to accumulate sums on ``device``: float64 when possible.

    Apple's MPS devices have no float64; every other device skfeat meets
    (CPU, CUDA, ROCm, XPU) does.
    """
    if getattr(device, "type", device) == "mps":
        return xp.float32
    return xp.float64


def to_host(array, dtype=np.float64):
    """Copy ``array`` to a numpy array on the host (the one host copy of skfeat).

    Only ever called on small results (``p x p``, ``k x p``, a few columns) and
    on labels.  Works for numpy, scipy sparse (densified), dask (computed),
    torch (detached; CPU or any device), CuPy and any DLPack-capable array
    (array-api-strict).  ``dtype=None`` keeps the array's dtype; a numpy input
    that already has ``dtype`` comes back as is (no copy): do not modify the
    result in place.

    Parameters
    ----------
    array : array-like
        The array; lists are read by numpy.
    dtype : numpy dtype or None, default=np.float64
        Dtype of the result.

    Returns
    -------
    host : ndarray
        The values on the host.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.utils._array_api import to_host
    >>> to_host([1, 2]).dtype, to_host([1, 2], dtype=None).dtype
    (dtype('float64'), dtype('int64'))
    """
    if isinstance(array, np.ndarray):
        out = array
    elif sp.issparse(array):
        out = array.toarray()
    elif is_dask(array):
        out = np.asarray(array.compute())
    elif is_array_api_array(array):
        out = _device_to_host(array)
    else:
        out = np.asarray(array)
    if dtype is None:
        return out
    return out.astype(dtype, copy=False)


def _device_to_host(array):
    """Copy an array from a device (or another library's memory) to numpy.

    The one place where array data crosses to the host (tests count what
    passes here).
    """
    module = type(array).__module__
    if module.startswith("torch"):
        tensor = array.detach().cpu()
        if tensor.dtype.is_floating_point and tensor.element_size() < 4:
            tensor = tensor.float()  # bfloat16 / float16: numpy lacks bfloat16
        return tensor.numpy()
    if module.startswith("cupy"):
        return array.get()
    return np.from_dlpack(array)


def from_host(array, xp, device, dtype):
    """Move a small host numpy array to ``xp`` on ``device`` with ``dtype``."""
    out = xp.asarray(np.ascontiguousarray(array), device=device)
    return xp.astype(out, dtype)
