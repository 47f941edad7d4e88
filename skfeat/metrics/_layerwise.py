"""One table of geometry and spectrum measures per layer of a network."""

from numbers import Real

from sklearn.utils._param_validation import HasMethods, Interval, validate_params

from skfeat.metrics._blocks import labels_to_host
from skfeat.metrics._geometry import ClassMoments

__all__ = ["LAYERWISE_COLUMNS", "layerwise_report", "plot_layerwise"]

#: Columns of :func:`layerwise_report`, in order.
LAYERWISE_COLUMNS = (
    "layer",
    "depth",
    "p",
    "compression",
    "discrimination",
    "numerical_rank",
    "nc1",
    "target_linearity",
    "D_lambda",
    "Q_C",
)


@validate_params(
    {
        "extractor": [HasMethods(["extract"])],
        "X": "no_validation",
        "y": ["array-like"],
        "threshold": [Interval(Real, 0, 1, closed="right")],
        "as_frame": ["boolean", None],
    },
    prefer_skip_nested_validation=True,
)
def layerwise_report(extractor, X, y, *, threshold=0.95, as_frame=None):
    """Geometry and spectrum measures of every layer of a network, as a table.

    Runs ``extractor.extract(X)`` once (one forward pass), then for each layer's
    features ``H`` (flattened to ``n x p``) makes one pass of per-class moments
    (:class:`ClassMoments`) and one spectrum fit
    (:class:`~skfeat.FeatureSpectrum`).  Columns:

    - ``layer``, ``depth`` (1 for the first extracted layer), ``p``;
    - ``compression``: :func:`within_class_compression`;
    - ``discrimination``: :func:`between_class_discrimination`;
    - ``numerical_rank``: :func:`numerical_rank` with ``threshold``;
    - ``nc1``: NC1 of :func:`neural_collapse`;
    - ``target_linearity``: :func:`target_linearity` of the labels;
    - ``D_lambda``: effective dimension of the eigenvalue spectrum
      (``FeatureSpectrum().fit(H).effective_dimension_``);
    - ``Q_C``: cumulative quality ``Q(C)`` of the first ``C`` eigenfunctions
      (``C`` = number of classes) for the one-hot labels
      (:func:`cumulative_quality`), in ``[0, C]``; ``C`` when the first ``C``
      eigenfunctions span the label indicators.  Eigenfunctions and labels are
      those of the sample ``X``.

    Parameters
    ----------
    extractor : object
        Anything with ``extract(X) -> {layer_name: array (n_samples, ...)}``,
        layers in depth order, e.g. :class:`skfeat.torch.FeatureExtractor`.
    X : object
        Inputs of the network, passed unchanged to ``extractor.extract``.
    y : array-like of shape (n_samples,)
        Class labels (at least 2 classes).
    threshold : float, default=0.95
        Singular-value share of the numerical rank.
    as_frame : bool or None, default=None
        Return a :class:`pandas.DataFrame`; ``None`` does so when pandas is
        installed, else returns a list of dicts (one per layer).

    Returns
    -------
    report : pandas.DataFrame or list of dict
        One row per layer, columns :data:`LAYERWISE_COLUMNS`.

    See Also
    --------
    plot_layerwise : Plot the columns of the report against depth.

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
    >>> from skfeat.metrics import layerwise_report
    >>> class Layers:  # stand-in for a FeatureExtractor
    ...     def extract(self, X):
    ...         return {"raw": X, "scaled": 2 * X}
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 20)
    >>> X = np.eye(3)[y] + 0.1 * rng.normal(size=(60, 3))
    >>> report = layerwise_report(Layers(), X, y, as_frame=False)
    >>> [row["layer"] for row in report], report[0]["p"]
    (['raw', 'scaled'], 3)
    >>> report[0]["compression"] == report[1]["compression"]
    True
    """
    from skfeat._spectrum import FeatureSpectrum
    from skfeat.metrics._projection import cumulative_quality

    y = labels_to_host(y)
    features = extractor.extract(X)
    if not features:
        raise ValueError("extractor.extract(X) returned no layers.")
    rows = []
    for depth, (layer, H) in enumerate(features.items(), start=1):
        H = _flatten(H)
        moments = ClassMoments().update(H, y)
        spectrum = FeatureSpectrum().fit(H)
        quality = cumulative_quality(spectrum.transform(H), y)
        n_classes = moments.classes_.size
        rows.append(
            {
                "layer": layer,
                "depth": depth,
                "p": int(H.shape[1]),
                "compression": moments.within_class_compression(),
                "discrimination": moments.between_class_discrimination(),
                "numerical_rank": moments.numerical_rank(threshold),
                "nc1": moments.neural_collapse().nc1,
                "target_linearity": moments.target_linearity(),
                "D_lambda": float(spectrum.effective_dimension_),
                "Q_C": float(quality[min(n_classes, quality.size) - 1]),
            }
        )
    if as_frame is None:
        try:
            import pandas  # noqa: F401
        except ImportError:
            as_frame = False
        else:
            as_frame = True
    if not as_frame:
        return rows
    import pandas as pd

    return pd.DataFrame(rows, columns=list(rows[0]))


def _flatten(H):
    if H.ndim == 2:
        return H
    if H.ndim < 2:
        raise ValueError(f"Layer features must be at least 2-D; got shape {H.shape}.")
    # Convolutional maps (n, c, h, w): one feature per channel and position.
    return H.reshape(H.shape[0], -1)


def plot_layerwise(
    report, metrics=("compression", "discrimination", "target_linearity"), *, ax=None
):
    """Plot measures of :func:`layerwise_report` against depth.

    A shortcut for :meth:`skfeat.plotting.LayerDisplay.from_history`: one
    panel per measure, layers placed by their ``depth``; ``compression`` and
    ``nc1`` use a log scale, where a geometric decay per layer is a straight
    line.

    Parameters
    ----------
    report : pandas.DataFrame or list of dict
        Output of :func:`layerwise_report`.
    metrics : sequence of str, default=("compression", "discrimination", \
"target_linearity")
        Columns to plot.
    ax : array of matplotlib Axes, default=None
        One axes per metric; a new figure by default.

    Returns
    -------
    axes : ndarray of matplotlib Axes
        The panels, in the order of ``metrics``.

    See Also
    --------
    skfeat.plotting.LayerDisplay : The display drawn (``axes[0].figure``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skfeat.metrics import plot_layerwise
    >>> report = [
    ...     {"layer": "a", "depth": 1, "compression": 1.0, "discrimination": 0.1},
    ...     {"layer": "b", "depth": 2, "compression": 0.1, "discrimination": 0.5},
    ... ]
    >>> axes = plot_layerwise(report, ["compression", "discrimination"])
    >>> axes[0].get_yscale(), len(axes)
    ('log', 2)
    >>> axes[0].lines[0].get_xdata()
    array([1., 2.])
    """
    from skfeat.plotting import LayerDisplay

    rows = report.to_dict("records") if hasattr(report, "to_dict") else list(report)
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    missing = [m for m in metrics if not rows or m not in rows[0]]
    if missing:
        raise ValueError(f"The report has no column(s) {missing}.")
    return LayerDisplay.from_history(rows, metrics=metrics, axes=ax).axes_
