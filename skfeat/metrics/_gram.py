"""Small-matrix algebra shared by the measures: bases and projections from Grams.

Every measure of sections 2-4 and 7 of the spec is computed in two steps: one
pass over the rows of ``[E | Y | F]`` (or ``[Phi | Y | F]``, ``[H | Y]``)
accumulates the uncentred Gram matrix and the column sums
(:class:`skfeat._moments.Moments`), then the functions here work on the small
float64 blocks on the host.  No sample x sample matrix is ever formed.

The Gram blocks are read in the units of each block's scale (see
:mod:`skfeat._moments`): every measure here is invariant to rescaling a block
(spans, projections, correlations), so extreme magnitudes give the same
result as moderate ones.  Rank decisions follow :mod:`skfeat.utils._rank`.
"""

import math
import warnings

import numpy as np
import scipy.linalg
from scipy.linalg import solve_triangular

from skfeat._eigh import device_eigh, device_eigvalsh
from skfeat._moments import Moments, sample_moments
from skfeat.utils._array_api import from_host, namespace_and_device, to_host
from skfeat.utils._rank import EPS64, dtype_eps, span_rtol, spectrum_rtol

__all__ = [
    "GramBlocks",
    "centred_cka",
    "constant_representation_cka",
    "in_order_basis",
    "kernel_projection",
    "linearity_from_moments",
    "lost_digits",
    "projection_profile",
    "sample_side_linearity",
    "span_basis",
]


class GramBlocks:
    """Float64 Gram matrix and column sums of ``[B_1 | B_2 | ...]``, where they live.

    One pass over the rows, where the data lives (see
    :class:`~skfeat._moments.Moments`); ``block(i, j)`` gives a block on the
    host, ``device_block(i, j)`` where the accumulator lives (a GPU: the
    ``p x p`` data block is reduced there, only small results cross).
    Block 0 is the data (products in its dtype); the others are side blocks
    (targets, outputs) whose own products are exact.

    Parameters
    ----------
    *blocks : arrays of shape (m, d_i)
        Same namespace, device and number of rows.
    name : str, default="Input"
        What the data is called in error messages.

    Attributes
    ----------
    gram : array of shape (d, d)
        Uncentred ``B^T B`` in float64 (the accumulation dtype of the data's
        device), each block in units of a power of two near its
        root-mean-square size (every measure here is invariant to a block's
        scale).
    sums : array of shape (d,)
        Column sums, in the same units.
    n_samples : int
        ``m``.
    """

    def __init__(self, *blocks, name="Input"):
        moments = Moments(name=name).update(*blocks)
        self._set(moments, [b.dtype for b in blocks])

    @classmethod
    def from_moments(cls, moments, dtypes):
        """Gram blocks of moments accumulated elsewhere (streaming, batches).

        Parameters
        ----------
        moments : Moments
            With sums (``with_sums=True``), blocks ``[D | S_1 | ...]``.
        dtypes : sequence of dtypes
            The dtype of each block's data (it sets the rank rules).

        Returns
        -------
        grams : GramBlocks
            The same object as ``GramBlocks(*blocks)`` on all the rows.
        """
        grams = cls.__new__(cls)
        grams._set(moments, list(dtypes))
        return grams

    def _set(self, moments, dtypes):
        self.n_samples = moments.n_samples
        self._dtypes = dtypes
        edges = np.cumsum([0, *moments.widths])
        self._slices = [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]
        # Each block in units of a power of two near its root-mean-square
        # size: the measures do not depend on a block's scale, and the small
        # algebra (norms of Grams, eigendecompositions) then never meets
        # squares of 1e200 that overflow float64.  Only the diagonal (a
        # vector) visits the host to choose the factors.
        gram, sums = moments.gram, moments.sums
        xp, device = namespace_and_device(gram)
        d = gram.shape[0]
        diag = to_host(xp.reshape(gram, (-1,))[:: d + 1])
        factors = np.ones(d)
        for block in self._slices:
            top = float(diag[block].max()) / max(self.n_samples, 1)
            if top > 0:
                factors[block] = 2.0 ** round(0.5 * np.log2(top))
        f = from_host(factors, xp, device, gram.dtype)
        self.gram = gram / (f[:, None] * f[None, :])
        self.sums = sums / f

    def device_block(self, i, j):
        """Return the ``(i, j)`` block where the accumulator lives."""
        return self.gram[self._slices[i], self._slices[j]]

    def device_block_sums(self, i):
        """Return the column sums of block ``i`` where the accumulator lives."""
        return self.sums[self._slices[i]]

    def block(self, i, j):
        """Return the ``(i, j)`` block of the Gram matrix (host float64)."""
        return np.asarray(to_host(self.device_block(i, j)), dtype=np.float64)

    def block_sums(self, i):
        """Return the column sums of block ``i`` (host float64)."""
        return np.asarray(to_host(self.device_block_sums(i)), dtype=np.float64)

    def reduced(self, coef, j=None):
        """``coef^T G_00 coef`` or ``coef^T G_0j`` where the Gram lives, on the host.

        The data block (``p x p``, ``p x d_j``) is reduced by ``coef`` (``p x
        k``, host or on the accumulator's device) before anything crosses:
        only ``k x k`` / ``k x d_j`` results reach the host.
        """
        xp, device = namespace_and_device(self.gram)
        C = (
            coef
            if not isinstance(coef, np.ndarray)
            else from_host(coef, xp, device, self.gram.dtype)
        )
        C = xp.astype(C, self.gram.dtype)
        if j is None:
            value = C.T @ (self.device_block(0, 0) @ C)
        else:
            value = C.T @ self.device_block(0, j)
        return np.asarray(to_host(value), dtype=np.float64)

    def span_rtol(self, i, n_cols=None):
        """Rank tolerance for the span of (combinations of) block ``i``.

        Block 0's products are formed in the data's dtype, the side blocks'
        exactly (:func:`skfeat.utils._rank.span_rtol`).  ``n_cols`` is the
        number of combined columns (block ``i``'s width by default).
        """
        width = self._slices[i].stop - self._slices[i].start
        n_cols = width if n_cols is None else n_cols
        return span_rtol(self._dtypes[i], self.n_samples, n_cols, exact=i > 0)

    def dtype_of(self, i):
        """Return the dtype block ``i`` was given in."""
        return self._dtypes[i]

    def noise_rtol(self):
        """Relative size below which a (centred) Gram counts as rounding."""
        return spectrum_rtol(self._dtypes[0], self.gram.shape[0])


def span_basis(gram, rtol):
    """Coefficients ``W`` of an orthonormal basis of the span of the columns.

    For columns ``Y`` with ``Y^T Y = gram``, ``T = Y W`` has orthonormal
    columns (``W^T gram W = I``) spanning ``span(Y)`` up to the rank rule:
    eigenvalues ``mu <= mu_max * rtol`` are dropped.

    Parameters
    ----------
    gram : ndarray of shape (d, d)
        Uncentred Gram matrix of the columns (float64).
    rtol : float
        Relative tolerance on the eigenvalues.

    Returns
    -------
    W : ndarray of shape (d, r)
        ``r`` is the numerical rank; ``r = 0`` for all-zero columns.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics._gram import span_basis
    >>> Y = np.array([[1.0, 2.0], [1.0, 2.0], [0.0, 0.0]])  # rank 1
    >>> span_basis(Y.T @ Y, 1e-12).shape
    (2, 1)
    """
    mu, V = np.linalg.eigh(gram)
    mu, V = mu[::-1], V[:, ::-1]
    if mu.size == 0 or mu[0] <= 0:
        return np.zeros((gram.shape[0], 0))
    keep = mu > mu[0] * rtol
    return V[:, keep] / np.sqrt(mu[keep])


def in_order_basis(gram, rtol):
    """Gram-Schmidt of columns ``e_1, e_2, ...`` in order, from their Gram.

    Column ``j`` of the result holds the coefficients of the ``j``-th
    orthonormal vector ``Q_j = E b_j``; ``span(Q_1..Q_j) = span(e_1..e_j)``.
    A column whose part orthogonal to the previous ones has squared norm at
    most ``rtol * ||e_j||^2`` adds nothing to the span: its ``b_j`` is zero, so
    it contributes exactly 0 to every cumulative measure (no division by a
    rounding residue).

    Parameters
    ----------
    gram : ndarray of shape (k, k)
        ``E^T E`` (float64).
    rtol : float
        Relative tolerance on the squared residual norm.

    Returns
    -------
    B : ndarray of shape (k, k)
        Coefficients; ``B^T gram B`` is diagonal with entries 0 or 1.
    """
    k = gram.shape[0]
    diag = np.diag(gram)
    if k and np.all(diag > 0):
        # Fast path, the usual case: gram = L L^T and Q = E L^-T.  L_jj^2 is
        # exactly column j's squared residual, so when every column clears
        # the drop rule with a wide margin (no near-dependence to resolve),
        # the Cholesky factor gives the same basis as the loop below.
        try:
            L = np.linalg.cholesky(gram)
        except np.linalg.LinAlgError:
            L = None
        if L is not None and np.all(np.diag(L) ** 2 > np.sqrt(rtol) * diag):
            return solve_triangular(L, np.eye(k), lower=True).T
    basis = np.zeros((k, k))
    # Rows j of ``basis_gram`` hold b_j^T gram: inner products of Q_j with e_*.
    basis_gram = np.zeros((k, k))
    for j in range(k):
        if diag[j] <= 0:
            continue
        r = np.zeros(k)
        r[j] = 1.0
        # Classical Gram-Schmidt twice ("twice is enough", Giraud et al. 2005):
        # one pass leaves near-dependent columns visibly non-orthogonal.
        for _ in range(2):
            r -= basis[:, :j] @ (basis_gram[:j] @ r)
        norm2 = float(r @ gram @ r)
        if norm2 <= rtol * diag[j]:
            continue
        basis[:, j] = r / np.sqrt(norm2)
        basis_gram[j] = basis[:, j] @ gram
    return basis


def projection_profile(gram_ee, gram_ez, W, rtol, basis=None):
    """Per-column and cumulative projections of ``E`` onto ``span(Z)``.

    Parameters
    ----------
    gram_ee : ndarray of shape (k, k)
        ``E^T E``.
    gram_ez : ndarray of shape (k, t)
        ``E^T Z``.
    W : ndarray of shape (t, r)
        Orthonormal-basis coefficients of ``span(Z)`` (:func:`span_basis`).
    rtol : float
        Rank tolerance for the in-order orthonormalisation of ``E``.
    basis : ndarray of shape (k, k), default=None
        ``in_order_basis(gram_ee, rtol)`` when already computed.

    Returns
    -------
    per_column : ndarray of shape (k,)
        ``||P e_k||^2 / ||e_k||^2`` in ``[0, 1]`` (0 for a zero column).
    cumulative : ndarray of shape (k,)
        ``||P_{span(e_1..e_k)} P||_F^2``, nondecreasing, in ``[0, r]``.
    """
    cross = gram_ez @ W  # <e_k, T_t>: coordinates of e_k on the orthonormal T
    diag = np.diag(gram_ee)
    zero = diag <= 0
    if np.any(zero):
        warnings.warn(
            f"{int(zero.sum())} eigenfunction column(s) are identically zero on "
            "this sample (e.g. columns "
            f"{np.flatnonzero(zero)[:5].tolist()}); their projections are 0.",
            UserWarning,
            stacklevel=3,
        )
    per_column = np.zeros(diag.shape)
    live = ~zero
    per_column[live] = np.sum(cross[live] ** 2, axis=1) / diag[live]
    B = in_order_basis(gram_ee, rtol) if basis is None else basis
    cumulative = np.cumsum(np.sum((B.T @ cross) ** 2, axis=1))
    # Exact values lie in [0, 1] and [0, r]; clip the rounding at the ends.
    return np.clip(per_column, 0.0, 1.0), np.minimum(cumulative, W.shape[1])


def centred_cka(gxx, gxz, gzz, sx, sz, m, rtol, rtol_z=None):
    """Linear CKA from uncentred Grams and column sums (feature space).

    ``CKA = ||X~^T Z~||_F^2 / (||X~^T X~||_F ||Z~^T Z~||_F)`` with ``X~ = H X``;
    ``H X`` is never formed: ``X~^T Z~ = X^T Z - s_x s_z^T / m``.  A side whose
    centred Gram vanishes (constant columns, up to rounding) gives 0 and a
    warning.

    Parameters
    ----------
    gxx, gxz, gzz : ndarray
        ``X^T X``, ``X^T Z``, ``Z^T Z``.
    sx, sz : ndarray
        Column sums of ``X`` and ``Z``.
    m : int
        Number of rows.
    rtol : float
        Relative size below which a centred Gram counts as zero.
    rtol_z : float, default=None
        The same for ``Z`` when its floor differs (a side block, whose
        products are exact: :func:`exact_side_rtol`); ``rtol`` when None.

    Returns
    -------
    cka : float
        In ``[0, 1]``.
    """
    # gxx, gxz and sx may live on a device (the p side); gzz and sz are small
    # host arrays.  Only Frobenius norms (scalars) cross.
    xp, device = namespace_and_device(gxx)
    sz_dev = from_host(np.asarray(sz, dtype=np.float64), xp, device, gxx.dtype)
    cxx = gxx - sx[:, None] * sx[None, :] / m
    czz = gzz - np.outer(sz, sz) / m
    cxz = gxz - sx[:, None] * sz_dev[None, :] / m
    nx, nz = _frobenius(cxx, xp), np.linalg.norm(czz)
    rtol_z = rtol if rtol_z is None else rtol_z
    if nx <= rtol * max(_frobenius(gxx, xp), 1e-300) or nz <= rtol_z * max(
        np.linalg.norm(gzz), 1e-300
    ):
        return constant_representation_cka()
    if nx <= _LOST * rtol * _frobenius(gxx, xp):
        # The centred Gram is the difference of two nearly equal uncentred
        # ones: their rounding (rtol, relative) is then a visible share of it.
        warnings.warn(
            "The first representation's mean is much larger than its spread: "
            "its centred Gram matrix is below "
            f"{_LOST:g} x the rounding of its products, so CKA has lost digits. "
            "Subtract the mean of the features first, or pass float64 data.",
            UserWarning,
            stacklevel=4,
        )
    elif nz <= (_LOST * 10 * rtol) ** 2 * np.linalg.norm(gzz):
        # The cross products X^T Z are formed in X's dtype: a mean of Z more
        # than 1 / (1e4 rtol) times its spread leaves them few digits (the
        # one-pass routes measure again from Z shifted; a stream cannot).
        warnings.warn(
            "The second representation's mean is much larger than its spread: "
            "its cross products with the first, formed in the first's dtype, "
            "have lost digits. Subtract its mean first, or pass float64 data.",
            UserWarning,
            stacklevel=4,
        )
    return float(np.clip(_frobenius(cxz, xp) ** 2 / (nx * nz), 0.0, 1.0))


# A spread of a few units in the last place of the data's dtype is rounding.
_ULPS = 4


def exact_side_rtol(dtype, m, q):
    """Constant-side floor of a centred Gram formed from exact products.

    The values of ``dtype`` are exact in float64; a side whose relative
    spread is within a few units in the last place of ``dtype`` (a
    constant computed with rounding) is constant, and so is one whose
    centred Gram is at the float64 residue of centring ``m`` rows of ``q``
    columns (``max(m, q) eps64`` relative).  In Gram units (squared
    spread), ``max(4 eps_dtype, sqrt(max(m, q) eps64))^2``: a float32 side
    of mean 1000 and spread 0.1 (relative 1e-4) is measured at any ``m``.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics._gram import exact_side_rtol
    >>> bool(exact_side_rtol(np.float32, 10**6, 3) < 1e-8)
    True
    """
    return max(_ULPS * dtype_eps(dtype), math.sqrt(max(m, q) * EPS64)) ** 2


def sample_side_linearity(H, Y):
    """Target linearity of wide ``H`` (``p > n``) and the spectrum of ``H H^T``.

    ``P_H = U U^T`` for the eigenvectors of ``K = H H^T`` above the rank rule
    (the same nonzero eigenvalues, hence the same rank decision, as
    ``H^T H``): ``TL = ||P_H Y~||_F^2 / ||Y~||_F^2`` with ``Y~`` the centred
    targets, never a ``p x p`` matrix.

    Parameters
    ----------
    H : array of shape (n, p)
        Validated features (any namespace; the kernel is accumulated there).
    Y : ndarray of shape (n, t)
        Host float64 targets (one-hot labels or values).

    Returns
    -------
    linearity : float
        In ``[0, 1]``.
    eigenvalues : ndarray of shape (n,)
        Of ``H H^T`` (ascending, units of its power-of-two scale).

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics._gram import sample_side_linearity
    >>> H = np.c_[np.ones(3), [1.0, 2.0, 3.0], np.zeros((3, 2))]
    >>> sample_side_linearity(H, np.array([[2.0], [4.0], [6.0]]))[0]
    1.0
    """
    n, p = H.shape
    Yc = Y - Y.mean(axis=0)
    total = float(np.sum(Yc**2))
    if not total > float(np.sum((Y - Y[:1]) ** 2)) * spectrum_rtol(
        np.float64, Y.shape[1]
    ):
        raise ValueError(
            "The targets are constant (a single class, or equal values): target "
            "linearity is undefined."
        )
    K = sample_moments(H, name="H").gram  # where H lives
    lam = device_eigvalsh(K)
    rtol = span_rtol(H.dtype, n, p, exact=False)
    explained = kernel_projection(K, Yc, rtol, eigenvalues=lam)
    return float(np.clip(explained / total, 0.0, 1.0)), lam


def lost_digits(grams, i=0, factor=1e4):
    """Whether the centred Gram of block ``i`` is lost to the products' rounding.

    ``||X~^T X~||_F <= factor * rtol * ||X^T X||_F`` (rtol: the rounding
    floor of block ``i``'s products): the one-pass centred Gram, a difference
    of two nearly equal uncentred ones, then has a relative error of about
    ``1 / factor`` or worse -- features whose mean is much larger than their
    spread, in float32.  Computed where the Gram lives; a scalar crosses.
    """
    xp, _ = namespace_and_device(grams.gram)
    gxx, sx = grams.device_block(i, i), grams.device_block_sums(i)
    centred = gxx - sx[:, None] * sx[None, :] / grams.n_samples
    rtol = grams.noise_rtol() if i == 0 else grams.span_rtol(i)
    return _frobenius(centred, xp) <= factor * rtol * _frobenius(gxx, xp)


# A centred Gram within this factor of the products' rounding has lost three
# digits or more (a relative error of 1e-3 or worse): CKA warns.
_LOST = 1e3


def _frobenius(A, xp):
    """``||A||_F`` as a float, computed where ``A`` lives."""
    if isinstance(A, np.ndarray):
        return float(np.linalg.norm(A))
    if A.ndim == 2 and hasattr(xp, "linalg"):
        return float(to_host(xp.linalg.matrix_norm(A)))  # no A * A temporary
    return float(to_host(xp.sqrt(xp.sum(A * A))))


def constant_representation_cka(stacklevel=4):
    """Warn that one side is constant over the samples; return its CKA, 0."""
    warnings.warn(
        "One representation is constant over the samples (its centred Gram "
        "matrix is zero); CKA is undefined there and is reported as 0.",
        UserWarning,
        stacklevel=stacklevel,
    )
    return 0.0


def linearity_from_moments(HtH, h_sum, HtY, YtY, y_sum, n, rtol, eigh=None):
    """Target linearity from the Gram matrix of ``[H | Y]`` and column sums.

    ``Y`` is centred here (``Y - 1 ybar^T``); ``H`` is not (least squares
    without intercept, spec section 7).  The projector onto the span of ``H``
    comes from the eigendecomposition of ``H^T H`` restricted to eigenvalues
    above ``rtol * lambda_max`` (a rank-revealing solve, no ridge).  All
    arguments are host float64, ``H`` and ``Y`` each in its own units (the
    ratio does not depend on them); ``eigh`` is ``np.linalg.eigh(HtH)`` when
    the caller has it already.
    """
    y_mean = y_sum / n
    HtYc = HtY - np.outer(h_sum, y_mean)
    total = np.trace(YtY) - n * (y_mean @ y_mean)
    if not total > np.trace(YtY) * spectrum_rtol(np.float64, YtY.shape[0]):
        raise ValueError(
            "The targets are constant (a single class, or equal values): target "
            "linearity is undefined."
        )
    lam, V = np.linalg.eigh(HtH) if eigh is None else eigh
    keep = lam > max(lam[-1], 0.0) * rtol
    if not np.any(keep):
        return 0.0
    coef = V[:, keep].T @ HtYc
    explained = np.sum(coef**2 / lam[keep, None])
    return float(np.clip(explained / total, 0.0, 1.0))


def kernel_projection(kernel, Yc, rtol, *, eigenvalues=None):
    """Return ``||P_X Yc||_F^2`` from the sample kernel ``K = X X^T`` (``n x n``).

    ``P_X = U U^T`` for the eigenvectors ``U`` of ``K`` whose eigenvalues
    exceed ``rtol * lambda_max`` (the rank rule of
    :func:`linearity_from_moments`: ``K`` shares its nonzero eigenvalues with
    ``X^T X``, so the rank decision is the same on either side).  A wide
    layer is usually of full rank ``n`` or nearly: then only the few dropped
    eigenvectors are computed, and ``||Yc||^2`` loses their share.

    Parameters
    ----------
    kernel : ndarray of shape (n, n)
        ``X X^T`` (float64, any positive scale).
    Yc : ndarray of shape (n, t)
        Targets, centred when the measure is (target linearity).
    rtol : float
        Relative eigenvalue tolerance of the span of ``X``.
    eigenvalues : ndarray of shape (n,), default=None
        ``np.linalg.eigvalsh(kernel)`` (ascending), when already known.

    Returns
    -------
    explained : float
        ``||P_X Yc||_F^2``.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics._gram import kernel_projection
    >>> X = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    >>> kernel_projection(X @ X.T, np.array([[1.0], [2.0], [3.0]]), 1e-12)
    5.0
    """
    lam = device_eigvalsh(kernel) if eigenvalues is None else eigenvalues
    keep = lam > max(lam[-1], 0.0) * rtol
    n_drop = int(np.sum(~keep))
    if n_drop == lam.size:
        return 0.0
    if n_drop == 0:
        return float(np.sum(Yc**2))
    if not isinstance(kernel, np.ndarray):
        # A device's kernel: one eigh where it lives; the targets go there
        # and only the explained sum comes back.
        xp, device = namespace_and_device(kernel)
        _, U = device_eigh(kernel)  # largest first: the kept ones lead
        coef = U[:, : lam.size - n_drop].T @ from_host(Yc, xp, device, U.dtype)
        return float(to_host(xp.sum(coef * coef)))
    if n_drop <= lam.size // 4:
        _, U = scipy.linalg.eigh(kernel, subset_by_index=[0, n_drop - 1], driver="evr")
        return float(max(np.sum(Yc**2) - np.sum((U.T @ Yc) ** 2), 0.0))
    lam, U = np.linalg.eigh(kernel)
    keep = lam > max(lam[-1], 0.0) * rtol
    return float(np.sum((U[:, keep].T @ Yc) ** 2))
