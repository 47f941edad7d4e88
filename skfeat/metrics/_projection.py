"""Quality and utility: projections of eigenfunctions onto target/output spaces.

Spec section 2.  All four measures (``q_k``, ``Q(k)``, ``u_k``, ``U(k)``) come
from the Gram matrix of ``[E | Y | F]`` accumulated in one pass over the rows
(:class:`~skfeat.metrics._gram.GramBlocks`), then small float64 algebra.

From features ``X`` and a fitted map ``E = X W`` (:func:`projections_of_features`)
the side is chosen by :func:`skfeat._moments.samples_side_is_smaller`: for
``p <= m`` one pass over ``[X | Y | F]`` (``E^T E = W^T (X^T X) W``: the
eigenfunctions are never evaluated, and the same Gram gives CKA-MF); for a
wide layer (``p > m``) ``E = X W`` (``m x k``) is evaluated and the Grams are
those of ``[E | Y | F]``, CKA-MF coming from the ``m x m`` kernel of ``X``:
never a matrix larger than ``min(p, m)^2 + k max(p, m)``.
"""

import warnings

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import validate_params

from skfeat._moments import samples_side_is_smaller
from skfeat.utils._array_api import from_host, is_dask, namespace_and_device
from skfeat.utils._validation import check_finite, check_matrix, check_same_length

from ._gram import (
    GramBlocks,
    in_order_basis,
    projection_profile,
    span_basis,
)
from ._targets import TARGET_TYPE_CONSTRAINT, read_at, target_matrix

__all__ = [
    "cumulative_quality",
    "cumulative_utility",
    "feature_quality",
    "feature_utility",
    "projection_measures",
]

_REFERENCES = """
    References
    ----------
    .. [1] Nam, Mingard, Lee, Hayou, Louis. "Visualising feature learning in deep
       neural networks by diagonalizing the forward feature map", arXiv:2410.04264."""


def _target_block(y, E, target_type, center_target):
    """``(Y block where E lives, "classes" | "values")``."""
    Y, kind = target_matrix(y, target_type, center_target=center_target)
    check_same_length(("eigenfunctions", E), ("y", Y))
    xp, device = namespace_and_device(E)
    if is_dask(E):
        import dask.array as da

        return da.from_array(Y.astype(E.dtype), chunks=(E.chunks[0], Y.shape[1])), kind
    return from_host(Y, xp, device, E.dtype), kind


def _outputs_block(outputs, E):
    F = check_matrix(outputs, "outputs", allow_1d=True)
    check_same_length(("eigenfunctions", E), ("outputs", F))
    return F


def _profile(grams, gram_ee, gram_ez, z, name, basis):
    """Per-feature and cumulative projections of E onto the span of block z."""
    W = span_basis(grams.block(z, z), grams.span_rtol(z))
    if W.shape[1] == 0:
        warnings.warn(
            f"The {name} are zero on this sample: they span no function space, so "
            "every projection onto it is 0.",
            UserWarning,
            stacklevel=4,
        )
    q, cumulative = projection_profile(
        gram_ee, gram_ez, W, grams.span_rtol(0, gram_ee.shape[0]), basis
    )
    return q, cumulative, W.shape[1]


def _blocks(first, y, outputs, target_type, center_target):
    """``[first | Y | F]`` blocks, where Y and F sit, and how y was read."""
    blocks, index, kind = [first], {}, None
    if y is not None:
        index["y"] = len(blocks)
        block, kind = _target_block(y, first, target_type, center_target)
        blocks.append(block)
    if outputs is not None:
        index["outputs"] = len(blocks)
        blocks.append(_outputs_block(outputs, first))
    return blocks, index, kind


def _collect(grams, index, gram_ee, cross):
    """Bunch of the measures; ``cross(z)`` returns ``E^T Z`` for block ``z``."""
    result = Bunch()
    # The in-order basis of E serves quality and utility alike: compute it once.
    basis = in_order_basis(gram_ee, grams.span_rtol(0, gram_ee.shape[0]))
    if "y" in index:
        q, Q, rank = _profile(
            grams, gram_ee, cross(index["y"]), index["y"], "targets", basis
        )
        result.update(feature_quality=q, cumulative_quality=Q, target_rank=rank)
    if "outputs" in index:
        z = index["outputs"]
        u, U, rank = _profile(grams, gram_ee, cross(z), z, "outputs", basis)
        result.update(feature_utility=u, cumulative_utility=U, output_rank=rank)
    return result


def _measures(E, y=None, outputs=None, target_type="auto", center_target=False):
    """One pass over ``[E | Y | F]``; a Bunch of whatever was asked for."""
    E = check_matrix(E, "eigenfunctions", min_samples=2)
    blocks, index, kind = _blocks(E, y, outputs, target_type, center_target)
    grams = GramBlocks(*blocks, name="eigenfunctions")
    result = _collect(grams, index, grams.block(0, 0), lambda z: grams.block(0, z))
    if kind is not None:
        result.target_type = kind
    return result


def projections_of_features(
    X, coef, y=None, outputs=None, target_type="auto", center_target=False
):
    """All projection measures of ``E = X @ coef``, on the cheaper side of ``X``.

    ``coef`` (p x K, float64 on the host or where ``X`` lives) maps features
    to eigenfunctions.  For
    ``p <= m``, one pass over ``[X | Y | F]``: ``E^T E = coef^T (X^T X) coef``
    and ``E^T Z = coef^T (X^T Z)``, so the eigenfunctions are never
    evaluated, and the same Gram gives CKA-MF of ``X`` itself (the result's
    ``cka_mf``, with ``outputs``).  For ``p > m`` (a wide layer), ``E = X coef``
    (``m x K``, in ``X``'s dtype, as ``transform``), one pass over
    ``[E | Y | F]``, and CKA-MF from the ``m x m`` kernel of ``X``
    (:func:`~skfeat.metrics._cka.wide_cka_mf`); ``E`` is evaluated too
    without outputs when ``K <= p / 4`` (see :func:`_evaluates`).  ``X`` must
    already be validated.
    """
    if not _evaluates(X.shape, coef.shape[1], outputs is not None):
        blocks, index, kind = _blocks(X, y, outputs, target_type, center_target)
        grams = GramBlocks(*blocks, name="X")
        # CKA-MF is centred: when a mean eats the digits of its centred
        # products, it is measured again from the sides shifted by a row (the
        # other measures need the uncentred Gram of this pass).
        with_outputs = "outputs" in index
        result = projections_from_grams(grams, coef, index, with_cka=False)
        if with_outputs:
            from ._cka import cka_mf_digits_kept

            F = blocks[index["outputs"]]
            result.cka_mf = cka_mf_digits_kept(X, F, grams, 0, index["outputs"])
    else:
        from ._cka import wide_cka_mf

        E = _evaluated(X, coef)
        blocks, index, kind = _blocks(E, y, outputs, target_type, center_target)
        grams = GramBlocks(*blocks, name="X")
        result = _collect(grams, index, grams.block(0, 0), lambda z: grams.block(0, z))
        if "outputs" in index:
            result.cka_mf = wide_cka_mf(X, blocks[index["outputs"]])
    if kind is not None:
        result.target_type = kind
    return result


def _evaluates(shape, k, with_outputs):
    """Whether the measures of ``E = X W`` evaluate ``E`` (else ``X^T X``).

    Always for a wide ``X`` (``p > m``).  Otherwise the one pass over
    ``[X | Y | F]`` costs ``m p^2 / 2`` and gives CKA-MF of ``X`` too, so it
    is kept with outputs; without them (``score``, ``quality``) ``E`` costs
    ``m p k`` and is taken when ``k <= p / 4`` (after a randomized fit of a
    wide layer, ``X^T X`` would be ``p x p`` for ``k`` eigenfunctions).
    """
    m, p = shape
    return samples_side_is_smaller(m, p) or (not with_outputs and 4 * k <= p)


def _evaluated(X, coef):
    """``X @ coef`` where ``X`` lives, in its dtype (``coef`` host or there too)."""
    if is_dask(X):
        import dask.array as da

        W = da.from_array(coef.astype(X.dtype), chunks=coef.shape)
        return X.rechunk({1: -1}) @ W
    xp, device = namespace_and_device(X)
    W = (
        from_host(coef, xp, device, X.dtype)
        if isinstance(coef, np.ndarray)
        else xp.astype(coef, X.dtype)
    )
    E = X @ W
    check_finite(E, "X", xp)
    return E


def projections_from_grams(grams, coef, index, *, with_cka=True):
    """Projection measures of ``E = X @ coef`` from the Gram blocks of ``[X | ...]``.

    The streaming form of :func:`projections_of_features`: ``grams`` are
    the :class:`~skfeat.metrics._gram.GramBlocks` of ``[X | Y | F]`` (built
    from one pass, or from moments accumulated batch by batch with
    :meth:`GramBlocks.from_moments`), ``index`` says which blocks hold the
    targets (``"y"``) and outputs (``"outputs"``).  Gives ``cka_mf`` of ``X``
    too when the outputs are there (and ``with_cka``).
    """
    from ._cka import cka_mf_from_grams

    # The p x p data block is reduced where it lives: only k x k and k x d_z
    # results cross to the host.
    result = _collect(
        grams, index, grams.reduced(coef), lambda z: grams.reduced(coef, z)
    )
    if with_cka and "outputs" in index:
        result.cka_mf = cka_mf_from_grams(grams, 0, index["outputs"])
    return result


def score_at(cumulative, rank, k=None, target_type="classes"):
    """``C(k) / r``: the share of an ``r``-dimensional space captured at ``k``.

    ``k=None`` takes ``k = min(r, K)`` for class labels (the number of target
    or output dimensions, the fewest eigenfunctions that could capture all of
    it, the constant included) and ``k = min(r + 1, K)`` for real-valued
    targets (``target_type="values"``: the near-constant first eigenfunction
    carries none of a centred target; see :func:`~skfeat.metrics._targets.read_at`).
    """
    n_available = cumulative.size
    if k is None:
        k = min(read_at(max(rank, 1), target_type), n_available)
    elif k > n_available:
        raise ValueError(
            f"k={k} is larger than the {n_available} eigenfunctions available."
        )
    if rank == 0:
        return 0.0
    return float(cumulative[k - 1] / rank)


_E_PARAM = """eigenfunctions : array-like of shape (m, K)
        Eigenfunctions ``e_1..e_K`` evaluated on the (held-out) sample, e.g.
        ``FeatureSpectrum().fit(Phi_train).transform(Phi_eval)``, in order of
        decreasing eigenvalue.  numpy, array-API (with
        ``sklearn.set_config(array_api_dispatch=True)``) or dask arrays."""

_Y_PARAM = """y : array-like of shape (m,) or (m, t)
        Class labels (encoded one-hot) or real-valued targets whose columns
        span the target space.
    target_type : {"auto", "classes", "values"}, default="auto"
        How ``y`` is read: class labels, real values, or decided from ``y``
        (see :ref:`target_type <target_type>`).
    center_target : bool, default=False
        ``False``: the one-hot indicator matrix of the ``C`` classes (its span
        contains the constant function, so ``Q(K) = C`` when the target lies in
        the feature span), or the real targets as given.  ``True``: one-hot
        minus ``1/C`` (span of dimension ``C - 1``, constant excluded), or each
        target column minus its mean."""

_F_PARAM = """outputs : array-like of shape (m, C) or (m,)
        The learned function (network outputs or logits) on the same sample; a
        vector is one output column."""

_CONVENTION = """Projections use the empirical inner product of the sample at hand.  The
    basis of the target/output space is rank-revealing: numpy ``matrix_rank``'s
    rule on its singular values (``s > s_max * max(m, t) * eps(dtype)``, read
    off the exact Gram matrix of the targets or outputs); an eigenfunction that
    adds nothing to the span of the previous ones adds exactly 0 to the
    cumulative measure.  Only Gram matrices of ``[E | Y | F]`` are formed, in
    one pass over the rows (float64 accumulation); never an ``m x m`` array."""


def _doc(func):
    """Fill the shared parameter descriptions into ``func``'s docstring."""
    func.__doc__ = func.__doc__.format(
        E=_E_PARAM, Y=_Y_PARAM, F=_F_PARAM, C=_CONVENTION, R=_REFERENCES
    )
    return func


@validate_params(
    {
        "eigenfunctions": ["array-like"],
        "y": ["array-like"],
        "target_type": TARGET_TYPE_CONSTRAINT,
        "center_target": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
@_doc
def feature_quality(eigenfunctions, y, *, target_type="auto", center_target=False):
    """Quality ``q_k`` of each eigenfunction: its share inside the target space.

    ``q_k = ||P_Y e_k||^2 / ||e_k||^2`` in ``[0, 1]``, with ``P_Y`` the
    orthogonal projector onto the span of the target columns.

    Parameters
    ----------
    {E}
    {Y}

    Returns
    -------
    quality : ndarray of shape (K,)
        ``q_1..q_K`` (float64).

    See Also
    --------
    cumulative_quality : Quality of the span of the first ``k`` eigenfunctions.

    Notes
    -----
    {C}
    {R}

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics import feature_quality
    >>> y = np.array([0, 1, 0, 1])
    >>> E = np.array([[1.0, 1.0], [1.0, -1.0], [1.0, 1.0], [1.0, -1.0]])
    >>> feature_quality(E, y)
    array([1., 1.])
    >>> feature_quality(E, y, center_target=True)
    array([0., 1.])
    """
    return _measures(
        eigenfunctions, y=y, target_type=target_type, center_target=center_target
    ).feature_quality


@validate_params(
    {
        "eigenfunctions": ["array-like"],
        "y": ["array-like"],
        "target_type": TARGET_TYPE_CONSTRAINT,
        "center_target": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
@_doc
def cumulative_quality(eigenfunctions, y, *, target_type="auto", center_target=False):
    """Cumulative quality ``Q(k)`` of the first ``k`` eigenfunctions, ``k = 1..K``.

    ``Q(k) = ||P_{{span(e_1..e_k)}} P_Y||_F^2``: how many dimensions of the
    target space the first ``k`` eigenfunctions capture.  Nondecreasing, in
    ``[0, r_Y]`` (``r_Y = C`` for ``C`` one-hot classes); ``Q(K) = r_Y`` exactly
    when the target lies in the span of the features.

    Parameters
    ----------
    {E}
    {Y}

    Returns
    -------
    cumulative_quality : ndarray of shape (K,)
        Entry ``k - 1`` is ``Q(k)`` (float64).

    See Also
    --------
    feature_quality : Quality of each eigenfunction on its own.
    projection_measures : Quality and utility in one pass.

    Notes
    -----
    {C}
    {R}

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics import cumulative_quality
    >>> y = np.array([0, 1, 0, 1])
    >>> E = np.array([[1.0, 1.0], [1.0, -1.0], [1.0, 1.0], [1.0, -1.0]])
    >>> cumulative_quality(E, y)
    array([1., 2.])
    """
    return _measures(
        eigenfunctions, y=y, target_type=target_type, center_target=center_target
    ).cumulative_quality


@validate_params(
    {"eigenfunctions": ["array-like"], "outputs": ["array-like"]},
    prefer_skip_nested_validation=True,
)
@_doc
def feature_utility(eigenfunctions, outputs):
    """Share of each eigenfunction inside the learned function: utility ``u_k``.

    ``u_k = ||P_F e_k||^2 / ||e_k||^2`` in ``[0, 1]``, with ``P_F`` the
    projector onto the span of the network's outputs.

    Parameters
    ----------
    {E}
    {F}

    Returns
    -------
    utility : ndarray of shape (K,)
        ``u_1..u_K`` (float64).

    See Also
    --------
    cumulative_utility : Utility of the span of the first ``k`` eigenfunctions.

    Notes
    -----
    {C}
    {R}

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics import feature_utility
    >>> E = np.array([[1.0, 1.0], [1.0, -1.0], [1.0, 1.0], [1.0, -1.0]])
    >>> feature_utility(E, E[:, 1])
    array([0., 1.])
    """
    return _measures(eigenfunctions, outputs=outputs).feature_utility


@validate_params(
    {"eigenfunctions": ["array-like"], "outputs": ["array-like"]},
    prefer_skip_nested_validation=True,
)
@_doc
def cumulative_utility(eigenfunctions, outputs):
    """Cumulative utility ``U(k)`` of the first ``k`` eigenfunctions, ``k = 1..K``.

    ``U(k) = ||P_{{span(e_1..e_k)}} P_F||_F^2`` in ``[0, r_F]`` (``r_F`` the rank
    of the outputs).  For a read-out linear in the features, ``U(K) = r_F``;
    the smallest ``k`` with ``U(k) ~ r_F`` is the number of features the
    network uses.

    Parameters
    ----------
    {E}
    {F}

    Returns
    -------
    cumulative_utility : ndarray of shape (K,)
        Entry ``k - 1`` is ``U(k)`` (float64).

    See Also
    --------
    feature_utility : Utility of each eigenfunction on its own.
    projection_measures : Quality and utility in one pass.

    Notes
    -----
    {C}
    {R}

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics import cumulative_utility
    >>> E = np.array([[1.0, 1.0], [1.0, -1.0], [1.0, 1.0], [1.0, -1.0]])
    >>> cumulative_utility(E, E[:, 1])
    array([0., 1.])
    """
    return _measures(eigenfunctions, outputs=outputs).cumulative_utility


@validate_params(
    {
        "eigenfunctions": ["array-like"],
        "y": ["array-like", None],
        "outputs": ["array-like", None],
        "target_type": TARGET_TYPE_CONSTRAINT,
        "center_target": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
@_doc
def projection_measures(
    eigenfunctions, y=None, outputs=None, *, target_type="auto", center_target=False
):
    """Quality and utility measures together, in one pass over the rows.

    Same values as :func:`feature_quality`, :func:`cumulative_quality`,
    :func:`feature_utility` and :func:`cumulative_utility`, from a single Gram
    matrix of ``[E | Y | F]``.

    Parameters
    ----------
    {E}
    y : array-like of shape (m,) or (m, t), default=None
        Labels or targets (see :func:`cumulative_quality`); quality measures
        are computed when given.
    outputs : array-like of shape (m, C) or (m,), default=None
        Learned outputs; utility measures are computed when given.
    target_type : {{"auto", "classes", "values"}}, default="auto"
        How ``y`` is read (see :func:`cumulative_quality`).
    center_target : bool, default=False
        Centre the target matrix (see :func:`cumulative_quality`).

    Returns
    -------
    measures : :class:`~sklearn.utils.Bunch`
        With ``y``: ``feature_quality``, ``cumulative_quality`` (arrays of
        shape (K,)), ``target_rank`` (``r_Y``) and ``target_type`` (how ``y``
        was read: ``"classes"`` or ``"values"``).  With ``outputs``:
        ``feature_utility``, ``cumulative_utility`` and ``output_rank``.

    Notes
    -----
    {C}
    {R}

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics import projection_measures
    >>> y = np.array([0, 1, 0, 1])
    >>> E = np.array([[1.0, 1.0], [1.0, -1.0], [1.0, 1.0], [1.0, -1.0]])
    >>> res = projection_measures(E, y, outputs=E[:, 1])
    >>> res.cumulative_quality, res.cumulative_utility, res.output_rank
    (array([1., 2.]), array([0., 1.]), 1)
    """
    return _measures(
        eigenfunctions,
        y=y,
        outputs=outputs,
        target_type=target_type,
        center_target=center_target,
    )
