"""Out-of-core fitting: the spectrum of features that never sit in memory at once.

:meth:`FeatureSpectrum.partial_fit` solves the ``p x p`` eigenproblem after
every chunk so that its attributes are always current; over a long stream that
``eigh`` per chunk dominates.  :func:`fit_from_batches` runs the same
accumulation (:class:`skfeat._moments.Moments`, float64 ``Phi^T Phi``) over
any iterable of feature batches -- row slices of an ``np.memmap``, the output
of a torch feature extractor batch by batch, chunks read from disk -- and
solves once at the end.  Peak extra memory is the ``p x p`` accumulator plus
one batch: ``O(p^2 + batch * p)``.
"""

from numbers import Integral

from sklearn.base import clone
from sklearn.utils._param_validation import Interval, validate_params

from ._moments import Moments
from ._spectrum import FeatureSpectrum
from .utils._rows import row_chunks

__all__ = ["fit_from_batches"]


@validate_params(
    {
        "batches": [object],
        "spectrum": [FeatureSpectrum, None],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def fit_from_batches(batches, spectrum=None, *, batch_size=None):
    """Fit a :class:`FeatureSpectrum` over batches of features, in one pass.

    Equivalent to ``spectrum.fit(concatenate(batches))`` with the Gram route
    (to float rounding), but only one batch is in memory at a time and the
    eigenproblem is solved once, after the last batch.

    Parameters
    ----------
    batches : iterable of array-like, or a 2-D array
        Batches of features, each of shape (n_batch, n_features), in any
        array namespace (numpy, torch, array-api-strict, dask, scipy sparse).
        A 2-D array (typically an ``np.memmap`` or ``np.load(..., mmap_mode="r")``)
        is read in row slices of ``batch_size`` rows.
    spectrum : FeatureSpectrum, default=None
        Unfitted template whose parameters are used (it is cloned, not
        modified); ``FeatureSpectrum()`` when None.  Its ``solver`` must be
        ``"auto"`` or ``"gram"``.
    batch_size : int, default=None
        Rows per slice when ``batches`` is a 2-D array; by default about 4 Mi
        elements.  Ignored for an iterable.

    Returns
    -------
    spectrum : FeatureSpectrum
        The fitted estimator (``n_samples_seen_`` = total number of rows).

    Raises
    ------
    ValueError
        If there is no batch, fewer than 2 rows in all, batches of different
        widths, or NaN / infinity in a batch.

    See Also
    --------
    FeatureSpectrum.partial_fit : The same accumulation, solved after each chunk.

    References
    ----------
    .. [1] Nam, Mingard, Lee, Hayou, Louis. "Visualising feature learning in deep
       neural networks by diagonalizing the forward feature map",
       arXiv:2410.04264.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat import FeatureSpectrum, fit_from_batches
    >>> rng = np.random.default_rng(0)
    >>> Phi = rng.normal(size=(1000, 8))
    >>> streamed = fit_from_batches(Phi[i : i + 100] for i in range(0, 1000, 100))
    >>> in_memory = FeatureSpectrum().fit(Phi)
    >>> bool(np.allclose(streamed.eigenvalues_, in_memory.eigenvalues_))
    True
    >>> fit_from_batches(Phi, batch_size=256).n_samples_seen_
    1000
    """
    spectrum = FeatureSpectrum() if spectrum is None else clone(spectrum)
    spectrum._validate_params()
    if spectrum.solver not in ("auto", "gram"):
        raise ValueError(
            "fit_from_batches accumulates Phi^T Phi and needs solver='auto' or "
            f"'gram'; got solver={spectrum.solver!r}."
        )
    if getattr(batches, "ndim", None) == 2:
        array = batches
        batches = (
            array[rows, ...]
            for rows in row_chunks(array.shape[0], array.shape[1], batch_size)
        )
    moments = Moments(with_sums=False, name="Phi")
    last = None
    for batch in batches:
        # Finiteness is checked on each batch's X^T X by Moments.update.
        last = spectrum._validate(batch, reset=last is None, min_samples=1)
        moments.update(last)
    if last is None:
        raise ValueError("fit_from_batches got no batch: the iterable is empty.")
    if moments.n_samples < 2:
        raise ValueError(
            f"fit_from_batches needs at least 2 samples in all; got "
            f"{moments.n_samples}."
        )
    return spectrum._fit_from_moments(moments, last)
