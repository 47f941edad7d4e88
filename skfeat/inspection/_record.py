"""One record of the feature-learning measures of a feature map.

The per-layer row of every skfeat table -- :class:`skfeat.torch.FeatureTracker`,
``skfeat report`` (:func:`write_report`), :func:`layerwise_report` -- is
computed here, once: fit the spectrum on the training features, then one pass
over the held-out rows of ``[Phi | Y | F]``
(:meth:`skfeat.FeatureSpectrum.projection_measures`) gives quality, utility
and CKA-MF together; with training labels, one pass of class moments over the
training features gives the layer's geometry.  Keys and meanings are those of
:mod:`skfeat.metrics._records`.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.utils._param_validation import HasMethods, Interval, validate_params

from skfeat._moments import Moments
from skfeat._spectrum import FeatureSpectrum
from skfeat.metrics._cka import regime_from_cka_mf
from skfeat.metrics._dimension import effective_dimension
from skfeat.metrics._geometry import (
    ClassMoments,
    rank_from_gram,
    rows_geometry,
    rows_side,
    rows_value_geometry,
)
from skfeat.metrics._gram import linearity_from_moments
from skfeat.metrics._linearity import _like
from skfeat.metrics._targets import (
    TARGET_TYPE_CONSTRAINT,
    class_labels,
    read_at,
    resolve_target_type,
)
from skfeat.metrics._targets import n_targets as target_dimension
from skfeat.utils._array_api import to_host
from skfeat.utils._rank import span_rtol
from skfeat.utils._validation import check_matrix, check_n_samples

__all__ = ["feature_record", "geometry_record", "record_from_measures"]


@validate_params(
    {
        "Phi_train": ["array-like", "sparse matrix"],
        "Phi_test": ["array-like", "sparse matrix"],
        "y_test": ["array-like"],
        "outputs_test": ["array-like", None],
        "y_train": ["array-like", None],
        "spectrum": [HasMethods(["fit", "projection_measures"]), None],
        "n_targets": [Interval(Integral, 1, None, closed="left"), None],
        "threshold": [Interval(Real, 0, 1, closed="both")],
        "rank_share": [Interval(Real, 0, 1, closed="right")],
        "target_type": TARGET_TYPE_CONSTRAINT,
    },
    prefer_skip_nested_validation=True,
)
def feature_record(
    Phi_train,
    Phi_test,
    y_test,
    outputs_test=None,
    *,
    y_train=None,
    spectrum=None,
    n_targets=None,
    threshold=0.1,
    rank_share=0.95,
    target_type="auto",
):
    """Measures of one feature map: spectrum on train, the rest held out.

    Fits a :class:`~skfeat.FeatureSpectrum` on ``Phi_train`` and evaluates the
    eigenfunctions on ``Phi_test``: the quality ``Q(C)`` against the targets,
    and with ``outputs_test`` the utility ``U(C)``, CKA-MF and the regime;
    ``D_lambda`` and the rank of the training spectrum, ``D_q`` and ``D_u`` of
    the held-out qualities and utilities.  With class labels ``y_train``, the
    geometry of the training features too: within-class compression,
    between-class discrimination, numerical rank, NC1 and target linearity.

    Regression targets (``target_type="values"``, or ``"auto"`` on
    fractional floats or several columns) are read with ``C`` the target
    dimension ``t`` and ``quality_at_C`` / ``utility_at_C`` read at ``t + 1``
    eigenfunctions: the near-constant first eigenfunction carries none of a
    centred target (see :ref:`target_type <target_type>`).  With
    ``y_train``, their geometry is ``numerical_rank`` and
    ``target_linearity`` only: the class-only columns are left out.
    This is the record of every layer in :class:`skfeat.torch.FeatureTracker`,
    :func:`layerwise_report` and ``skfeat report``.

    Parameters
    ----------
    Phi_train : {array-like, sparse matrix} of shape (n_train, p)
        Training features; the spectrum (and the geometry) is fitted on them.
    Phi_test : {array-like, sparse matrix} of shape (n_test, p)
        Held-out features; the projection measures are evaluated on them.
    y_test : array-like of shape (n_test,) or (n_test, t)
        Held-out class labels (one-hot encoded) or real-valued targets.
    outputs_test : array-like of shape (n_test, n_outputs), default=None
        The network's held-out outputs; utility, CKA-MF and the regime are
        computed when given.
    y_train : array-like of shape (n_train,) or (n_train, t), default=None
        Training class labels or targets (read as ``y_test`` is); the
        geometry columns are computed when given.
    spectrum : FeatureSpectrum, default=None
        Unfitted template whose parameters are used (cloned, not modified):
        ``solver``, ``n_components``, ``rtol``, ``random_state``, ...;
        ``FeatureSpectrum()`` when None.  The held-out measures are taken over
        the eigenfunctions it keeps.  On ``m`` held-out samples an
        eigenfunction unrelated to the target still has ``q_k`` of about
        ``C / m`` by chance, and summed over ``K`` comparable to ``m`` that
        floor dominates ``D_q`` and ``D_u``; Nam et al. (2024, App. H) read
        these measures only for ``K`` much smaller than ``m``.  To compare
        networks, keep the same ``n_components`` for all of them.
        ``D_lambda`` and ``rank`` are over every eigenvalue above the rank
        rule, whatever ``n_components`` keeps.
    n_targets : int, default=None
        ``C``: ``quality_at_C`` and ``utility_at_C`` are ``Q(C)`` and ``U(C)``
        (``Q(t + 1)`` and ``U(t + 1)`` for ``t`` real-valued targets; capped at
        the number of eigenfunctions).  ``None``: the number of distinct labels
        of ``y_test`` (columns for real-valued targets).
    threshold : float in [0, 1], default=0.1
        CKA-MF threshold of the regime label (see
        :func:`~skfeat.metrics.feature_regime`).
    rank_share : float in (0, 1], default=0.95
        Singular-value share of ``numerical_rank`` (see
        :func:`~skfeat.metrics.numerical_rank`).
    target_type : {"auto", "classes", "values"}, default="auto"
        How ``y_test`` is read (see :ref:`target_type <target_type>`).

    Returns
    -------
    record : dict
        ``n_features`` (``p``), ``n_targets`` (``C`` or ``t``),
        ``target_type`` (``"classes"`` or ``"values"``), the scalars ``rank``,
        ``D_lambda``, ``quality_at_C``, ``D_q`` and the curves ``eigenvalues``
        (the kept ones, training sample), ``quality`` (``q_k``),
        ``cumulative_quality`` (``Q(k)``); with ``outputs_test`` also the
        scalars ``utility_at_C``, ``D_u``, ``cka_mf``, ``regime`` and the
        curves ``utility`` (``u_k``), ``cumulative_utility`` (``U(k)``); with
        ``y_train`` also ``compression``, ``discrimination``,
        ``numerical_rank``, ``nc1`` and ``target_linearity`` (for real-valued
        targets ``numerical_rank`` and ``target_linearity`` only).  Scalars are
        Python floats and ints (``regime`` a str), curves float64 numpy arrays.
        When the outputs span nothing (a zero read-out), every ``u_k`` is 0,
        and ``D_u`` is 0 (no eigenfunction is used); likewise ``D_q``.

    See Also
    --------
    skfeat.FeatureSpectrum.projection_measures : The held-out pass behind it.
    skfeat.torch.FeatureTracker : The record at every epoch of a training run.
    layerwise_report : The record of every layer of a network.
    write_report : The record of every layer of a saved run.

    References
    ----------
    .. [1] Nam, Mingard, Lee, Hayou, Louis. "Visualising feature learning in deep
       neural networks by diagonalizing the forward feature map", arXiv:2410.04264.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat import FeatureSpectrum
    >>> from skfeat.inspection import feature_record
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, size=200)
    >>> Phi = np.eye(3)[y] @ rng.normal(size=(3, 8)) + 0.1 * rng.normal(size=(200, 8))
    >>> record = feature_record(Phi[:120], Phi[120:], y[120:], Phi[120:, :3])
    >>> record["n_targets"], record["eigenvalues"].shape
    (3, (8,))
    >>> round(record["quality_at_C"], 2), record["regime"]
    (2.98, 'MF')
    >>> short = feature_record(
    ...     Phi[:120], Phi[120:], y[120:], spectrum=FeatureSpectrum(n_components=4)
    ... )
    >>> short["quality"].shape, short["rank"]
    ((4,), 8)
    """
    spectrum = FeatureSpectrum() if spectrum is None else clone(spectrum)
    spectrum.fit(Phi_train)
    held_out = spectrum.projection_measures(
        Phi_test, y_test, outputs_test, target_type=target_type
    )
    # Read once (a whole-number-float guess warns once): y_train as y_test.
    kind = held_out.target_type
    if n_targets is None:
        n_targets = target_dimension(y_test, kind)
    record = record_from_measures(
        spectrum,
        held_out,
        n_targets,
        threshold=threshold,
        with_outputs=outputs_test is not None,
        target_type=kind,
    )
    if y_train is not None:
        record.update(
            geometry_record(Phi_train, y_train, rank_share=rank_share, target_type=kind)
        )
    return record


def record_from_measures(
    spectrum, held_out, n_targets, *, threshold, with_outputs, target_type="classes"
):
    """Return the record of a fitted spectrum and its held-out projection measures.

    The second half of :func:`feature_record`, for measures taken elsewhere:
    ``held_out`` is the Bunch of :meth:`FeatureSpectrum.projection_measures`
    (or of :func:`skfeat.metrics._projection.projections_from_grams` on
    moments accumulated batch by batch, as :func:`skfeat.torch.analyze`
    does).  ``target_type`` (``"classes"`` or ``"values"``) says where the
    curves are read: at ``C``, or at ``t + 1`` for ``t`` real-valued targets.
    """
    at = read_at(n_targets, target_type)
    record = {
        "n_features": int(spectrum.n_features_in_),
        "n_targets": int(n_targets),
        "target_type": target_type,
        "rank": int(spectrum.rank_),
        "D_lambda": float(spectrum.effective_dimension_),
        "eigenvalues": np.array(to_host(spectrum.eigenvalues_), dtype=np.float64),
    }
    record.update(
        _projection_record(
            held_out.feature_quality, held_out.cumulative_quality, "quality", at
        )
    )
    if with_outputs:
        record.update(
            _projection_record(
                held_out.feature_utility,
                held_out.cumulative_utility,
                "utility",
                at,
            )
        )
        record["cka_mf"] = float(held_out.cka_mf)
        record["regime"] = regime_from_cka_mf(record["cka_mf"], threshold)
    return record


_DIMENSIONS = {"quality": "D_q", "utility": "D_u"}


def _projection_record(per_feature, cumulative, name, at):
    """Curves over the kept eigenfunctions, their ``D`` and value at ``at``."""
    per_feature = np.array(per_feature, dtype=np.float64)
    cumulative = np.array(cumulative, dtype=np.float64)
    at_C = min(at, cumulative.size) - 1
    dimension = (
        float(effective_dimension(per_feature)) if np.any(per_feature > 0) else 0.0
    )
    return {
        f"{name}_at_C": float(cumulative[at_C]),
        _DIMENSIONS[name]: dimension,
        name: per_feature,
        f"cumulative_{name}": cumulative,
    }


def geometry_record(H, y, *, rank_share=0.95, moments=None, target_type="auto"):
    """Return the geometry columns of a record (one pass over ``H``).

    Class labels: ``compression``, ``discrimination``, ``numerical_rank``,
    ``nc1`` and ``target_linearity`` of features ``H`` with labels ``y``, from
    one pass of class moments (or of accumulated ``moments``, a
    :class:`~skfeat.metrics.ClassMoments`).  Real-valued targets
    (``target_type="values"``): ``numerical_rank`` and ``target_linearity``
    only, from one pass of the moments of ``[H | Y]`` and one ``p x p``
    eigendecomposition -- the class-only columns are left out.  Dense
    features wider than they are long (``p > n``) are measured from the
    sample side instead (an ``n x n`` Gram, :func:`rows_geometry`): the same
    values, to rounding, without a ``p x p`` matrix.
    """
    if moments is None:
        labels, kind = resolve_target_type(y, target_type, "y_train")
        if kind == "values":
            if rows_side(H):
                return rows_value_geometry(H, labels, rank_share)
            return _value_geometry(H, labels, rank_share)
        labels = class_labels(labels, "classes")
        if rows_side(H):
            # Wide layers (p > n): the n x n side, never a p x p matrix.
            return rows_geometry(H, labels, rank_share)
        moments = ClassMoments().update(H, labels)
    return {
        "compression": moments.within_class_compression(),
        "discrimination": moments.between_class_discrimination(),
        "numerical_rank": moments.numerical_rank(rank_share),
        "nc1": moments.neural_collapse().nc1,
        "target_linearity": moments.target_linearity(),
    }


def _value_geometry(H, Y, rank_share):
    """``numerical_rank`` and ``target_linearity`` of real targets ``Y`` (2-D)."""
    H = check_matrix(H, "H")
    check_n_samples(Y, H.shape[0], "y_train")
    # Centring is invariant to a shift of Y: by its first row, no cancellation.
    moments = Moments(name="H").update(H, _like(Y - Y[:1], H))
    G, sums = to_host(moments.gram), to_host(moments.sums)
    p, n = H.shape[1], moments.n_samples
    eigh = np.linalg.eigh(G[:p, :p])
    rtol = span_rtol(H.dtype, n, p, exact=False)
    return {
        "numerical_rank": rank_from_gram(
            None, rank_share, n, H.dtype, eigenvalues=eigh[0]
        ),
        "target_linearity": linearity_from_moments(
            G[:p, :p], sums[:p], G[:p, p:], G[p:, p:], sums[p:], n, rtol, eigh=eigh
        ),
    }
