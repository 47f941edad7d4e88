"""One record of the feature-learning measures of a feature map.

The per-layer record of :class:`skfeat.torch.FeatureTracker` and of
``skfeat report`` (:func:`skfeat.write_report`) is computed here, once: fit
the spectrum on the training features, then one pass over the held-out rows
of ``[Phi | Y | F]`` (:meth:`skfeat.FeatureSpectrum.measures`) gives quality,
utility and CKA-MF together.  No torch, no matplotlib.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

from skfeat.utils._array_api import namespace_and_device, to_host

from ._cka import regime_from_cka_mf
from ._dimension import effective_dimension
from ._projection import n_targets

__all__ = ["MEASURE_CURVES", "MEASURE_SCALARS", "feature_measures"]

#: Scalar measures of a :func:`feature_measures` record, in table order; the
#: last four need the outputs.
MEASURE_SCALARS = (
    "D_lambda",
    "quality_at_C",
    "D_q",
    "utility_at_C",
    "D_u",
    "cka_mf",
    "regime",
)

#: Per-eigenfunction curves of a record (one value per eigenfunction); the
#: utility curves need the outputs.
MEASURE_CURVES = (
    "eigenvalues",
    "quality",
    "cumulative_quality",
    "utility",
    "cumulative_utility",
)


@validate_params(
    {
        "Phi_train": ["array-like"],
        "Phi_test": ["array-like"],
        "y_test": ["array-like"],
        "outputs_test": ["array-like", None],
        "n_classes": [Interval(Integral, 1, None, closed="left"), None],
        "threshold": [Interval(Real, 0, 1, closed="both")],
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def feature_measures(
    Phi_train,
    Phi_test,
    y_test,
    outputs_test=None,
    *,
    n_classes=None,
    threshold=0.1,
    n_components=None,
):
    """Measures of one feature map: spectrum on train, the rest held out.

    Fits :class:`~skfeat.FeatureSpectrum` on ``Phi_train`` and evaluates the
    eigenfunctions on ``Phi_test``: the quality ``Q(C)`` against the
    (one-hot) targets, and with ``outputs_test`` the utility ``U(C)``, CKA-MF
    and the regime; ``D_lambda`` of the training spectrum, ``D_q`` and ``D_u``
    of the held-out qualities and utilities.  This is the record of every
    layer in :class:`skfeat.torch.FeatureTracker` and ``skfeat report``.

    Parameters
    ----------
    Phi_train : array-like of shape (n_train, p)
        Training features; the spectrum is fitted on them.
    Phi_test : array-like of shape (n_test, p)
        Held-out features; every other measure is evaluated on them.
    y_test : array-like of shape (n_test,) or (n_test, t)
        Held-out class labels (one-hot encoded) or real-valued targets.
    outputs_test : array-like of shape (n_test, n_outputs), default=None
        The network's held-out outputs; utility, CKA-MF and the regime are
        computed when given.
    n_classes : int, default=None
        ``C``: ``quality_at_C`` and ``utility_at_C`` are ``Q(C)`` and ``U(C)``
        (``C`` capped at the number of eigenfunctions).  ``None``: the number
        of distinct labels of ``y_test`` (columns for real-valued targets).
    threshold : float in [0, 1], default=0.1
        CKA-MF threshold of the regime label (see
        :func:`~skfeat.metrics.feature_regime`).
    n_components : int, default=None
        Number ``K`` of leading eigenfunctions over which the held-out
        measures (quality, utility, ``D_q``, ``D_u``) are taken, at most the
        numerical rank; ``None``: all numerically nonzero ones.  On ``m``
        held-out samples an eigenfunction unrelated to the target still has
        ``q_k`` of about ``C / m`` by chance, and summed over ``K`` comparable
        to ``m`` that floor dominates ``D_q`` and ``D_u``; Nam et al. (2024,
        App. H) therefore read these measures only for ``k`` much smaller
        than ``m``.  To compare networks, use the same ``K`` for all of them.
        ``D_lambda``, the eigenvalues and CKA-MF never depend on ``K``.

    Returns
    -------
    measures : dict
        ``n_features`` (``p``), ``n_classes`` (``C``), the scalars
        ``D_lambda, quality_at_C, D_q`` and the curves ``eigenvalues`` (all
        nonzero ones, training sample), ``quality`` (``q_k``),
        ``cumulative_quality`` (``Q(k)``); with ``outputs_test`` also the
        scalars ``utility_at_C, D_u, cka_mf, regime`` and the curves
        ``utility`` (``u_k``), ``cumulative_utility`` (``U(k)``).  Scalars are
        Python floats (``regime`` a str), curves float64 numpy arrays.

    See Also
    --------
    skfeat.FeatureSpectrum.measures : The held-out pass behind the record.
    skfeat.torch.FeatureTracker : The record at every epoch of a training run.
    skfeat.write_report : The record of every layer of a saved run.

    References
    ----------
    .. [1] Nam, Mingard, Lee, Hayou, Louis. "Visualising feature learning in deep
       neural networks by diagonalizing the forward feature map", arXiv:2410.04264.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics import feature_measures
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, size=200)
    >>> Phi = np.eye(3)[y] @ rng.normal(size=(3, 8)) + 0.1 * rng.normal(size=(200, 8))
    >>> record = feature_measures(Phi[:120], Phi[120:], y[120:], Phi[120:, :3])
    >>> record["n_classes"], record["eigenvalues"].shape
    (3, (8,))
    >>> round(record["quality_at_C"], 2), record["regime"]
    (2.98, 'MF')
    >>> feature_measures(Phi[:120], Phi[120:], y[120:], n_components=4)["quality"].shape
    (4,)
    """
    from skfeat._spectrum import FeatureSpectrum

    spectrum = FeatureSpectrum().fit(Phi_train)
    # All eigenfunctions in one pass; q_k, u_k and the in-order Q(k), U(k) of
    # the first K are the first K entries, so truncating afterwards is exact.
    held_out = spectrum.measures(Phi_test, y_test, outputs_test)
    K = spectrum.n_components_ if n_components is None else int(n_components)
    if n_classes is None:
        n_classes = n_targets(y_test)
    eigenvalues = to_host(
        spectrum.eigenvalues_, namespace_and_device(spectrum.eigenvalues_)[0]
    )
    record = {
        "n_features": int(spectrum.n_features_in_),
        "n_classes": int(n_classes),
        "D_lambda": float(spectrum.effective_dimension_),
        "eigenvalues": np.array(eigenvalues, dtype=np.float64),
    }
    record.update(
        _projection_record(
            held_out.feature_quality,
            held_out.cumulative_quality,
            "quality",
            "D_q",
            K,
            n_classes,
        )
    )
    if outputs_test is not None:
        record.update(
            _projection_record(
                held_out.feature_utility,
                held_out.cumulative_utility,
                "utility",
                "D_u",
                K,
                n_classes,
            )
        )
        record["cka_mf"] = float(held_out.cka_mf)
        record["regime"] = regime_from_cka_mf(record["cka_mf"], threshold)
    return record


def _projection_record(per_feature, cumulative, name, dimension, K, n_classes):
    """Curves over the first ``K`` eigenfunctions, their ``D`` and value at ``C``."""
    per_feature = np.array(per_feature[:K], dtype=np.float64)
    cumulative = np.array(cumulative[:K], dtype=np.float64)
    at_C = min(n_classes, cumulative.size) - 1
    return {
        f"{name}_at_C": float(cumulative[at_C]),
        dimension: float(effective_dimension(per_feature)),
        name: per_feature,
        f"cumulative_{name}": cumulative,
    }
