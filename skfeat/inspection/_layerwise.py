"""One table of geometry and spectrum measures per layer of a network."""

from numbers import Real

from sklearn.utils._param_validation import HasMethods, Interval, validate_params

from skfeat.metrics._targets import TARGET_TYPE_CONSTRAINT, resolve_target_type

from ._record import feature_record
from ._tables import as_table

__all__ = ["layerwise_report"]


@validate_params(
    {
        "extractor": [HasMethods(["extract"])],
        "X_train": "no_validation",
        "y_train": ["array-like"],
        "X_test": "no_validation",
        "y_test": ["array-like"],
        "spectrum": [HasMethods(["fit", "projection_measures"]), None],
        "rank_share": [Interval(Real, 0, 1, closed="right")],
        "as_frame": ["boolean"],
        "target_type": TARGET_TYPE_CONSTRAINT,
    },
    prefer_skip_nested_validation=True,
)
def layerwise_report(
    extractor,
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    spectrum=None,
    rank_share=0.95,
    as_frame=False,
    target_type="auto",
):
    """Geometry and spectrum measures of every layer of a network, as a table.

    Runs ``extractor.extract`` once on the training inputs and once on the
    test inputs (one forward pass each), then for each layer's features
    (flattened to ``n x p``) the record of :func:`feature_record`: the
    geometry of the training features (Wang et al.'s within-class
    compression and between-class discrimination, the numerical rank, NC1 and
    target linearity) and the spectrum fitted on the training features with
    its held-out quality ``Q(C)``, as in every other table of skfeat.

    With real-valued targets (``target_type="values"``, or ``"auto"`` on
    fractional floats or several columns) the rows hold the spectrum
    measures (``C`` is the target dimension ``t``, ``Q`` read at ``t + 1``),
    the numerical rank and the target linearity of the real targets; the
    class-only columns (compression, discrimination, NC1) are left out of
    the records (NaN in a frame), never reported as 0.

    Parameters
    ----------
    extractor : object
        Anything with ``extract(X) -> {layer_name: array (n_samples, ...)}``,
        layers in depth order, e.g. :class:`skfeat.torch.FeatureExtractor`.
    X_train : object
        Training inputs of the network, passed unchanged to ``extract``.
    y_train : array-like of shape (n_train,) or (n_train, t)
        Training class labels (at least 2 classes) or real-valued targets.
    X_test : object
        Held-out inputs, passed unchanged to ``extract``.
    y_test : array-like of shape (n_test,) or (n_test, t)
        Held-out class labels or targets.
    spectrum : FeatureSpectrum, default=None
        Template of the spectrum fitted per layer (see :func:`feature_record`).
    rank_share : float, default=0.95
        Singular-value share of the numerical rank.
    as_frame : bool, default=False
        Return a :class:`pandas.DataFrame` (needs pandas, which the ``torch``
        extra installs) instead of a list of records.
    target_type : {"auto", "classes", "values"}, default="auto"
        How ``y_train`` and ``y_test`` are read (see
        :ref:`target_type <target_type>`); ``"auto"`` decides from
        ``y_train``.

    Returns
    -------
    report : list of dict or pandas.DataFrame
        One record per layer: ``layer``, ``depth`` (1 for the first extracted
        layer) and the record of :func:`feature_record`, without its
        per-eigenfunction curves.

    See Also
    --------
    skfeat.plotting.LayerDisplay : Plot the columns against depth.
    feature_record : The record of one layer.

    References
    ----------
    .. [1] Wang, Li, Yaras, Zhu, Balzano, Hu, Qu. "Understanding deep
       representation learning via layerwise feature compression and
       discrimination", arXiv:2311.02960.
    .. [2] Nam, Mingard, Lee, Hayou, Louis. "Visualising feature learning in deep
       neural networks by diagonalizing the forward feature map", arXiv:2410.04264.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.inspection import layerwise_report
    >>> class Layers:  # stand-in for a FeatureExtractor
    ...     def extract(self, X):
    ...         return {"raw": X, "scaled": 2 * X}
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 20)
    >>> X = np.eye(3)[y] + 0.1 * rng.normal(size=(60, 3))
    >>> report = layerwise_report(Layers(), X[::2], y[::2], X[1::2], y[1::2])
    >>> [row["layer"] for row in report], report[0]["n_features"]
    (['raw', 'scaled'], 3)
    >>> report[0]["compression"] == report[1]["compression"]
    True
    """
    _, kind = resolve_target_type(y_train, target_type, "y_train")
    train = extractor.extract(X_train)
    test = extractor.extract(X_test)
    if not train:
        raise ValueError("extractor.extract(X) returned no layers.")
    rows = []
    for depth, (layer, H) in enumerate(train.items(), start=1):
        record = feature_record(
            _flatten(H, layer),
            _flatten(test[layer], layer),
            y_test,
            y_train=y_train,
            spectrum=spectrum,
            rank_share=rank_share,
            target_type=kind,
        )
        rows.append({"layer": layer, "depth": depth, **record})
    return as_table(rows, as_frame=as_frame, curves=False)


def _flatten(H, layer):
    if H.ndim == 2:
        return H
    if H.ndim < 2:
        raise ValueError(
            f"Layer {layer!r} gave features of shape {tuple(H.shape)}; they must "
            "have a samples axis and a feature axis."
        )
    # Convolutional maps (n, c, h, w): one feature per channel and position.
    return H.reshape(H.shape[0], -1)
