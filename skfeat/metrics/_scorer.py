"""scikit-learn scorers for the feature-learning measures.

All scorers are built with the public :func:`sklearn.metrics.make_scorer`
(``response_method=("transform",)``), are greater-is-better, and work as
``scoring=`` (alone or in a dict) in ``GridSearchCV``, ``RandomizedSearchCV``,
``cross_val_score`` and ``cross_validate`` on a pipeline whose ``transform``
returns eigenfunctions (e.g. one that ends in
:class:`~skfeat.FeatureSpectrum`).  Importing skfeat registers nothing in
scikit-learn: pass the scorer objects, e.g. ``scoring=get_scorer("quality")``.

The utility and CKA-MF scorers need the learned outputs of the network on the
scored rows.  They take them, in this order, from the metadata ``outputs``
(requested through scikit-learn's metadata routing) or from the first step of
the scored pipeline that has an ``outputs(X)`` method, e.g.
:class:`skfeat.torch.FeatureExtractor`, evaluated on the scored rows.  These
two are small callables (``scorer(estimator, X, y, **metadata)`` with the public
``set_score_request`` / ``get_metadata_routing`` pair) rather than
:func:`~sklearn.metrics.make_scorer` objects, because they need the estimator
itself, not only one of its responses.
"""

import copy
from numbers import Integral

import sklearn
from sklearn.metrics import make_scorer
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.metadata_routing import MetadataRequest

from skfeat.utils._array_api import namespace_and_device

from ._cka import cka_mf
from ._projection import projection_measures, score_at
from ._targets import TARGET_TYPE_CONSTRAINT

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
    "scorer(estimator, X, y, outputs=F); or score a pipeline whose first step "
    "has an outputs(X) method (skfeat.torch.FeatureExtractor)."
)


def _quality_score(
    y_true, eigenfunctions, *, k=None, target_type="auto", center_target=False
):
    if y_true is None:
        raise ValueError(
            "The quality scorer needs the targets y of the scored samples; "
            "call it as scorer(estimator, X, y)."
        )
    res = projection_measures(
        eigenfunctions, y_true, target_type=target_type, center_target=center_target
    )
    return score_at(res.cumulative_quality, res.target_rank, k, res.target_type)


def _utility_score(y_true, eigenfunctions, *, outputs=None, k=None):
    if outputs is None:
        raise ValueError(_NO_OUTPUTS)
    res = projection_measures(eigenfunctions, outputs=outputs)
    return score_at(res.cumulative_utility, res.output_rank, k)


def _cka_mf_score(y_true, features, *, outputs=None):
    if outputs is None:
        raise ValueError(_NO_OUTPUTS)
    return cka_mf(features, outputs)


def _steps(estimator):
    """Return the fitted steps of a pipeline (the estimator itself otherwise)."""
    if isinstance(estimator, Pipeline):
        return [step for _, step in estimator.steps if not _is_passthrough(step)]
    return [estimator]


def _is_passthrough(step):
    return step is None or (isinstance(step, str) and step == "passthrough")


def transform_with_outputs(estimator, X):
    """Return ``(estimator.transform(X), outputs)``, running the outputs step once.

    The outputs are those on ``X`` of the first step with an ``outputs``
    method, which sees ``X`` through the steps before it (their
    ``transform``), as in ``fit``.  A step that also has
    ``transform_with_outputs`` (:class:`skfeat.torch.FeatureExtractor`) gives
    both from one forward pass of its network.  ``outputs`` is None when no
    step has an ``outputs`` method.
    """
    steps = _steps(estimator)
    found = [
        i for i, step in enumerate(steps) if callable(getattr(step, "outputs", None))
    ]
    if not found:
        return estimator.transform(X), None
    Z = X
    for step in steps[: found[0]]:
        Z = step.transform(Z)
    producer = steps[found[0]]
    if callable(getattr(producer, "transform_with_outputs", None)):
        Z, outputs = producer.transform_with_outputs(Z)
    else:
        outputs = producer.outputs(Z)
        Z = producer.transform(Z)
    for step in steps[found[0] + 1 :]:
        Z = step.transform(Z)
    return Z, outputs


def _transformed(estimator, Z):
    return Z


def _is_spectrum(step):
    """Whether ``step`` is a fitted spectrum (duck-typed: eigenvalues and vectors).

    The scorers live below the estimators: they recognise a fitted
    :class:`~skfeat.FeatureSpectrum` (or anything shaped like one) by its
    fitted ``eigenvalues_`` and ``components_``, never by importing it.
    """
    return hasattr(step, "eigenvalues_") and hasattr(step, "components_")


def _unwhitened(estimator, Z):
    """``Phi V`` when the estimator ends in a fitted spectrum, else ``Z`` as is.

    The eigenfunctions are ``E = Phi V / sqrt(lambda)``; scaling them back gives
    ``Phi V``, whose Gram ``Phi V V^T Phi^T`` is ``Phi Phi^T`` when every
    component is kept (the spec's CKA-MF is of ``Phi Phi^T``, which whitening
    would change), and that of the features restricted to the kept components
    otherwise.
    """
    steps = _steps(estimator)
    last = steps[-1] if steps else None
    if _is_spectrum(last):
        xp, _ = namespace_and_device(Z)
        Z = Z * xp.sqrt(xp.astype(last.eigenvalues_, Z.dtype))
    return Z


class _OutputsScorer:
    """A scorer of eigenfunctions (or features) against the learned outputs.

    ``scorer(estimator, X, y_true, outputs=None)``: the representation is
    ``representation(estimator, estimator.transform(X))``; the outputs are the
    ``outputs`` metadata when given (routed or passed), else those of
    :func:`transform_with_outputs`, which gets both from one pass.  The
    metadata request follows scikit-learn's protocol for consumers:
    ``get_metadata_routing`` returns a
    :class:`~sklearn.utils.metadata_routing.MetadataRequest` whose ``score``
    method requests ``outputs``, and ``set_score_request`` changes it.
    """

    def __init__(self, name, score_func, representation, *, sign=1, **kwargs):
        self._name = name
        self._score_func = score_func
        self._representation = representation
        self._sign = sign
        self._kwargs = kwargs
        self._metadata_request = MetadataRequest(owner=self)
        self._metadata_request.score.add_request(param="outputs", alias=True)

    def __call__(self, estimator, X, y_true=None, **kwargs):
        """Score ``estimator`` on ``X`` (see the class docstring)."""
        outputs = kwargs.pop("outputs", None)
        if kwargs:
            raise TypeError(
                f"{self!r} got unexpected argument(s) {sorted(kwargs)}; it takes "
                "only the metadata 'outputs'."
            )
        if outputs is None:
            transformed, outputs = transform_with_outputs(estimator, X)
            if outputs is None:
                raise ValueError(_NO_OUTPUTS)
        else:
            transformed = estimator.transform(X)
        features = self._representation(estimator, transformed)
        return self._sign * self._score_func(
            y_true, features, outputs=outputs, **self._kwargs
        )

    def __repr__(self):
        arguments = ", ".join(f"{key}={value!r}" for key, value in self._kwargs.items())
        return f"{self._name}({arguments})"

    def set_score_request(self, **kwargs):
        """Set the metadata requested by the scorer, as scikit-learn's scorers do.

        Parameters
        ----------
        **kwargs : dict
            ``param=alias`` with ``alias`` in ``{True, False, None, str}``.

        Returns
        -------
        self : object
            The scorer.
        """
        if not sklearn.get_config()["enable_metadata_routing"]:
            raise RuntimeError(
                "This method is only available when metadata routing is enabled. "
                "You can enable it using "
                "sklearn.set_config(enable_metadata_routing=True)."
            )
        self._metadata_request = MetadataRequest(owner=self)
        for param, alias in kwargs.items():
            self._metadata_request.score.add_request(param=param, alias=alias)
        return self

    def get_metadata_routing(self):
        """Return the metadata request of the scorer (``outputs`` by default).

        Returns
        -------
        request : sklearn.utils.metadata_routing.MetadataRequest
            What ``score`` requests.
        """
        return self._metadata_request


@validate_params(
    {
        "k": [Interval(Integral, 1, None, closed="left"), None],
        "target_type": TARGET_TYPE_CONSTRAINT,
        "center_target": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_quality_scorer(k=None, *, target_type="auto", center_target=False):
    """Make a scorer of the cumulative quality ``Q(k) / r``.

    ``r`` is the number of target dimensions (``C`` classes for one-hot
    labels); the score lies in ``[0, 1]`` and is 1 when the first ``k``
    eigenfunctions span the whole target space.

    Parameters
    ----------
    k : int, default=None
        Number of leading eigenfunctions; ``None`` takes ``k = r`` for class
        labels and ``k = r + 1`` for real-valued targets (the near-constant
        first eigenfunction carries none of a centred target, see
        :ref:`target_type <target_type>`), or all of them if there are
        fewer.  A ``k`` larger than the number of eigenfunctions raises a
        ValueError when scoring.

    target_type : {"auto", "classes", "values"}, default="auto"
        How ``y`` is read, see :func:`~skfeat.metrics.cumulative_quality`.
    center_target : bool, default=False
        Centre the target matrix, see :func:`~skfeat.metrics.cumulative_quality`.

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
        _quality_score,
        response_method=("transform",),
        k=k,
        target_type=target_type,
        center_target=center_target,
    )


@validate_params(
    {"k": [Interval(Integral, 1, None, closed="left"), None]},
    prefer_skip_nested_validation=True,
)
def make_utility_scorer(k=None):
    """Make a scorer of the cumulative utility ``U(k) / r_F``.

    ``r_F`` is the rank of the learned outputs ``F`` on the scored rows.  The
    eigenfunctions are what the estimator's ``transform`` returns.  ``F`` is
    the metadata ``outputs`` when given (requested already:
    ``set_score_request(outputs=True)``); otherwise the outputs of the first
    pipeline step with an ``outputs(X)`` method, e.g.
    ``Pipeline([("features", FeatureExtractor(net)), ("spectrum",
    FeatureSpectrum())])`` scores without any routing; with neither, a
    ValueError says how to provide them.

    Parameters
    ----------
    k : int, default=None
        Number of leading eigenfunctions; ``None`` takes ``k = r_F`` (at most
        the number of eigenfunctions).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y, outputs=None)``; greater is better.  With
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
    >>> scorer = make_utility_scorer(k=5)
    >>> round(scorer(FeatureSpectrum().fit(Phi), Phi, None, outputs=F), 6)
    1.0
    """
    return _OutputsScorer("make_utility_scorer", _utility_score, _transformed, k=k)


def make_cka_mf_scorer():
    """Make a scorer of ``-CKA_MF`` (greater is better: closer to minimal features).

    CKA-MF is a measure of the features' kernel ``Phi Phi^T`` (spec section
    4), which whitening changes.  When the estimator (or its last pipeline
    step) is a :class:`~skfeat.FeatureSpectrum`, the scorer therefore undoes
    the whitening of its eigenfunctions, ``E * sqrt(eigenvalues_) = Phi V``,
    whose kernel ``Phi V V^T Phi^T`` is ``Phi Phi^T`` when all components are
    kept (``n_components=None`` and features in the training span) and that
    of the features restricted to the ``n_components`` leading eigenvectors
    otherwise (a fitted spectrum is recognised by its ``eigenvalues_`` and
    ``components_``).  For any other estimator it scores ``transform``'s output.
    The outputs ``F`` come as for :func:`make_utility_scorer`: the metadata
    ``outputs``, else the first pipeline step with an ``outputs(X)`` method.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y, outputs=None)``, the negated
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
    >>> from skfeat import FeatureSpectrum
    >>> from skfeat.metrics import cka_mf, make_cka_mf_scorer
    >>> rng = np.random.default_rng(0)
    >>> Phi = rng.normal(size=(200, 4)) * [3.0, 2.0, 1.0, 0.5]
    >>> F = Phi[:, :1]
    >>> score = make_cka_mf_scorer()(FeatureSpectrum().fit(Phi), Phi, None, outputs=F)
    >>> bool(np.isclose(score, -cka_mf(Phi, F)))
    True
    """
    return _OutputsScorer("make_cka_mf_scorer", _cka_mf_score, _unwhitened, sign=-1)


_SCORERS = {
    "quality": make_quality_scorer(),
    "quality_centered": make_quality_scorer(center_target=True),
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
        A scorer usable as ``scoring=`` alone or in a dict next to
        scikit-learn's own scorers (``quality``: made with
        :func:`sklearn.metrics.make_scorer`; ``utility`` and ``neg_cka_mf``:
        see :func:`make_utility_scorer`).

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
