"""Effective dimensions (Hill numbers of order one)."""

import math

import numpy as np
from scipy.special import entr
from sklearn.utils._param_validation import validate_params

from skfeat.utils._validation import check_vector

__all__ = ["effective_dimension", "eigenvalue_dimension"]


@validate_params({"v": ["array-like"]}, prefer_skip_nested_validation=True)
def effective_dimension(v):
    """Effective number of entries of a nonnegative vector: ``exp(entropy)``.

    ``D(v) = exp(-sum_i pi_i log pi_i)`` with ``pi = v / sum(v)`` over the
    positive entries of ``v`` (zeros contribute nothing).  ``D`` lies in
    ``[1, len(v)]``: 1 when one entry carries everything, ``len(v)`` when all
    entries are equal.  This is the Hill number of order one used by Nam et al.
    (2024) for eigenvalues, qualities and utilities.

    Parameters
    ----------
    v : array-like of shape (k,)
        Nonnegative values (eigenvalues, feature qualities ``q_k`` or utilities
        ``u_k``).

    Returns
    -------
    dimension : float
        The effective dimension.

    Raises
    ------
    ValueError
        If ``v`` is empty, not finite, has a negative entry, or no positive one.

    References
    ----------
    .. [1] Nam, Mingard, Lee, Hayou, Louis. "Visualising feature learning in deep
       neural networks by diagonalizing the forward feature map", arXiv:2410.04264.

    Examples
    --------
    >>> from skfeat.metrics import effective_dimension
    >>> effective_dimension([1.0, 1.0, 1.0, 1.0])
    4.0
    >>> effective_dimension([5.0, 0.0, 0.0])
    1.0
    """
    v = check_vector(v, "v")
    if np.any(v < 0):
        raise ValueError(
            f"effective_dimension needs nonnegative values; got min(v) = {v.min():g}."
        )
    return _hill(v, "v")


@validate_params(
    {"eigenvalues": ["array-like"], "drop_first": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def eigenvalue_dimension(eigenvalues, *, drop_first=True):
    """Effective dimension ``D_lambda`` of an eigenvalue spectrum.

    With ``drop_first=True`` (the convention of Nam et al.), the first eigenvalue,
    which belongs to the near-constant eigenfunction of a trained network, is
    left out and one dimension is added back: ``D_lambda = 1 + D(lambda_2, ...)``.
    A spectrum with a single positive eigenvalue has ``D_lambda = 1``.

    Parameters
    ----------
    eigenvalues : array-like of shape (k,)
        Nonnegative eigenvalues, largest first.
    drop_first : bool, default=True
        Leave the first eigenvalue out and add one; ``False`` gives the plain
        :func:`effective_dimension` of all eigenvalues.

    Returns
    -------
    dimension : float
        The effective dimension of the spectrum.

    See Also
    --------
    effective_dimension : The plain Hill number of a vector.

    Examples
    --------
    >>> from skfeat.metrics import eigenvalue_dimension
    >>> eigenvalue_dimension([10.0, 1.0, 1.0])
    3.0
    >>> eigenvalue_dimension([10.0, 1.0, 1.0], drop_first=False)
    1.76...
    """
    lam = check_vector(eigenvalues, "eigenvalues")
    if np.any(lam < 0):
        raise ValueError(
            "eigenvalue_dimension needs nonnegative eigenvalues; "
            f"got min = {lam.min():g}."
        )
    if not drop_first:
        return _hill(lam, "eigenvalues")
    if not np.any(lam > 0):
        raise ValueError(
            "eigenvalues has no positive entry; its dimension is undefined."
        )
    rest = lam[1:]
    if not np.any(rest > 0):
        return 1.0
    return 1.0 + _hill(rest, "eigenvalues")


def _hill(v, name):
    positive = v[v > 0]
    if positive.size == 0:
        raise ValueError(f"{name} has no positive entry; its dimension is undefined.")
    # Divided by the largest entry first: the sum of entries near the float
    # maximum would overflow.
    positive = positive / positive.max()
    pi = positive / positive.sum()
    # entr(0) = 0: entries that underflow to 0 after normalising add nothing.
    return float(math.exp(np.sum(entr(pi))))
