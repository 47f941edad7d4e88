"""Small-matrix algebra shared by the measures: bases and projections from Grams.

Every measure of sections 2-4 of the spec is computed in two steps: one pass
over the rows of ``[E | Y | F]`` (or ``[Phi | Y | F]``) accumulates the
uncentred Gram matrix and the column sums (:class:`skfeat._moments.Moments`),
then the functions here work on the small float64 blocks on the host.  No
sample x sample matrix is ever formed.

Rank decisions use one rule throughout skfeat (spec section 1): an eigenvalue
``mu`` of a Gram matrix of ``m`` rows and ``d`` columns counts when
``mu > mu_max * max(m, d) * eps``, with ``eps`` the machine epsilon of the
data's dtype.  This is numpy's ``matrix_rank`` tolerance applied to the
second moment, which is what the one-pass route has; it is a worst-case bound
on the rounding of an ``m``-term inner product, so exactly dependent columns
are recognised as such.
"""

import warnings

import numpy as np
from scipy.linalg import solve_triangular

from skfeat._moments import Moments
from skfeat.utils._array_api import dtype_eps, namespace_and_device, to_host

__all__ = [
    "GramBlocks",
    "centred_cka",
    "in_order_basis",
    "projection_profile",
    "span_basis",
]


class GramBlocks:
    """Host float64 Gram matrix and column sums of ``[B_1 | B_2 | ...]``.

    One pass over the rows, where the data lives (see
    :class:`~skfeat._moments.Moments`); ``block(i, j)`` slices the result.

    Parameters
    ----------
    *blocks : arrays of shape (m, d_i)
        Same namespace, device and number of rows.

    Attributes
    ----------
    gram : ndarray of shape (d, d)
        Uncentred ``B^T B`` in float64.
    sums : ndarray of shape (d,)
        Column sums.
    n_samples : int
        ``m``.
    eps : float
        Machine epsilon of the least precise block (sets the rank tolerance).
    """

    def __init__(self, *blocks):
        xp, _ = namespace_and_device(*blocks)
        moments = Moments().update(*blocks)
        self.gram = to_host(moments.gram, xp)
        self.sums = to_host(moments.sums, xp)
        self.n_samples = moments.n_samples
        self.eps = max(dtype_eps(b.dtype) for b in blocks)
        edges = np.cumsum([0] + [b.shape[1] for b in blocks])
        self._slices = [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]

    def block(self, i, j):
        """Return the ``(i, j)`` block of the Gram matrix."""
        return self.gram[self._slices[i], self._slices[j]]

    def block_sums(self, i):
        """Return the column sums of block ``i``."""
        return self.sums[self._slices[i]]

    def rtol(self, n_cols):
        """Relative rank tolerance for a Gram of ``n_cols`` columns."""
        return max(self.n_samples, n_cols) * self.eps


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


def centred_cka(gxx, gxz, gzz, sx, sz, m, rtol):
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

    Returns
    -------
    cka : float
        In ``[0, 1]``.
    """
    cxx = gxx - np.outer(sx, sx) / m
    czz = gzz - np.outer(sz, sz) / m
    cxz = gxz - np.outer(sx, sz) / m
    nx, nz = np.linalg.norm(cxx), np.linalg.norm(czz)
    if nx <= rtol * max(np.linalg.norm(gxx), 1e-300) or nz <= rtol * max(
        np.linalg.norm(gzz), 1e-300
    ):
        warnings.warn(
            "One representation is constant over the samples (its centred Gram "
            "matrix is zero); CKA is undefined there and is reported as 0.",
            UserWarning,
            stacklevel=3,
        )
        return 0.0
    return float(np.clip(np.linalg.norm(cxz) ** 2 / (nx * nz), 0.0, 1.0))
