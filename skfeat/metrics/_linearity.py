"""Target linearity: how much of the (centred) target is linear in the features."""

import scipy.sparse as sp
from sklearn.utils._param_validation import validate_params

from skfeat._moments import Moments, samples_side_is_smaller
from skfeat.utils._array_api import (
    from_host,
    is_dask,
    is_numpy_namespace,
    namespace_and_device,
    to_host,
)
from skfeat.utils._rank import span_rtol
from skfeat.utils._validation import check_matrix, check_n_samples

from ._geometry import ClassMoments
from ._gram import linearity_from_moments, sample_side_linearity
from ._targets import TARGET_TYPE_CONSTRAINT, resolve_target_type, target_matrix

__all__ = ["target_linearity"]


@validate_params(
    {
        "H": ["array-like", "sparse matrix"],
        "y": ["array-like"],
        "target_type": TARGET_TYPE_CONSTRAINT,
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
    rank-revealing solve on ``H^T H``: directions below numpy
    ``matrix_rank``'s rule on the singular values of ``H`` (and the rounding
    floor of ``H^T H``, see :mod:`skfeat.utils._rank`) are dropped.  For a
    layer wider than its sample (``p > n``) the same projector comes from the
    ``n x n`` kernel ``H H^T`` (same nonzero eigenvalues, same rank decision),
    so no ``p x p`` matrix is formed.

    Parameters
    ----------
    H : {array-like, sparse matrix} of shape (n_samples, n_features)
        Features of one layer (numpy, torch, cupy, array-api-strict or dask).
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Class labels or regression targets.
    target_type : {"auto", "classes", "values"}, default="auto"
        ``"classes"``: ``y`` are class labels, one-hot encoded; ``"values"``:
        ``y`` are real targets used as given; ``"auto"``: decided from ``y``
        (see :ref:`target_type <target_type>`).

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
    y, kind = resolve_target_type(y, target_type)
    checked = check_matrix(H, "H")
    if samples_side_is_smaller(*checked.shape):
        check_n_samples(y, checked.shape[0], "y")
        return sample_side_linearity(checked, target_matrix(y, kind)[0])[0]
    if kind == "classes":
        return ClassMoments().update(H, y).target_linearity()
    H = checked
    check_n_samples(y, H.shape[0], "y")
    # Centring is invariant to a constant shift of Y; shifting by the first row
    # keeps large offsets out of the Gram matrix (no cancellation later).
    Y = y - y[:1]
    p = H.shape[1]
    moments = Moments(name="H").update(H, _like(Y, H))
    G, s = to_host(moments.gram), to_host(moments.sums)
    rtol = span_rtol(H.dtype, moments.n_samples, p, exact=False)
    return linearity_from_moments(
        G[:p, :p], s[:p], G[:p, p:], G[p:, p:], s[p:], moments.n_samples, rtol
    )


def _like(Y, H):
    """Return the host targets in ``H``'s namespace and device (numpy for dask)."""
    if is_dask(H) or sp.issparse(H):
        return Y
    xp, device = namespace_and_device(H)
    if is_numpy_namespace(xp):
        return Y
    return from_host(Y, xp, device, xp.float64)
