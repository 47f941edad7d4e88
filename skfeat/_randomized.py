"""Top eigenpairs of the uncentred second moment by randomized subspace iteration.

For very wide layers (``p`` in the tens of thousands) neither the ``p x p``
Gram matrix nor, with many samples, the ``n x n`` dual one fits the budget.
Randomized subspace iteration with a Nystrom read-out (Halko, Martinsson and
Tropp, 2011, algorithm 4.4; Tropp, Yurtsever, Udell and Cevher, 2017, for the
Nystrom step) finds the top eigenpairs of the operator ``G = X^T X / n``
itself from a few products ``G Q`` with a thin ``p x l`` block ``Q``,
``l = n_components + n_oversamples``:

1. ``Q``: an orthonormal basis of a Gaussian ``p x l`` matrix (``random_state``);
2. ``n_iter`` times: ``Q <- orth(G Q)`` (power iterations: each one raises
   the eigenvalue ratios that separate the top ``n_components`` from the rest
   to one more power);
3. one more product ``Y = G Q`` and the Nystrom approximation
   ``G ~ Y (Q^T Y)^+ Y^T``, whose eigenpairs come from an SVD of the
   ``p x l`` matrix ``Y (Q^T Y)^{-1/2}``.  It is never larger than ``G``
   (eigenvalues are approached from below) and is more accurate than the
   Rayleigh-Ritz values ``eig(Q^T Y)`` from the same pass.

Each product is one pass over the rows of ``X``
(:func:`skfeat._moments.gram_product`: ``chunk^T (chunk Q)`` per row chunk, so
``X Q`` is never held whole), ``n_iter + 1`` passes in all, in ``X``'s own
namespace and device (numpy, torch, cupy, a dask cluster).  Only the thin
``p x l`` blocks visit the host, where they are orthonormalised in float64.
Neither ``p x p`` nor ``n x n`` is ever formed.

One implementation serves every route: :func:`subspace_eigh` takes the
product ``Q -> X^T X Q`` as a function, so the in-memory route
(:func:`randomized_eigh`, one :func:`~skfeat._moments.gram_product` per
pass), the streamed one (:func:`skfeat.fit_from_batches`, one pass over a
re-iterable source of batches per product, :class:`GramProducts`) and the
single-pass sketch of ``partial_fit`` (:class:`NystromSketch`: ``Y = X^T X
Omega`` accumulated chunk by chunk for a fixed ``Omega``, the ``n_iter = 0``
case; Tropp et al. 2017) share the start block, the power iterations and
the Nystrom read-out (:func:`nystrom_eigh`).

Accuracy: the ``k``-th eigenvalue has relative error of order
``(lambda_{l+1} / lambda_k)^(2 n_iter + 1)``, so a spectrum that decays
between ``k`` and ``l`` converges in a few passes, and a flat one needs more
oversampling or iterations.  Measured on the benchmark matrix (2000 x 16000
float32, singular values ``s_j ~ 1/j``, so ``lambda_j ~ j^-2``; largest
relative error of the top 10 eigenvalues, ``n_oversamples=10``; printed by
``benchmarks/bench_scale.py``):

========  ======  ==========  ===================
n_iter    passes  rel. error  time vs full solver
========  ======  ==========  ===================
0         1       4e-1        65x faster
1         2       2e-2        12x faster
2         3       2e-3        7x faster
3         4       1e-4        6x faster
4         5       1e-5        5x faster (default)
6         7       1e-7        4x faster
========  ======  ==========  ===================

(the full solver is the exact dual route, ``n x n`` Gram and ``eigh``;
timings on 2 shared CPU cores, so only their order matters.)
"""

import numpy as np
import scipy.linalg
from sklearn.utils import check_random_state

from ._moments import gram_product
from .utils._array_api import (
    accumulation_dtype,
    from_host,
    is_dask,
    namespace_and_device,
    to_host,
)
from .utils._rank import spectrum_rtol

__all__ = [
    "GramProducts",
    "NystromSketch",
    "nystrom_eigh",
    "randomized_eigh",
    "start_block",
    "subspace_eigh",
]


def randomized_eigh(
    X, n_components, *, n_oversamples=10, n_iter=4, random_state=None, chunk_rows=None
):
    """Top eigenpairs of ``X^T X / n`` without forming a ``p x p`` matrix.

    Parameters
    ----------
    X : array or dask array of shape (n_samples, n_features)
        Features, in any array namespace; products run where ``X`` lives.
    n_components : int
        Number of eigenpairs wanted.
    n_oversamples : int, default=10
        Extra columns of the sketch; ``l = n_components + n_oversamples``
        (at most ``min(n_samples, n_features)``).
    n_iter : int, default=4
        Number of power iterations; the data is read ``n_iter + 1`` times.
    random_state : int, RandomState instance or None, default=None
        Seed of the Gaussian starting block.
    chunk_rows : int, default=None
        Rows per chunk of each pass.

    Returns
    -------
    eigenvalues : ndarray of shape (l,)
        Eigenvalues of the Nystrom approximation, largest first (float64,
        host), in units of ``scale ** 2``; the first ``n_components`` are the
        accurate ones.  Zeros past the numerical rank of the sketch.
    eigenvectors : ndarray of shape (n_features, l)
        Unit eigenvectors as columns (float64, host); zero columns go with
        zero eigenvalues.
    scale : float
        1, or the power of two the data was divided by to keep its squares in
        range (see :func:`skfeat._moments.gram_product`).

    References
    ----------
    .. [1] Halko, Martinsson, Tropp. "Finding structure with randomness:
       probabilistic algorithms for constructing approximate matrix
       decompositions", SIAM Review 53(2), 2011, algorithm 4.4.
    .. [3] Tropp, Yurtsever, Udell, Cevher. "Fixed-rank approximation of a
       positive-semidefinite matrix from streaming data", NeurIPS 2017.
    .. [2] Nam, Mingard, Lee, Hayou, Louis. "Visualising feature learning in deep
       neural networks by diagonalizing the forward feature map",
       arXiv:2410.04264.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat._randomized import randomized_eigh
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 40)) * 0.5 ** np.arange(40)
    >>> lam, V, scale = randomized_eigh(X, 3, random_state=0)
    >>> exact = np.linalg.eigvalsh(X.T @ X / 500)[::-1][:3]
    >>> bool(np.allclose(lam[:3], exact, rtol=1e-10))
    True
    """
    n, p = X.shape
    if is_dask(X):
        xp, device = np, None
    else:
        xp, device = namespace_and_device(X)

    def product(Q):
        Q = from_host(Q, xp, device, X.dtype)
        return gram_product(X, Q, chunk_rows, name="Phi")

    width = min(n_components + n_oversamples, n, p)
    lam, V, scale = subspace_eigh(
        product, start_block(p, width, random_state), n_iter, X.dtype
    )
    return lam / n, V, scale


def start_block(p, width, random_state):
    """Orthonormal basis (host float64, ``p x width``) of a Gaussian block."""
    rng = check_random_state(random_state)
    return orthonormal_basis(rng.standard_normal((p, width)))


def orthonormal_basis(Y):
    """Orthonormal basis ``Q`` (``p x l``) of the columns of a thin host block.

    Householder QR (LAPACK ``geqrf`` + ``orgqr``, as ``np.linalg.qr``, the
    same ``Q``) through SciPy's economic mode on a Fortran-ordered copy
    (``Y`` is never overwritten):
    half the time of ``np.linalg.qr`` on ``8192 x 55`` (9 vs 18-23 ms), which
    adds up over the ``n_iter + 1`` orthonormalisations of a randomized fit.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat._randomized import orthonormal_basis
    >>> Q = orthonormal_basis(np.array([[3.0, 1.0], [4.0, 2.0], [0.0, 5.0]]))
    >>> bool(np.allclose(Q.T @ Q, np.eye(2)))
    True
    """
    Q, _ = scipy.linalg.qr(
        np.array(Y, dtype=np.float64, order="F"),  # a copy: Y stays intact
        mode="economic",
        overwrite_a=True,
        check_finite=False,
    )
    return Q


def subspace_eigh(product, Q, n_iter, dtype):
    """Randomized subspace iteration with a Nystrom read-out, on any product.

    Parameters
    ----------
    product : callable
        ``product(Q)`` for a host float64 ``Q`` (``p x l``) returns ``(Z,
        scale)``: ``X^T X Q / scale^2`` (any namespace) and the power of two
        ``scale`` the data was divided by; one pass over the data.
    Q : ndarray of shape (p, l)
        Orthonormal start block (:func:`start_block`).
    n_iter : int
        Power iterations: ``n_iter + 1`` calls of ``product``.
    dtype : dtype
        The data's dtype (it sets the rounding floor of the products).

    Returns
    -------
    eigenvalues, eigenvectors, scale
        Eigenpairs of the Nystrom approximation of ``X^T X`` (not divided by
        ``n``), eigenvalues in units of ``scale ** 2``, as
        :func:`nystrom_eigh`.
    """
    scales = []

    def times_gram(Q):
        Z, scale = product(Q)
        Z = to_host(Z)
        if scales and scale != scales[0]:  # pragma: no cover - same X each pass
            Z = Z * (scale / scales[0]) ** 2
        scales.append(scales[0] if scales else scale)
        return Z

    for _ in range(n_iter):
        Q = orthonormal_basis(times_gram(Q))
    Y = times_gram(Q)
    lam, V = nystrom_eigh(Q, Y, dtype)
    return lam, V, scales[0]


def nystrom_eigh(Q, Y, dtype):
    """Eigenpairs of the Nystrom approximation ``Y (Q^T Y)^+ Y^T`` of ``G``.

    ``Q`` (``p x l``, orthonormal) and ``Y = G Q``, host float64; ``G`` any
    positive semi-definite operator (here ``X^T X``).  Never larger than
    ``G`` (eigenvalues approached from below), more accurate than the
    Rayleigh-Ritz values ``eig(Q^T Y)``.  The pseudo-inverse square root of
    ``Q^T Y`` drops the directions below the rounding floor of the products
    of data of ``dtype`` (float32: ``eps32``): they carry rounding only.

    Returns
    -------
    eigenvalues : ndarray of shape (l,)
        Largest first; zeros past the numerical rank of the sketch.
    eigenvectors : ndarray of shape (p, l)
        Unit eigenvectors as columns; zero columns go with zero eigenvalues.
    """
    if not np.all(np.isfinite(Y)):
        raise ValueError("Phi contains NaN or infinity.")
    p, width = Q.shape
    M = Q.T @ Y
    m, W = np.linalg.eigh((M + M.T) / 2)
    keep = m > max(m[-1], 0.0) * spectrum_rtol(dtype, width)
    if not np.any(keep):
        return np.zeros(width), Q
    B = Y @ (W[:, keep] / np.sqrt(m[keep]))
    U, s, _ = np.linalg.svd(B, full_matrices=False)
    lam = np.zeros(width)
    lam[: s.size] = s**2
    V = np.zeros((p, width))
    V[:, : s.size] = U
    return lam, V


class _ScaledSum:
    """Sum of products ``Z_b / s_b^2`` in units of the largest scale so far.

    Scales are powers of two (:func:`~skfeat._moments.gram_product`), so
    bringing a term to a common scale is exact.
    """

    def __init__(self):
        self.total = None
        self.scale = 1.0

    def add(self, Z, scale):
        if self.total is None:
            self.total, self.scale = Z, scale
        elif scale > self.scale:
            self.total = self.total * (self.scale / scale) ** 2 + Z
            self.scale = scale
        else:
            self.total = self.total + Z * (scale / self.scale) ** 2
        return self


class GramProducts:
    """``Q -> X^T X Q``, one pass over the batches of a re-iterable source.

    The streamed product of :func:`subspace_eigh` (used by
    :func:`skfeat.fit_from_batches`): each call reads every batch once,
    adds ``batch^T (batch Q)`` (:func:`~skfeat._moments.gram_product`, where
    the batch lives, range-safe) and checks that every pass sees the same
    number of rows.

    Parameters
    ----------
    passes : callable
        ``passes()`` returns a fresh iterator of batches (already validated
        by ``check``).
    check : callable
        ``check(batch, first)`` validates one batch and returns it;
        ``first`` is True for the very first batch of the first pass.
    """

    def __init__(self, passes, check):
        self.passes = passes
        self.check = check
        self.n_samples = None
        self.last = None

    def __call__(self, Q):
        total, rows, cache = _ScaledSum(), 0, {}
        for batch in self.passes():
            batch = self.check(batch, self.last is None)
            self.last = batch
            key = (
                str(batch.dtype),
                type(batch).__module__,
                str(getattr(batch, "device", None)),
            )
            if key not in cache:
                if is_dask(batch):
                    cache[key] = Q.astype(batch.dtype)
                else:
                    xp, device = namespace_and_device(batch)
                    cache[key] = from_host(Q, xp, device, batch.dtype)
            total.add(*gram_product(batch, cache[key], name="Phi"))
            rows += batch.shape[0]
        if self.n_samples is None:
            self.n_samples = rows
        elif rows != self.n_samples:
            raise ValueError(
                f"The batches held {self.n_samples} rows on the first pass and "
                f"{rows} on a later one: a source read more than once "
                "(solver='randomized', n_iter > 0) must give the same rows on "
                "every pass."
            )
        if total.total is None:
            raise ValueError("fit_from_batches got no batch: the iterable is empty.")
        return total.total, total.scale


class NystromSketch:
    """Single-pass streaming Nystrom sketch ``Y = X^T X Omega`` (Tropp et al. 2017).

    For a fixed orthonormal test matrix ``Omega`` (``p x l``, from
    :func:`start_block`), ``Y`` is a sum over rows, so it is accumulated
    chunk by chunk (``partial_fit``) in ``O(p l)`` memory, on the data's
    device in its accumulation dtype; :meth:`eigh` gives the eigenpairs of
    the Nystrom approximation at any time (:func:`nystrom_eigh`: the
    ``n_iter = 0`` case of :func:`subspace_eigh`).  Exact for a ``G`` of rank
    at most ``l``; otherwise accurate to about ``lambda_{l+1} / lambda_k``
    relative, so a decaying spectrum wants ``n_oversamples`` well above the
    decay length.

    Parameters
    ----------
    omega : ndarray of shape (p, l)
        Orthonormal test matrix (host float64).

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat._randomized import NystromSketch, start_block
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 30)) * 0.3 ** np.arange(30)
    >>> sketch = NystromSketch(start_block(30, 12, 0))
    >>> for i in range(0, 300, 100):
    ...     sketch = sketch.update(X[i : i + 100])
    >>> lam, V, scale = sketch.eigh()
    >>> exact = np.linalg.eigvalsh(X.T @ X / 300)[::-1][:3]
    >>> bool(np.allclose(lam[:3] / 300, exact, rtol=1e-8))
    True
    """

    def __init__(self, omega):
        self.omega = omega
        self.n_samples = 0
        self.dtype = None
        self._sum = _ScaledSum()
        self._omega_dev = None

    @classmethod
    def from_eigenpairs(cls, omega, gram_eigenvalues, V, like):
        """Return the sketch of ``G = V diag(gram_eigenvalues) V^T`` (``p x k``).

        For continuing a fit from its kept eigenpairs: ``Y = V (lam (V^T
        Omega))``, never ``p x p``; ``like`` (an array) fixes the namespace,
        device and dtype of the accumulation.
        """
        sketch = cls(omega)
        top = float(np.max(gram_eigenvalues)) if gram_eigenvalues.size else 0.0
        scale = 2.0 ** round(0.5 * np.log2(top)) if top > 0 else 1.0
        Y = V @ ((gram_eigenvalues / scale**2)[:, None] * (V.T @ omega))
        xp, device = namespace_and_device(like)
        sketch._sum.add(from_host(Y, xp, device, accumulation_dtype(xp, device)), scale)
        sketch.dtype = like.dtype
        return sketch

    def update(self, X):
        """Add the rows of a validated chunk ``X``; returns ``self``.

        The accumulated arrays are replaced, never changed in place, so
        ``copy.copy(sketch).update(X)`` leaves ``sketch`` as it was (a failed
        ``partial_fit`` leaves its estimator unchanged).
        """
        xp, device = (np, None) if is_dask(X) else namespace_and_device(X)
        omega = self._omega_dev
        device_of = lambda a: str(getattr(a, "device", None))  # noqa: E731
        if omega is None or omega.dtype != X.dtype or device_of(omega) != device_of(X):
            omega = (
                self.omega.astype(X.dtype)
                if is_dask(X)
                else from_host(self.omega, xp, device, X.dtype)
            )
        Z, scale = gram_product(X, omega, name="Phi")
        total = _ScaledSum()
        total.total, total.scale = self._sum.total, self._sum.scale
        self._sum = total.add(Z, scale)
        self._omega_dev = omega
        self.n_samples += X.shape[0]
        self.dtype = X.dtype
        return self

    def eigh(self):
        """Eigenpairs of the Nystrom approximation of ``X^T X`` (not ``/ n``).

        Returns ``(eigenvalues, eigenvectors, scale)`` as :func:`subspace_eigh`.
        """
        lam, V = nystrom_eigh(self.omega, to_host(self._sum.total), self.dtype)
        return lam, V, self._sum.scale
