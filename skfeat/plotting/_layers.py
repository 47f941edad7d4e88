"""LayerDisplay: feature-learning measures against depth."""

import numpy as np

from ._base import (
    check_metrics,
    check_records,
    get_axes_grid,
    metric_label,
    numeric_metrics,
    set_value_scale,
    value_or_nan,
)

__all__ = ["LayerDisplay"]


class LayerDisplay:
    """Measures of each layer against depth, one panel per measure.

    Each panel draws one measure (``D_lambda``, ``Q(C)``, CKA-MF, within-class
    compression, ...) against the layers in network order.  Call :meth:`plot`
    again with ``axes=display.axes_`` and another ``name`` to compare runs.

    Use :meth:`from_history` (records such as those of
    :class:`skfeat.torch.FeatureTracker` or ``skfeat report``) or the
    constructor with precomputed values.

    Parameters
    ----------
    layers : sequence of str
        Layer names, input side first.
    metrics : dict of str to array-like of shape (n_layers,)
        Values of each measure per layer (NaN where a layer has none).
    name : str, default=None
        Name of the run, shown in the legend.
    depth : array-like of shape (n_layers,), default=None
        Position of each layer on the horizontal axis (e.g. the ``depth``
        column of :func:`skfeat.metrics.layerwise_report`, so that curves
        fitted against depth can be drawn over the panels); ``0, 1, ...``
        when None.

    Attributes
    ----------
    lines_ : dict of str to matplotlib Line2D
        The curve of each measure (of the last :meth:`plot` call).
    axes_ : ndarray of matplotlib Axes
        One axes per measure, in the order of ``metrics``.
    figure_ : matplotlib Figure
        Figure containing the plot.

    See Also
    --------
    TrainingDisplay : Measures against training epochs.

    References
    ----------
    .. [1] Nam, Mingard, Lee, Hayou, Louis. "Visualising feature learning in deep
       neural networks by diagonalizing the forward feature map", arXiv:2410.04264.
    .. [2] Wang, Yaras, Ji, Qu, Zhu. "Understanding deep representation learning
       via layerwise feature compression and discrimination", arXiv:2311.02960.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skfeat.plotting import LayerDisplay
    >>> display = LayerDisplay(
    ...     ["conv1", "conv2", "fc"],
    ...     {"D_lambda": [12.0, 6.5, 3.1], "quality_at_C": [4.2, 7.9, 9.6]},
    ... ).plot()
    >>> display.lines_["D_lambda"].get_ydata()
    array([12. ,  6.5,  3.1])
    >>> [t.get_text() for t in display.axes_[0].get_xticklabels()]
    ['conv1', 'conv2', 'fc']
    """

    def __init__(self, layers, metrics, *, name=None, depth=None):
        self.layers = layers
        self.metrics = metrics
        self.name = name
        self.depth = depth

    def plot(self, axes=None, *, metrics=None, name=None, **kwargs):
        """Draw one panel per measure.

        Parameters
        ----------
        axes : array-like of matplotlib Axes, default=None
            One axes per measure drawn; a new figure when None.
        metrics : list of str, default=None
            Which measures to draw (keys of ``metrics``); all when None.
        name : str, default=None
            Name in the legend; overrides the ``name`` given at construction.
        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : LayerDisplay
            This object, with the matplotlib artists stored.
        """
        layers = [str(layer) for layer in self.layers]
        if not layers:
            raise ValueError("LayerDisplay needs at least one layer.")
        if not isinstance(self.metrics, dict):
            raise TypeError(
                "metrics must be a dict of measure name to values per layer; "
                f"got {type(self.metrics).__name__}."
            )
        values = {}
        for metric, column in self.metrics.items():
            column = np.asarray(column, dtype=np.float64)
            if column.shape != (len(layers),):
                raise ValueError(
                    f"metric {metric!r} has shape {column.shape}; expected one "
                    f"value per layer, shape ({len(layers)},)."
                )
            values[metric] = column
        metrics = check_metrics(metrics, list(values), "LayerDisplay.plot")
        depth = np.arange(len(layers))
        if self.depth is not None:
            depth = np.asarray(self.depth, dtype=np.float64)
            if depth.shape != (len(layers),):
                raise ValueError(
                    f"depth has shape {depth.shape}; expected one position per "
                    f"layer, shape ({len(layers)},)."
                )
        # Checked before a figure exists: a failed call leaves no figure open.
        figure, axes = get_axes_grid(axes, len(metrics), "LayerDisplay.plot")
        name = self.name if name is None else name
        style = {"marker": "o"}
        style.update(kwargs)
        if name:
            style["label"] = name
        self.lines_ = {}
        for ax, metric in zip(axes, metrics):
            (self.lines_[metric],) = ax.plot(depth, values[metric], **style)
            set_value_scale(ax, metric, values[metric])
            ax.set_xticks(depth, layers, rotation=30 if len(layers) > 4 else 0)
            ax.set_xlabel("layer")
            ax.set_ylabel(metric_label(metric))
        if name:
            # One legend for the figure: every panel has the same runs.
            axes[0].legend()
        self.axes_ = axes
        self.figure_ = figure
        return self

    @classmethod
    def from_history(
        cls, history, *, epoch=None, metrics=None, name=None, axes=None, **plot_kwargs
    ):
        """Plot the measures per layer from a list of records.

        Parameters
        ----------
        history : list of dict or pandas DataFrame
            Records with a ``"layer"`` key and measures as numbers (e.g.
            ``FeatureTracker.history``); an ``"epoch"`` key is optional, and
            a ``"depth"`` key in every record places the layers by it.
        epoch : int, default=None
            Which epoch to draw when the records span several; the last one
            when None.
        metrics : list of str, default=None
            Which measures to draw; every numeric key when None.
        name : str, default=None
            Name of the run in the legend.
        axes : array-like of matplotlib Axes, default=None
            One axes per measure; a new figure when None.
        **plot_kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : LayerDisplay
            The display, drawn.
        """
        records = check_records(history, "LayerDisplay.from_history")
        if any("layer" not in record for record in records):
            raise ValueError(
                "LayerDisplay.from_history needs a 'layer' in every record."
            )
        epochs = [r["epoch"] for r in records if "epoch" in r]
        if epochs:
            chosen = max(epochs) if epoch is None else epoch
            if chosen not in epochs:
                raise ValueError(
                    f"no record has epoch={epoch!r}; epochs: {sorted(set(epochs))}."
                )
            records = [r for r in records if r.get("epoch") == chosen]
        layers = list(dict.fromkeys(r["layer"] for r in records))
        by_layer = {r["layer"]: r for r in records}
        available = numeric_metrics(records)
        metrics = check_metrics(metrics, available, "LayerDisplay.from_history")
        values = {
            m: [value_or_nan(by_layer[layer], m) for layer in layers] for m in metrics
        }
        # Records that know their depth (layerwise_report) are placed by it.
        depth = [by_layer[layer].get("depth") for layer in layers]
        if any(d is None for d in depth):
            depth = None
        display = cls(layers, values, name=name, depth=depth)
        return display.plot(axes=axes, **plot_kwargs)
