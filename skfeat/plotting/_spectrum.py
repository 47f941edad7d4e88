"""SpectrumDisplay: eigenvalues of a feature map on a log scale."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from skfeat.metrics._dimension import eigenvalue_dimension
from skfeat.utils._validation import check_vector

from ._base import (
    check_n_classes,
    get_axes,
    has_reference,
    legend,
    reference_gid,
    set_index_scale,
)

__all__ = ["SpectrumDisplay"]


class SpectrumDisplay:
    """Eigenvalue spectrum of a feature map, with ``k = C`` and ``D_lambda``.

    Draws the eigenvalues ``lambda_1 >= lambda_2 >= ...`` of the uncentred
    second moment ``Phi^T Phi / n`` against their index ``k`` on a log scale
    as ``D_lambda`` reads them: by default the shares
    ``lambda_k / sum_{j>=2} lambda_j`` from ``k = 2`` on, with ``lambda_1``
    (the near-constant eigenfunction) marked apart; marks ``k = C`` (the
    number of classes: in the minimal-feature regime about ``C`` eigenvalues
    stand out) and puts the effective dimension ``D_lambda`` in the legend.
    Call :meth:`plot` again with ``ax=display.ax_`` to compare several runs
    (e.g. trained and frozen features) on one axes.

    Use :meth:`from_estimator` (a fitted
    :class:`~skfeat.FeatureSpectrum`) or :meth:`from_eigenvalues` to create one.

    Parameters
    ----------
    eigenvalues : array-like of shape (k,)
        Nonnegative eigenvalues, largest first.
    n_classes : int, default=None
        Number of classes ``C`` (or target dimensions); marked by a vertical
        line at ``k = C`` when given.
    effective_dimension : float, default=None
        ``D_lambda`` for the legend; computed from ``eigenvalues`` with
        :func:`~skfeat.metrics.eigenvalue_dimension` when None.
    name : str, default=None
        Name of the run, shown in the legend.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The eigenvalue curve.
    class_line_ : matplotlib Line2D or None
        The vertical line at ``k = C`` (None when not drawn on this call).
    ax_ : matplotlib Axes
        Axes with the plot.
    figure_ : matplotlib Figure
        Figure containing the plot.

    See Also
    --------
    skfeat.FeatureSpectrum : Computes the spectrum.
    ProjectionDisplay : Cumulative quality and utility curves.

    References
    ----------
    .. [1] Nam, Mingard, Lee, Hayou, Louis. "Visualising feature learning in deep
       neural networks by diagonalizing the forward feature map", arXiv:2410.04264.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skfeat import FeatureSpectrum
    >>> from skfeat.plotting import SpectrumDisplay
    >>> rng = np.random.default_rng(0)
    >>> Phi = rng.normal(size=(300, 20)) * 0.7 ** np.arange(20)
    >>> display = SpectrumDisplay.from_estimator(
    ...     FeatureSpectrum().fit(Phi), n_classes=3, name="toy"
    ... )
    >>> display.line_.get_xdata()[:3]  # from k = 2: lambda_1 is marked apart
    array([2, 3, 4])
    >>> display.ax_.get_yscale()
    'log'
    """

    def __init__(
        self, eigenvalues, *, n_classes=None, effective_dimension=None, name=None
    ):
        self.eigenvalues = eigenvalues
        self.n_classes = n_classes
        self.effective_dimension = effective_dimension
        self.name = name

    def plot(
        self,
        ax=None,
        *,
        name=None,
        drop_first=True,
        normalize=False,
        xscale="linear",
        **kwargs,
    ):
        """Draw the spectrum.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure and axes when None.
        name : str, default=None
            Name in the legend; overrides the ``name`` given at construction.
        drop_first : bool, default=True
            Draw the spectrum as ``D_lambda`` reads it: the shares
            ``lambda_k / sum_{j>=2} lambda_j`` for ``k >= 2``, with ``lambda_1``
            (the near-constant eigenfunction of a trained network) marked apart
            by a hollow marker at ``k = 1`` and its share of ``tr G`` in the
            legend.  A few dominant features then show as a steep drop after
            ``k = C``, extended features as a slow decay, whatever share
            ``lambda_1`` takes.  ``False``: every eigenvalue on one curve.
        normalize : bool, default=False
            With ``drop_first=False``: divide the eigenvalues by their sum
            (share of ``tr G``), so that runs with different feature scales can
            be compared.  ``D_lambda`` does not change.
        xscale : {"linear", "log"}, default="linear"
            Scale of the index axis; ``"log"`` shows a power-law decay as a line.
        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot` for the curve.

        Returns
        -------
        display : SpectrumDisplay
            This object, with the matplotlib artists stored.
        """
        # Everything is checked before a figure exists: a failed call leaves
        # no figure open.
        raw = check_vector(self.eigenvalues, "eigenvalues")
        if np.any(raw < 0):
            raise ValueError(
                f"eigenvalues must be nonnegative; got min = {raw.min():g}."
            )
        if not np.any(raw > 0):
            raise ValueError("eigenvalues has no positive entry; nothing to draw.")
        n_classes = check_n_classes(self.n_classes)
        dimension = self.effective_dimension
        if dimension is None:
            dimension = eigenvalue_dimension(raw)
        # Divided by the largest first: sums near the float maximum overflow.
        lam = raw / raw.max()
        name = self.name if name is None else name
        label = rf"$D_\lambda$ = {dimension:.1f}"
        k = np.arange(1, lam.size + 1)
        first = None
        if drop_first and lam.size > 1 and lam[1:].sum() > 0:
            rest = lam[1:].sum()
            first = lam[0] / rest
            label += rf", $\lambda_1$ {lam[0] / lam.sum():.0%} of tr $G$"
            k, lam = k[1:], lam[1:] / rest
            ylabel = r"share $\lambda_k \,/\, \Sigma_{j \geq 2} \lambda_j$"
        elif normalize or drop_first:
            # (A single positive eigenvalue: its share, 1, drawn at k = 1.)
            lam = lam / lam.sum()
            ylabel = r"eigenvalue share $\lambda_k \,/\, \Sigma_j \lambda_j$"
        else:
            lam = raw
            shown = raw[raw > 0]
            if shown.max() > 1e300 or shown.min() < 1e-300:
                # matplotlib's log locator overflows beyond ~1e300.
                raise ValueError(
                    f"eigenvalues from {shown.min():.3g} to {shown.max():.3g} are "
                    "beyond what a log axis draws; pass normalize=True (shares of "
                    "the trace) or drop_first=True."
                )
            ylabel = r"eigenvalue $\lambda_k$"
        if name:
            label = f"{name} ({label})"
        figure, ax = get_axes(ax, "SpectrumDisplay.plot")
        # Markers help to count the first few k; on hundreds of points they blur.
        markersize = 3 if lam.size <= 50 else 0
        style = {"marker": "o", "markersize": markersize, "label": label}
        style.update(kwargs)
        # Zero eigenvalues cannot sit on a log axis: leave them out of the curve.
        positive = lam > 0
        (self.line_,) = ax.plot(k[positive], lam[positive], **style)
        self.first_marker_ = None
        if first is not None:
            (self.first_marker_,) = ax.plot(
                [1],
                [first],
                linestyle="none",
                marker="o",
                markerfacecolor="none",
                color=self.line_.get_color(),
            )
        ax.set_yscale("log")
        _keep_visible_range(ax)
        set_index_scale(ax, xscale)
        ax.set_xlabel("index $k$")
        ax.set_ylabel(ylabel)
        self.class_line_ = None
        if n_classes is not None and not has_reference(ax, "k=C"):
            self.class_line_ = ax.axvline(
                n_classes,
                color="0.4",
                linestyle=":",
                linewidth=1,
                label=f"$k = C = {n_classes}$",
                gid=reference_gid("k=C"),
            )
        if not ax.get_title():
            ax.set_title("Spectrum of the feature map")
        legend(ax)
        self.ax_ = ax
        self.figure_ = figure
        return self

    @classmethod
    def from_estimator(
        cls, estimator, *, n_classes=None, name=None, ax=None, **plot_kwargs
    ):
        """Plot the spectrum of a fitted :class:`~skfeat.FeatureSpectrum`.

        Parameters
        ----------
        estimator : FeatureSpectrum or Pipeline
            A fitted :class:`~skfeat.FeatureSpectrum`, or a fitted pipeline
            whose last step is one.
        n_classes : int, default=None
            Number of classes ``C``, marked at ``k = C``.
        name : str, default=None
            Name of the run in the legend.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure and axes when None.
        **plot_kwargs : dict
            Passed to :meth:`plot` (``normalize``, ``xscale``, line style).

        Returns
        -------
        display : SpectrumDisplay
            The display, drawn.
        """
        spectrum = _final_spectrum(estimator)
        check_is_fitted(spectrum)
        display = cls(
            spectrum.eigenvalues_,
            n_classes=n_classes,
            effective_dimension=spectrum.effective_dimension_,
            name=name,
        )
        return display.plot(ax=ax, **plot_kwargs)

    @classmethod
    def from_eigenvalues(
        cls, eigenvalues, *, n_classes=None, name=None, ax=None, **plot_kwargs
    ):
        """Plot a spectrum given as eigenvalues.

        Parameters
        ----------
        eigenvalues : array-like of shape (k,)
            Nonnegative eigenvalues, largest first.
        n_classes : int, default=None
            Number of classes ``C``, marked at ``k = C``.
        name : str, default=None
            Name of the run in the legend.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure and axes when None.
        **plot_kwargs : dict
            Passed to :meth:`plot` (``normalize``, ``xscale``, line style).

        Returns
        -------
        display : SpectrumDisplay
            The display, drawn.
        """
        display = cls(eigenvalues, n_classes=n_classes, name=name)
        return display.plot(ax=ax, **plot_kwargs)


def _keep_visible_range(ax):
    """Give a (near-)flat set of curves a visible log range, without a warning.

    Values equal to within a few ulps give matplotlib a zero-height range to
    expand, which it does with a warning; the range is then set explicitly.
    """
    values = np.concatenate(
        [np.asarray(line.get_ydata(), dtype=np.float64) for line in ax.get_lines()]
    )
    values = values[np.isfinite(values) & (values > 0)]
    if values.size and values.max() <= values.min() * (1 + 1e-6):
        ax.set_ylim(values.min() / 2, values.max() * 2)


def _final_spectrum(estimator):
    """Return the fitted spectrum itself, or the last step of a pipeline.

    Duck-typed: anything with fitted ``eigenvalues_`` and
    ``effective_dimension_``.
    """
    if hasattr(estimator, "steps"):
        estimator = estimator.steps[-1][1]
    if not callable(getattr(estimator, "projection_measures", None)):
        raise TypeError(
            "expected a fitted FeatureSpectrum (or a Pipeline ending in one); "
            f"got {type(estimator).__name__}."
        )
    return estimator
