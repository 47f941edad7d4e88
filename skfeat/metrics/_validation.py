"""Input checks shared by the measures: one clear error per problem."""

import numpy as np

from skfeat.utils._array_api import namespace_and_device, to_host

__all__ = ["check_vector"]


def check_vector(v, name):
    """Return ``v`` as a finite, nonempty 1-D float64 numpy array."""
    if hasattr(v, "__array_namespace__") and not isinstance(v, np.ndarray):
        xp, _ = namespace_and_device(v)
        v = to_host(v, xp)  # small vectors only: eigenvalues, qualities
    try:
        arr = np.asarray(v)
    except Exception as exc:  # e.g. ragged lists
        raise ValueError(f"{name} could not be read as an array: {exc}") from exc
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real numbers; got dtype {arr.dtype}.")
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"{name} is empty.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity.")
    return arr
