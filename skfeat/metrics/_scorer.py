"""scikit-learn scorers for the feature-learning measures.

All scorers are built with the public :func:`sklearn.metrics.make_scorer`
(``response_method=("transform",)``), are greater-is-better, and work as
``scoring=`` (alone or in a dict) in ``GridSearchCV``, ``RandomizedSearchCV``,
``cross_val_score`` and ``cross_validate`` on a pipeline whose ``transform``
returns eigenfunctions (e.g. one that ends in
:class:`~skfeat.FeatureSpectrum`).  Importing skfeat registers nothing in
scikit-learn: pass the scorer objects, e.g. ``scoring=get_scorer("quality")``.

The utility and CKA-MF scorers need the learned outputs of the network on the
scored rows.  They request the metadata ``outputs`` through scikit-learn's
metadata routing; the score functions take it as the ``outputs`` keyword, so a
later scorer that finds the outputs elsewhere (e.g. a torch feature-extractor
step with an ``outputs(X)`` method) only needs to supply that keyword.
"""

import copy
from numbers import Integral

import sklearn
from sklearn.metrics import make_scorer
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._cka import cka_mf
from ._projection import projection_measures, score_at

__all__ = [
    "get_scorer",
    "get_scorer_names",
    "make_cka_mf_scorer",
    "make_quality_scorer",
    "make_utility_scorer",
]

_NO_OUTPUTS = (
    "This scorer needs the learned outputs (network outputs / logits) of the "
    "scored samples. Enable metadata routing with "
    "sklearn.set_config(enable_metadata_routing=True) and pass them to fit, "
    "e.g. GridSearchCV(..., scoring=scorer).fit(Phi, y, outputs=F) or "
    "cross_validate(..., params={'outputs': F}); or call the scorer as "
    "scorer(estimator, X, y, outputs=F)."
)


def _quality_score(y_true, eigenfunctions, *, k=None, target="onehot"):
    res = projection_measures(eigenfunctions, y_true, target=target)
    return score_at(res.cumulative_quality, res.target_rank, k)


def _utility_score(y_true, eigenfunctions, *, outputs=None, k=None):
    if outputs is None:
        raise ValueError(_NO_OUTPUTS)
    res = projection_measures(eigenfunctions, outputs=outputs)
    return score_at(res.cumulative_utility, res.output_rank, k)


def _cka_mf_score(y_true, features, *, outputs=None):
    if outputs is None:
        raise ValueError(_NO_OUTPUTS)
    return cka_mf(features, outputs)


@validate_params(
    {
        "k": [Interval(Integral, 1, None, closed="left"), None],
        "target": [StrOptions({"onehot", "centered"})],
    },
    prefer_skip_nested_validation=True,
)
def make_quality_scorer(k=None, *, target="onehot"):
    """Make a scorer of the cumulative quality ``Q(k) / r``.

    ``r`` is the number of target dimensions (``C`` classes for one-hot
    labels); the score lies in ``[0, 1]`` and is 1 when the first ``k``
    eigenfunctions span the whole target space.

    Parameters
    ----------
    k : int, default=None
        Number of leading eigenfunctions; ``None`` takes ``k = r`` (or all of
        them if there are fewer).  A ``k`` larger than the number of
        eigenfunctions raises a ValueError when scoring.
    target : {"onehot", "centered"}, default="onehot"
        Target encoding, see :func:`~skfeat.metrics.cumulative_quality`.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)``; greater is better.

    See Also
    --------
    cumulative_quality : The underlying measure.

    References
    ----------
    .. [1] Nam, Mingard, Lee, Hayou, Louis. "Visualising feature learning in deep
       neural networks by diagonalizing the forward feature map", arXiv:2410.04264.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat import FeatureSpectrum
    >>> from skfeat.metrics import make_quality_scorer
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, size=200)
    >>> Phi = np.eye(3)[y] + 0.1 * rng.normal(size=(200, 3))
    >>> scorer = make_quality_scorer()
    >>> round(scorer(FeatureSpectrum().fit(Phi), Phi, y), 3)
    1.0
    """
    return make_scorer(
        _quality_score, response_method=("transform",), k=k, target=target
    )


@validate_params(
    {"k": [Interval(Integral, 1, None, closed="left"), None]},
    prefer_skip_nested_validation=True,
)
def make_utility_scorer(k=None):
    """Make a scorer of the cumulative utility ``U(k) / r_F``.

    ``r_F`` is the rank of the learned outputs, which the scorer requests as
    the metadata ``outputs`` (already set: ``set_score_request(outputs=True)``).

    Parameters
    ----------
    k : int, default=None
        Number of leading eigenfunctions; ``None`` takes ``k = r_F``.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y, outputs=F)``; greater is better.  With
        ``sklearn.set_config(enable_metadata_routing=True)``, model-selection
        tools route ``outputs`` passed to ``fit`` (or ``params``) to it.

    See Also
    --------
    cumulative_utility : The underlying measure.

    References
    ----------
    .. [1] Nam, Mingard, Lee, Hayou, Louis. "Visualising feature learning in deep
       neural networks by diagonalizing the forward feature map", arXiv:2410.04264.

    Examples
    --------
    >>> import numpy as np
    >>> import sklearn
    >>> from skfeat import FeatureSpectrum
    >>> from skfeat.metrics import make_utility_scorer
    >>> rng = np.random.default_rng(0)
    >>> Phi = rng.normal(size=(100, 5))
    >>> F = Phi @ rng.normal(size=(5, 2))
    >>> with sklearn.config_context(enable_metadata_routing=True):
    ...     score = make_utility_scorer(k=5)(FeatureSpectrum().fit(Phi), Phi, None,
    ...                                      outputs=F)
    >>> round(score, 6)
    1.0
    """
    return _request_outputs(
        make_scorer(_utility_score, response_method=("transform",), k=k)
    )


def make_cka_mf_scorer():
    """Make a scorer of ``-CKA_MF`` (greater is better: closer to minimal features).

    The representation scored is what the estimator's ``transform`` returns:
    the features ``Phi`` when the pipeline's last step returns them, the
    eigenfunctions (features whitened on the training sample) when it ends in
    :class:`~skfeat.FeatureSpectrum`.  The outputs come as the metadata
    ``outputs`` (requested already).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y, outputs=F)``, the negated
        :func:`~skfeat.metrics.cka_mf`.

    See Also
    --------
    cka_mf : The underlying measure.

    References
    ----------
    .. [1] Nam, Mingard, Lee, Hayou, Louis. "Visualising feature learning in deep
       neural networks by diagonalizing the forward feature map", arXiv:2410.04264.

    Examples
    --------
    >>> import numpy as np
    >>> import sklearn
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from skfeat.metrics import make_cka_mf_scorer
    >>> rng = np.random.default_rng(0)
    >>> Phi = np.eye(3)[rng.integers(0, 3, size=200)]
    >>> identity = FunctionTransformer().fit(Phi)
    >>> with sklearn.config_context(enable_metadata_routing=True):
    ...     score = make_cka_mf_scorer()(identity, Phi, None, outputs=Phi)
    >>> round(score, 6) + 0.0
    0.0
    """
    return _request_outputs(
        make_scorer(
            _cka_mf_score, response_method=("transform",), greater_is_better=False
        )
    )


def _request_outputs(scorer):
    # The request is stored on the scorer, so it is in place whenever the user
    # enables routing later; scikit-learn only lets it be set while enabled.
    with sklearn.config_context(enable_metadata_routing=True):
        return scorer.set_score_request(outputs=True)


_SCORERS = {
    "quality": make_quality_scorer(),
    "quality_centered": make_quality_scorer(target="centered"),
    "utility": make_utility_scorer(),
    "neg_cka_mf": make_cka_mf_scorer(),
}


def get_scorer_names():
    """Names accepted by :func:`get_scorer`.

    Returns
    -------
    names : list of str
        Sorted scorer names.

    Examples
    --------
    >>> from skfeat.metrics import get_scorer_names
    >>> get_scorer_names()
    ['neg_cka_mf', 'quality', 'quality_centered', 'utility']
    """
    return sorted(_SCORERS)


@validate_params({"name": [str]}, prefer_skip_nested_validation=True)
def get_scorer(name):
    """Return a fresh copy of the skfeat scorer called ``name``.

    Parameters
    ----------
    name : str
        One of :func:`get_scorer_names`: ``"quality"`` (``Q(C)/C``),
        ``"quality_centered"`` (the same with centred one-hot targets),
        ``"utility"`` (``U(r_F)/r_F``, needs ``outputs``), ``"neg_cka_mf"``
        (needs ``outputs``).

    Returns
    -------
    scorer : callable
        A scorer made with :func:`sklearn.metrics.make_scorer`, usable as
        ``scoring=`` alone or in a dict next to scikit-learn's own scorers.

    Examples
    --------
    >>> from sklearn.model_selection import cross_val_score
    >>> from skfeat.metrics import get_scorer
    >>> scorer = get_scorer("quality")
    """
    try:
        return copy.deepcopy(_SCORERS[name])
    except KeyError:
        raise ValueError(
            f"{name!r} is not a skfeat scorer; valid names: {get_scorer_names()}. "
            "For scikit-learn's own scorers use sklearn.metrics.get_scorer."
        ) from None
