"""The numerical-rank rule of skfeat, in one place.

Every rank decision of skfeat is a cut on the eigenvalues ``mu`` of a small
Gram (second-moment) matrix ``B^T B`` computed from the data: a direction
counts when ``mu > rtol * mu_max``.  Two questions are asked of such a matrix,
and each has its own ``rtol``, derived from the error the computation has:

* **Which eigenpairs of a second moment are measured** (:func:`spectrum_rtol`;
  :class:`~skfeat.FeatureSpectrum`, the randomized sketch, numerical ranks of
  layers).  The products ``B^T B`` of one chunk of rows are formed in the
  data's precision and summed over chunks in float64, so the eigenvalues are
  accurate to about ``eps(dtype) * mu_max`` -- a floor that does not grow with
  the number of samples (float32 products of float32 numbers round once,
  relative ``eps32``; the float64 sum adds ``eps64`` per chunk) -- and the
  float64 eigensolver adds ``size * eps64 * mu_max``.  Eigenvalues above the
  larger of the two are kept.
* **The rank of the span of some columns** (:func:`span_rtol`; targets,
  outputs, the features behind a projector).  That is a matrix rank, so it is
  numpy's ``matrix_rank`` rule on the singular values ``s = sqrt(mu)``:
  ``s > s_max * max(n_rows, n_cols) * eps(dtype)``, i.e.
  ``mu > mu_max * (max(n_rows, n_cols) * eps(dtype))^2`` -- bounded below by
  the floor of the products when the Gram was formed in the data's precision
  (``exact=False``), and by the float64 eigensolver's floor when it was formed
  exactly (float32 numbers multiply exactly in float64).

Examples
--------
>>> import numpy as np
>>> from skfeat.utils._rank import spectrum_rtol, span_rtol
>>> spectrum_rtol(np.float32, 64) == float(np.finfo(np.float32).eps)
True
>>> span_rtol(np.float32, 20000, 10) == (20000 * float(np.finfo(np.float32).eps)) ** 2
True
"""

import numpy as np

__all__ = [
    "EPS64",
    "dtype_eps",
    "numerical_rank_of",
    "span_rtol",
    "spectrum_rtol",
]

EPS64 = float(np.finfo(np.float64).eps)


def dtype_eps(dtype):
    """Machine epsilon of the data's working precision: float32's or float64's.

    Works for the dtypes of any namespace (numpy, torch, array-api-strict,
    dask); anything narrower than float64 counts as float32 (the products of
    float16 / bfloat16 data are formed in float32).

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.utils._rank import dtype_eps
    >>> dtype_eps(np.float32) == float(np.finfo(np.float32).eps)
    True
    >>> dtype_eps(np.dtype("float64")) == float(np.finfo(np.float64).eps)
    True
    """
    name = getattr(dtype, "__name__", None) or str(dtype)
    return (
        EPS64
        if "float64" in name or "double" in name
        else float(np.finfo(np.float32).eps)
    )


def spectrum_rtol(dtype, size):
    """Relative eigenvalue floor of a second moment of ``size`` columns.

    ``max(eps(dtype), size * eps64)``: the rounding of the products in the
    data's precision, or that of the float64 eigensolver of a
    ``size x size`` matrix, whichever is larger.
    """
    return max(dtype_eps(dtype), size * EPS64)


def span_rtol(dtype, n_rows, n_cols, *, exact=True):
    """Relative eigenvalue cut of a Gram matrix for the rank of a column span.

    numpy's ``matrix_rank`` rule on singular values, squared, bounded below
    by the floor of the Gram's own computation: :func:`spectrum_rtol` when its
    products were formed in ``dtype`` (``exact=False``), the float64
    eigensolver's ``n_cols * eps64`` when they were exact.
    """
    rank_rule = (max(n_rows, n_cols) * dtype_eps(dtype)) ** 2
    floor = n_cols * EPS64 if exact else spectrum_rtol(dtype, n_cols)
    return max(rank_rule, floor)


def numerical_rank_of(values, rtol):
    """Count the ``values`` (eigenvalues) above ``rtol * max(values)``.

    0 when no value is positive.
    """
    values = np.asarray(values, dtype=np.float64)
    top = values.max() if values.size else 0.0
    if not top > 0:
        return 0
    return int(np.count_nonzero(values > rtol * top))
