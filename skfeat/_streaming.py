"""Out-of-core fitting: the spectrum of features that never sit in memory at once.

:meth:`FeatureSpectrum.partial_fit` solves the ``p x p`` eigenproblem after
every chunk so that its attributes are always current; over a long stream that
``eigh`` per chunk dominates.  :func:`fit_from_batches` runs the same
accumulation (:class:`skfeat._moments.Moments`, float64 ``Phi^T Phi``) over
any iterable of feature batches -- row slices of an ``np.memmap``, the output
of a torch feature extractor batch by batch, chunks read from disk -- and
solves once at the end.  Peak extra memory is the ``p x p`` accumulator plus
one batch: ``O(p^2 + batch * p)``.

For wide layers, ``solver="randomized"`` streams the randomized subspace
iteration of :mod:`skfeat._randomized` instead: a fixed sketch, one pass over
the batches per product ``X^T X Q`` (``n_iter + 1`` passes), ``O(p l + batch
* p)`` memory and never a ``p x p`` matrix.  The same implementation as the
in-memory ``fit`` (:func:`~skfeat._randomized.subspace_eigh`), so the result
equals ``FeatureSpectrum(..., solver="randomized").fit`` on the concatenated
rows to float rounding.
"""

import itertools
from numbers import Integral

from sklearn.base import clone
from sklearn.utils._param_validation import Interval, validate_params

from ._moments import Moments
from ._randomized import GramProducts, start_block, subspace_eigh
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
    """Fit a :class:`FeatureSpectrum` over batches of features, out of core.

    Equivalent to ``spectrum.fit(concatenate(batches))`` (to float
    rounding), but only one batch is in memory at a time.

    - ``solver="auto"`` or ``"gram"``: one pass accumulating ``Phi^T Phi``
      (``p x p``, float64), solved once after the last batch (the Gram
      route).
    - ``solver="randomized"`` (wide layers; an int ``n_components``): the
      randomized subspace iteration of ``fit``, streamed: a fixed sketch
      drawn from ``random_state``, ``n_iter + 1`` passes over the batches
      (one per product ``Phi^T Phi Q``), ``O(p (n_components +
      n_oversamples))`` memory besides one batch.  The same numbers as
      ``spectrum.fit`` on the concatenated rows.  ``n_iter=0`` is a
      single-pass sketch (any iterable, a one-shot generator included).

    Parameters
    ----------
    batches : 2-D array, callable, or iterable of array-like
        Batches of features, each of shape (n_batch, n_features), in any
        array namespace (numpy, torch, array-api-strict, dask, scipy sparse).
        Accepted sources:

        - a 2-D array (typically an ``np.memmap`` or
          ``np.load(..., mmap_mode="r")``), read in row slices of
          ``batch_size`` rows;
        - a callable taking no argument that returns a fresh iterable of
          batches on every call (e.g. ``lambda: extractor_batches(loader)``);
        - an iterable that is not an iterator (a list, a tuple, any object
          whose ``__iter__`` starts over): iterated anew, ``iter(batches)``,
          for each pass;
        - an iterator (a generator, ``iter(...)``): read once, so only for a
          single pass (the Gram route, or ``n_iter=0``); with more passes it
          is refused with a ValueError before anything is read.

        Every pass must give the same rows (in any batching; a mismatch in
        the row count is an error).
    spectrum : FeatureSpectrum, default=None
        Unfitted template whose parameters are used (it is cloned, not
        modified); ``FeatureSpectrum()`` when None.  Its ``solver`` must be
        ``"auto"``, ``"gram"`` or ``"randomized"``.
    batch_size : int, default=None
        Rows per slice when ``batches`` is a 2-D array; by default about 4 Mi
        elements.  Ignored otherwise.

    Returns
    -------
    spectrum : FeatureSpectrum
        The fitted estimator (``n_samples_seen_`` = total number of rows).

    Raises
    ------
    ValueError
        If there is no batch, fewer than 2 rows in all, batches of different
        widths, NaN / infinity in a batch, a one-shot iterator for several
        passes, or passes of different lengths.

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

    A wide layer, streamed through the randomized route (five passes over a
    re-iterable source):

    >>> wide = rng.normal(size=(300, 2000)) * 0.9 ** np.arange(2000)
    >>> template = FeatureSpectrum(5, solver="randomized", random_state=0)
    >>> source = [wide[i : i + 100] for i in range(0, 300, 100)]
    >>> streamed = fit_from_batches(source, template)
    >>> bool(np.allclose(streamed.eigenvalues_, template.fit(wide).eigenvalues_))
    True
    """
    spectrum = FeatureSpectrum() if spectrum is None else clone(spectrum)
    spectrum._validate_params()
    if spectrum.solver not in ("auto", "gram", "randomized"):
        raise ValueError(
            "fit_from_batches accumulates Phi^T Phi (solver='auto' or 'gram') or "
            "streams the randomized sketch (solver='randomized'); got "
            f"solver={spectrum.solver!r}."
        )
    if spectrum.solver == "randomized":
        return _fit_randomized(spectrum, batches, batch_size)
    moments = Moments(with_sums=False, name="Phi")
    last = None
    for batch in _passes(batches, batch_size, 1)():
        # Finiteness is checked on each batch's X^T X by Moments.update.
        last = spectrum._validate(batch, reset=last is None, min_samples=1)
        moments.update(last)
    if last is None:
        raise ValueError("fit_from_batches got no batch: the iterable is empty.")
    _check_count(moments.n_samples)
    return spectrum._fit_from_moments(moments, last)


def _check_count(n_samples):
    if n_samples < 2:
        raise ValueError(
            f"fit_from_batches needs at least 2 samples in all; got {n_samples}."
        )


def _passes(batches, batch_size, n_passes):
    """Return ``passes()``, a fresh iterator of batches for each of ``n_passes``."""
    if getattr(batches, "ndim", None) == 2:
        array = batches
        return lambda: (
            array[rows, ...]
            for rows in row_chunks(array.shape[0], array.shape[1], batch_size)
        )
    if callable(batches):
        return lambda: iter(batches())
    if iter(batches) is not batches:
        return lambda: iter(batches)
    if n_passes > 1:
        raise ValueError(
            f"solver='randomized' with n_iter={n_passes - 1} reads the batches "
            f"{n_passes} times, but they come from a one-shot iterator (a "
            "generator): pass a 2-D array or memmap, a list, an iterable that "
            "can be iterated again, or a callable returning a "
            "fresh iterable; or n_iter=0 for a single-pass sketch."
        )
    used = []

    def once():
        if used:  # pragma: no cover - callers read a one-shot source once
            raise ValueError("A one-shot iterator of batches can be read once.")
        used.append(True)
        return batches

    return once


def _fit_randomized(spectrum, batches, batch_size):
    """Fit by the shared :func:`subspace_eigh`, one pass over the batches a product."""
    nc = spectrum._randomized_components()
    passes = _passes(batches, batch_size, spectrum.n_iter + 1)
    # The first batch fixes p (the sketch's height); it is read once, and the
    # first pass continues from it.
    first_pass = iter(passes())
    first = next(first_pass, None)
    if first is None:
        raise ValueError("fit_from_batches got no batch: the iterable is empty.")
    first = spectrum._validate(first, reset=True, min_samples=1)
    started = [itertools.chain([first], first_pass)]

    def next_pass():
        return started.pop() if started else passes()

    def check(batch, is_first):
        if is_first:
            return batch
        return spectrum._validate(batch, reset=False, min_samples=1)

    product = GramProducts(next_pass, check)
    p = first.shape[1]
    spectrum._randomized_components(p)
    n_rows = getattr(batches, "shape", (None,))[0]
    width = min(nc + spectrum.n_oversamples, p, n_rows or p)
    lam, V, scale = subspace_eigh(
        product,
        start_block(p, width, spectrum.random_state),
        spectrum.n_iter,
        first.dtype,
    )
    _check_count(product.n_samples)
    return spectrum._fit_from_eigh(
        lam / product.n_samples, V, scale, product.n_samples, product.last
    )
