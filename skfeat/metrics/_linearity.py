"""Target linearity: how much of the (centred) target is linear in the features."""

import numpy as np
from sklearn.utils._param_validation import StrOptions, validate_params
from sklearn.utils.multiclass import type_of_target

from skfeat._moments import Moments
from skfeat.utils._array_api import dtype_eps, from_host, namespace_and_device, to_host

from ._blocks import check_features, check_rows, iter_row_blocks, labels_to_host

__all__ = ["linearity_from_moments", "target_linearity"]


def linearity_from_moments(HtH, h_sum, HtY, YtY, y_sum, n, eps):
    """Target linearity from the Gram matrix of ``[H | Y]`` and column sums.

    ``Y`` is centred here (``Y - 1 ybar^T``); ``H`` is not (least squares
    without intercept, spec section 7).  The projector onto the span of ``H``
    comes from the eigendecomposition of ``H^T H`` restricted to eigenvalues
    above ``lambda_max * max(n, p) * eps`` (the rank rule of
    :class:`~skfeat.FeatureSpectrum`): a rank-revealing solve, no ridge.
    All arguments are host float64; ``eps`` is that of the data's dtype.
    """
    y_mean = y_sum / n
    HtYc = HtY - np.outer(h_sum, y_mean)
    total = np.trace(YtY) - n * (y_mean @ y_mean)
    if total <= 0:
        raise ValueError(
            "The targets are constant (a single class, or equal values): target "
            "linearity is undefined."
        )
    lam, V = np.linalg.eigh(HtH)
    keep = lam > max(lam[-1], 0.0) * max(n, HtH.shape[0]) * eps
    if not np.any(keep):
        return 0.0
    coef = V[:, keep].T @ HtYc
    explained = np.sum(coef**2 / lam[keep, None])
    return float(np.clip(explained / total, 0.0, 1.0))


@validate_params(
    {
        "H": ["array-like", "sparse matrix"],
        "y": ["array-like"],
        "target_type": [StrOptions({"auto", "classes", "values"})],
    },
    prefer_skip_nested_validation=True,
)
def target_linearity(H, y, *, target_type="auto"):
    """Share of the centred target explained by a linear function of ``H``.

    ``TL(H, Y) = 1 - ||Y - P_H Y||_F^2 / ||Y - Ybar||_F^2`` with ``Y`` the
    centred one-hot matrix of the class labels (or the centred regression
    targets) and ``P_H`` the orthogonal projector onto the span of the columns
    of ``H`` (least squares without intercept, so a constant feature counts only
    when ``H`` has it).  ``TL`` lies in ``[0, 1]``; 1 when the targets are
    linear in the features (e.g. collapsed features), near 0 when ``H``
    carries no linear trace of them.  Cha et al. observe it rising with depth
    in trained networks.

    Computed in one pass from the Gram matrix of ``[H | Y]`` and column sums
    (the ``n x n`` projector is never formed); the projection is a
    rank-revealing solve on ``H^T H``: directions with eigenvalue below
    ``lambda_max * max(n, p) * eps`` are dropped.

    Parameters
    ----------
    H : {array-like, sparse matrix} of shape (n_samples, n_features)
        Features of one layer (numpy, torch, cupy, array-api-strict or dask).
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Class labels or regression targets.
    target_type : {"auto", "classes", "values"}, default="auto"
        ``"classes"``: ``y`` are class labels, one-hot encoded; ``"values"``:
        ``y`` are real targets used as given; ``"auto"``: classes when
        :func:`sklearn.utils.multiclass.type_of_target` says binary or
        multiclass, values otherwise.

    Returns
    -------
    linearity : float
        Target linearity in ``[0, 1]``.

    References
    ----------
    .. [1] Cha, Beaglehole, Radhakrishnan, Lee. "A feature-centric view of
       neural network training: the feature learning equation, virtual
       covariance and target linearity" (code: cth127/GramLin).

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics import target_linearity
    >>> y = np.array([0, 1, 2, 0, 1, 2])
    >>> target_linearity(np.eye(3)[y], y)
    1.0
    >>> t = np.array([1.0, 2.0, 3.0, 4.0])
    >>> round(target_linearity(np.c_[np.ones(4), t**2], t, target_type="values"), 4)
    0.969
    """
    y_host = labels_to_host(y)
    if target_type == "auto":
        kind = type_of_target(y_host)
        target_type = "classes" if kind in ("binary", "multiclass") else "values"
    if target_type == "classes":
        from ._geometry import ClassMoments

        if y_host.ndim == 2 and y_host.shape[1] == 1:
            y_host = y_host[:, 0]  # a column of labels, as type_of_target reads it
        return ClassMoments().update(H, y_host).target_linearity()
    return _values_linearity(H, y_host)


def _values_linearity(H, y):
    H, xp, device = check_features(H)
    if y.dtype.kind not in "biuf":
        raise TypeError(f"Regression targets must be numbers; got dtype {y.dtype}.")
    check_rows(H.shape[0], y)
    Y = y.reshape(y.shape[0], -1).astype(np.float64)
    # Centring is invariant to a constant shift of Y; shifting by the first row
    # keeps large offsets out of the Gram matrix (no cancellation later).
    Y = Y - Y[:1]
    p = H.shape[1]
    moments = Moments()
    eps = np.finfo(np.float64).eps
    for rows, chunk in iter_row_blocks(H, xp, p + Y.shape[1]):
        cxp, cdev = namespace_and_device(chunk)
        moments.update(chunk, from_host(Y[rows], cxp, cdev, chunk.dtype))
        eps = max(eps, dtype_eps(chunk.dtype))
    G = to_host(moments.gram, namespace_and_device(moments.gram)[0])
    s = to_host(moments.sums, namespace_and_device(moments.sums)[0])
    return linearity_from_moments(
        G[:p, :p], s[:p], G[:p, p:], G[p:, p:], s[p:], moments.n_samples, eps
    )
