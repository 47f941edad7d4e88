"""Small symmetric eigenproblems, solved where the matrix lives.

The one eigensolver of the ``p x p`` (or ``n x n``) second moments: the
estimator's fit (:mod:`skfeat._spectrum`) and the measures' wide sample-side
kernels (:mod:`skfeat.metrics`) both call :func:`device_eigh`, so a Gram on a
GPU is diagonalised on that GPU, in float64 where the device has it, else in
float32 refined by one Rayleigh-Ritz step (:func:`refine_eigenpairs`).
Imports the array-API helpers only (the numerical core's layer).
"""

import functools
from contextlib import contextmanager

import numpy as np

from .utils._array_api import (
    accumulation_dtype,
    from_host,
    is_numpy_namespace,
    namespace_and_device,
    to_host,
)

__all__ = ["device_eigh", "device_eigvalsh", "refine_eigenpairs"]


def device_eigh(G, n_top=None):
    """Eigenpairs of a symmetric matrix, largest first, where ``G`` lives.

    All eigenvalues are returned; the eigenvectors of at least the ``n_top``
    largest (all of them when None).

    - numpy: numpy's LAPACK ``syevd`` in float64; when only ``n_top <= p / 8``
      eigenvectors are asked for, all eigenvalues (``syevd`` without
      vectors) and the ``n_top`` eigenvectors by the tridiagonal ``syevr``
      with an index range (scipy), together a third of a full ``syevd``.
    - torch / CuPy / any array-API device with float64 (CPU, CUDA, ROCm):
      their ``linalg.eigh`` in float64 on the device.
    - devices without float64 (Apple MPS): a float32 ``eigh`` on the device,
      refined by one Rayleigh-Ritz step (:func:`refine_eigenpairs`) in
      ``G``'s dtype; only when the device has no ``eigh`` at all is the
      matrix solved on the host in float64.

    Nothing but ``G``'s own device is touched on the first two routes: the
    eigenvalues and eigenvectors come back where ``G`` is.
    """
    xp, device = namespace_and_device(G)
    if is_numpy_namespace(xp) or isinstance(G, np.ndarray):
        # numpy's eigh runs on the same BLAS thread pool as the X^T X products
        # just before it; scipy ships its own OpenBLAS, whose threads contend
        # with numpy's still-spinning ones (the fit was 1.6x slower on 2 cores).
        G = np.asarray(G, dtype=np.float64)
        p = G.shape[0]
        with _eigh_threads(p):
            if n_top is not None and 0 < n_top <= p // 8:
                lam = np.linalg.eigvalsh(G)
                V = _top_eigenvectors(G, n_top)
            else:
                lam, V = np.linalg.eigh(G)
        return lam[::-1], V[:, ::-1]
    if accumulation_dtype(xp, device) != xp.float64:
        return _float32_eigh(G, xp)
    lam, V = xp.linalg.eigh(xp.astype(G, xp.float64))
    return xp.flip(lam, axis=0), xp.flip(V, axis=1)


def device_eigvalsh(G):
    """Eigenvalues of a symmetric matrix, ascending, solved where ``G`` lives.

    The eigenvalues-only twin of :func:`device_eigh` (``syevd`` without
    vectors on numpy, a third of the full solve), for the rank rules and
    spectra of the measures' wide ``n x n`` kernels.  Only the ``n``
    eigenvalues come to the host (float64 numpy), never ``G``.  Devices
    without float64 take :func:`device_eigh`'s refined float32 route.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat._eigh import device_eigvalsh
    >>> device_eigvalsh(np.diag([3.0, 1.0, 2.0])).tolist()
    [1.0, 2.0, 3.0]
    """
    xp, device = namespace_and_device(G)
    if is_numpy_namespace(xp) or isinstance(G, np.ndarray):
        G = np.asarray(G, dtype=np.float64)
        with _eigh_threads(G.shape[0]):
            return np.linalg.eigvalsh(G)
    if accumulation_dtype(xp, device) != xp.float64:
        return to_host(device_eigh(G)[0])[::-1].copy()
    return to_host(xp.linalg.eigvalsh(xp.astype(G, xp.float64)))


def _top_eigenvectors(G, k):
    """Eigenvectors of the ``k`` largest eigenvalues (ascending), by ``syevr``."""
    import scipy.linalg

    p = G.shape[0]
    _, V = scipy.linalg.eigh(
        G, subset_by_index=(p - k, p - 1), driver="evr", check_finite=False
    )
    return V


# Up to this size numpy's eigh runs on one BLAS thread: the threads'
# synchronisation costs more than they gain.  Measured on 2 quiet cores
# (best of 15): p = 128 1.47 ms on one thread vs 1.41 ms on two, p = 256
# 11.1 vs 7.8 ms, p = 512 56 vs 40 ms, p = 1024 291 vs 188 ms; the fit of
# 50 000 x 512 float32 took 1.59x one X^T X with a one-thread eigh and 1.46x
# with both.  (On an oversubscribed machine a threaded eigh can be several
# times slower; BLAS threads are the user's to limit there, e.g. with
# threadpoolctl.)
_SERIAL_EIGH_MAX = 128


@contextmanager
def _eigh_threads(p):
    """One BLAS thread for numpy's ``eigh`` of a ``p x p`` matrix, when small."""
    if p > _SERIAL_EIGH_MAX:
        yield
        return
    with _blas_controller().limit(limits=1, user_api="blas"):
        yield


@functools.cache
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _float32_eigh(G, xp):
    """float32 ``eigh`` on the device, then one refinement step in ``G``'s dtype."""
    try:
        _, V = xp.linalg.eigh(xp.astype(G, xp.float32))
    except NotImplementedError:  # a device without eigh (MPS without fallback)
        _, device = namespace_and_device(G)
        lam, V = np.linalg.eigh(to_host(G))
        return (
            from_host(lam[::-1].copy(), xp, device, G.dtype),
            from_host(V[:, ::-1], xp, device, G.dtype),
        )
    return refine_eigenpairs(G, xp.astype(V, G.dtype))


def refine_eigenpairs(G, V):
    """One Rayleigh-Ritz refinement of approximate eigenvectors of ``G``.

    The step of Ogita and Aishima (2018): with ``R = I - V^T V`` and the
    Rayleigh-Ritz matrix ``S = V^T G V``, the Ritz values are
    ``lam_i = S_ii / (1 - R_ii)`` and the columns are corrected by
    ``V <- V (I + F)``, ``F_ij = (S_ij + lam_j R_ij) / (lam_j - lam_i)`` for
    eigenvalues separated by more than the residual ``delta`` and
    ``F_ij = R_ij / 2`` within clusters (an orthogonalisation).  Errors of
    separated eigenpairs square in one step: eigenvectors of a float32
    ``eigh`` come out accurate to the products' precision (float64 when
    ``G`` is float64).  Only matrix products and elementwise operations,
    in ``G``'s namespace, on its device: nothing goes to the host.

    Parameters
    ----------
    G : array of shape (p, p)
        Symmetric matrix.
    V : array of shape (p, p)
        Approximate eigenvectors (columns), in ``G``'s namespace and dtype.

    Returns
    -------
    lam : array of shape (p,)
        Ritz values, largest first.
    V : array of shape (p, p)
        Refined eigenvectors, in the same order.

    References
    ----------
    .. [1] T. Ogita, K. Aishima. "Iterative refinement for symmetric
       eigenvalue decomposition", Japan J. Indust. Appl. Math. 35 (2018).

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat._eigh import refine_eigenpairs
    >>> G = np.diag([3.0, 2.0, 1.0])
    >>> V = np.eye(3) + 1e-3 * np.array([[0, 1, 0], [-1, 0, 1], [0, -1, 0]])
    >>> lam, W = refine_eigenpairs(G, V)
    >>> np.round(lam, 6).tolist()
    [3.0, 2.0, 1.0]
    >>> bool(np.abs(np.abs(W) - np.eye(3)).max() < 1e-5)
    True
    """
    xp, device = namespace_and_device(G, V)
    p = V.shape[1]
    R = xp.eye(p, dtype=V.dtype, device=device) - V.T @ V
    S = V.T @ (G @ V)
    r = _diagonal(R, xp)
    lam = _diagonal(S, xp) / (1.0 - r)
    off = S - xp.eye(p, dtype=V.dtype, device=device) * lam[None, :]
    norm_G = xp.max(xp.abs(lam))
    delta = 2.0 * (_frobenius(off, xp) + norm_G * _frobenius(R, xp))
    gap = lam[None, :] - lam[:, None]
    separated = xp.abs(gap) > delta
    safe_gap = xp.where(separated, gap, xp.ones_like(gap))
    F = xp.where(separated, (S + lam[None, :] * R) / safe_gap, R / 2.0)
    V = V + V @ F
    order = xp.argsort(lam, descending=True)
    return xp.take(lam, order), xp.take(V, order, axis=1)


def _diagonal(A, xp):
    return A.diagonal() if isinstance(A, np.ndarray) else xp.linalg.diagonal(A)


def _frobenius(A, xp):
    return xp.sqrt(xp.sum(A * A))
