"""Linear CKA in feature space, the CKA minimal-feature measure and the regime.

Spec section 4.  With ``K = X X^T`` and ``L = Z Z^T`` on ``m`` samples,
``CKA = ||X~^T Z~||_F^2 / (||X~^T X~||_F ||Z~^T Z~||_F)`` with ``X~ = H X``.
Each representation is measured on its cheaper side
(:func:`skfeat._moments.samples_side_is_smaller`):

* both narrow (``p, q <= m``): the ``(p + q) x (p + q)`` Gram matrix and the
  column sums of ``[X | Z]``, one pass over the rows -- never an ``m x m``
  kernel;
* a wide side (``p > m``): its centred kernel ``H K H`` (``m x m``, from one
  pass over the columns of ``X``), and ``||X~^T Z~||_F^2 = <HKH, HLH>_F``
  read with the other side's centred columns (``tr(Z~^T HKH Z~)``) or, when
  that one is wide too, its centred kernel -- never a ``p x p`` matrix.

Both give the same numbers: ``X^T X`` and ``X X^T`` share their nonzero
eigenvalues, hence every Frobenius norm and trace used here.
"""

import math
from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils._param_validation import Interval, validate_params

from skfeat._eigh import _diagonal
from skfeat._moments import Moments, sample_moments, samples_side_is_smaller
from skfeat.utils._array_api import (
    accumulation_dtype,
    from_host,
    is_dask,
    namespace_and_device,
    to_host,
)
from skfeat.utils._rank import EPS64, dtype_eps, span_rtol, spectrum_rtol
from skfeat.utils._validation import check_matrix, check_same_length

from ._gram import (
    _ULPS,
    GramBlocks,
    _frobenius,
    centred_cka,
    constant_representation_cka,
    exact_side_rtol,
    lost_digits,
    span_basis,
)

__all__ = ["cka_mf", "feature_regime", "linear_cka"]


@validate_params(
    {"X": ["array-like"], "Y": ["array-like"], "debiased": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def linear_cka(X, Y, *, debiased=False):
    """Linear centred kernel alignment of two representations of the same samples.

    ``CKA(X X^T, Y Y^T) = <HKH, HLH>_F / (||HKH||_F ||HLH||_F)``, computed in
    feature space as ``||X~^T Y~||_F^2 / (||X~^T X~||_F ||Y~^T Y~||_F)``
    (``X~`` = ``X`` with column means removed), so memory is
    ``O((p + q)^2)``, not ``O(m^2)``.  A side wider than the sample
    (``p > m``) is measured through its ``m x m`` kernel instead, so memory
    is ``O(min(p, m)^2 + min(q, m)^2 + m min(q, m))``: never ``p x p``.
    Invariant to orthogonal transformations and isotropic scaling of either
    side; 1 for a representation with itself.

    ``debiased=True`` uses the unbiased HSIC estimator of Song et al. (2012),
    as Kornblith et al.'s debiased CKA and torch_cka do: the kernels' diagonals
    are removed and the finite-sample bias of the plain (biased) estimator,
    which makes unrelated representations look similar when ``m`` is small
    against the number of features, is corrected.  Still computed in feature
    space (the kernels' diagonals are the rows' squared norms).

    Parameters
    ----------
    X : array-like of shape (m, p)
        First representation (rows are samples).  numpy, array-API or dask.
    Y : array-like of shape (m, q)
        Second representation of the same samples; a vector is one column.
    debiased : bool, default=False
        Use the unbiased HSIC estimator (needs ``m >= 4``).

    Returns
    -------
    cka : float
        In ``[0, 1]`` (the debiased estimate can be slightly negative for
        unrelated representations).  Defined as 0, with a warning, when either
        side is constant over the samples: every column's range within 4 units
        in the last place of its magnitude (a constant computed with
        rounding).  A side whose mean dwarfs its spread is measured again
        from the data shifted by a row, so its digits are kept.

    See Also
    --------
    cka_mf : One minus the CKA between the features and the output projector.

    References
    ----------
    .. [1] Kornblith, Norouzi, Lee, Hinton. "Similarity of neural network
       representations revisited", ICML 2019.
    .. [2] Nam, Mingard, Lee, Hayou, Louis. "Visualising feature learning in deep
       neural networks by diagonalizing the forward feature map", arXiv:2410.04264.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics import linear_cka
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 4))
    >>> round(linear_cka(X, 3.0 * X), 12)
    1.0
    """
    X = check_matrix(X, "X", allow_1d=True, min_samples=4 if debiased else 2)
    Y = check_matrix(Y, "Y", allow_1d=True, min_samples=4 if debiased else 2)
    check_same_length(("X", X), ("Y", Y))
    m = X.shape[0]
    wide = samples_side_is_smaller(m, X.shape[1]) or samples_side_is_smaller(
        m, Y.shape[1]
    )
    if debiased:
        if constant_columns(X) or constant_columns(Y):
            return constant_representation_cka()
        if wide:
            return _debiased_from_kernels(
                _Side.of(X, "X", kernel=True), _Side.of(Y, "Y", kernel=True)
            )
        return _debiased_cka(X, Y)
    if wide:
        return side_cka(_Side.of(X, "X"), _Side.of(Y, "Y"))
    grams = _centred_blocks(X, Y, name="X")
    if grams is _CONSTANT:
        return constant_representation_cka()
    return centred_cka(
        grams.block(0, 0),
        grams.block(0, 1),
        grams.block(1, 1),
        grams.block_sums(0),
        grams.block_sums(1),
        grams.n_samples,
        grams.noise_rtol(),
        exact_side_rtol(Y.dtype, m, Y.shape[1] if Y.ndim == 2 else 1),
    )


def _debiased_cka(X, Y):
    """Unbiased-HSIC linear CKA from one pass over ``[X | Y | ||x||^2 | ||y||^2]``.

    With ``K~ = K - diag(K)`` (and ``L~``), the unbiased estimator is
    ``[tr(K~ L~) + 1'K~1 1'L~1 / ((m-1)(m-2)) - 2/(m-2) 1'K~L~1] / (m(m-3))``;
    every term is a product of the Gram blocks and column sums of ``X``, ``Y``
    and the two columns of squared row norms (the kernels' diagonals).  The
    estimator does not change when a side is shifted by a constant row or
    scaled: each side is centred first (its terms would otherwise be large
    uncentred products that cancel) and divided by a power of two near its
    largest magnitude, so the squared norms stay in range.
    """
    m = X.shape[0]
    blocks = _with_squared_norms(X, Y)
    # The raw moments, not GramBlocks: the squared norms must stay in the
    # units of their side (GramBlocks would rescale each block on its own).
    moments = Moments(name="X").update(*blocks)
    grams = _RawBlocks(moments, [b.dtype for b in blocks])
    sx, sy = grams.block_sums(0), grams.block_sums(1)
    kx, ky = grams.block_sums(2)[0], grams.block_sums(3)[0]  # sum of K_ii, L_ii

    def hsic(a, b, sa, sb, ka, kb, sq_a, sq_b):
        # a, b: block indices; sa, sb: their column sums; ka, kb: the sums of
        # their kernels' diagonals; sq_a, sq_b: the squared-norm blocks.
        diag_product = grams.block(sq_a, sq_b)[0, 0]
        trace = np.sum(grams.block(a, b) ** 2) - diag_product
        ones_a = sa @ sa - ka
        ones_b = sb @ sb - kb
        cross = (
            sa @ grams.block(a, b) @ sb
            - grams.block(sq_a, b)[0] @ sb
            - grams.block(sq_b, a)[0] @ sa
            + diag_product
        )
        return (
            trace + ones_a * ones_b / ((m - 1) * (m - 2)) - 2.0 / (m - 2) * cross
        ) / (m * (m - 3))

    xy = hsic(0, 1, sx, sy, kx, ky, 2, 3)
    xx = hsic(0, 0, sx, sx, kx, kx, 2, 2)
    yy = hsic(1, 1, sy, sy, ky, ky, 3, 3)
    floor = grams.noise_rtol()
    if xx <= floor * abs(kx) ** 2 / m**2 or yy <= floor * abs(ky) ** 2 / m**2:
        return constant_representation_cka()
    return float(np.clip(xy / np.sqrt(xx * yy), -1.0, 1.0))


def _debiased_from_kernels(a, b):
    """Unbiased-HSIC linear CKA from the two centred ``m x m`` kernels.

    The wide route of :func:`_debiased_cka`: the same estimator (it does not
    change when a side is shifted by a constant row, so the centred kernels
    serve), with ``K~ = HKH - diag(HKH)``, computed where the kernels live
    (only sums cross).  The sides' kernels are overwritten.
    """
    a, b = _together(a, b)
    # Each side against its own floor, as the biased route (side_cka).
    if _is_constant(a) or _is_constant(b):
        return constant_representation_cka()
    xp, m = a.xp, a.kernel.shape[0]
    K, L = _off_diagonal(a.kernel, xp), _off_diagonal(b.kernel, xp)

    def hsic(K, L):
        ones = _scalar(xp.sum(K)) * _scalar(xp.sum(L)) / ((m - 1) * (m - 2))
        cross = _scalar(xp.sum(K, axis=0) @ xp.sum(L, axis=0))
        trace = _scalar(xp.tensordot(K, L, axes=2))
        return (trace + ones - 2.0 / (m - 2) * cross) / (m * (m - 3))

    xy, xx, yy = hsic(K, L), hsic(K, K), hsic(L, L)
    if xx <= 0 or yy <= 0:
        return constant_representation_cka()
    return float(np.clip(xy / np.sqrt(xx * yy), -1.0, 1.0))


def _off_diagonal(K, xp):
    """``K`` with a zero diagonal, in place where the namespace allows."""
    if isinstance(K, np.ndarray):
        np.fill_diagonal(K, 0.0)
        return K
    _, device = namespace_and_device(K)
    eye = xp.eye(K.shape[0], dtype=K.dtype, device=device)
    return K - eye * _diagonal(K, xp)[None, :]


def _scalar(value):
    return float(to_host(value))


class _Side:
    """One representation's centred second moment, on its cheaper side.

    ``kernel``: the centred ``H K H`` (``m x m``) of a wide representation
    (``p > m``), from :func:`~skfeat._moments.sample_moments`; ``data``: the
    centred columns (``m x q``, divided by a power of two near their largest
    magnitude) of a narrow one.  Both stay where the representation lives
    (a GPU's kernel never visits the host), in its accumulation dtype
    (float64 but on devices without it); only the norms and inner products
    cross, as floats.  ``norm`` is the uncentred ``||X^T X||_F`` in the same
    units (for the constant test).
    """

    def __init__(self, kernel=None, data=None, norm=0.0, rtol=0.0):
        self.kernel, self.data, self.norm, self.rtol = kernel, data, norm, rtol
        self.xp, self.device = namespace_and_device(
            kernel if kernel is not None else data
        )

    @classmethod
    def of(cls, A, name, *, kernel=False):
        """Return the side of a validated ``A``; ``kernel=True`` forces the kernel."""
        m, q = A.shape
        if samples_side_is_smaller(m, q):
            # Products in the data's dtype: their rounding, relative to the
            # uncentred kernel, is the floor of the centred one.  When a mean
            # much larger than the spread leaves the centred kernel within a
            # factor of that rounding, it is formed again from A shifted by
            # its first row (CKA is shift-invariant; one copy of A).
            rtol = spectrum_rtol(A.dtype, min(m, q))
            side = cls._centred_kernel(_product_kernel(A, name), rtol)
            if side.centred_norm() <= _KERNEL_LOST * rtol * side.norm:
                if constant_columns(A):  # the kernel cannot tell: the data can
                    side.kernel = side.kernel * 0.0
                elif not (is_dask(A) or sp.issparse(A)):
                    side = cls._centred_kernel(_product_kernel(A - A[:1], name), rtol)
            return side
        rtol = _exact_rtol(A.dtype, m, q)
        if kernel:
            D = _scaled(A, name)
            return cls._centred_kernel(D @ D.T, rtol)
        return cls.of_data(_scaled(A, name), rtol)

    @classmethod
    def _centred_kernel(cls, K, rtol):
        """Return the side of an uncentred kernel ``K`` (its own: centred in place)."""
        xp, _ = namespace_and_device(K)
        norm = _frobenius(K, xp)
        row = xp.mean(K, axis=1)
        K -= row[:, None]
        K -= row[None, :]
        K += xp.mean(row)
        return cls(kernel=K, norm=norm, rtol=rtol)

    @classmethod
    def of_data(cls, D, rtol):
        """Return the side of columns ``D`` (scaled; centred here)."""
        xp, _ = namespace_and_device(D)
        norm = _frobenius(D.T @ D, xp)
        return cls(data=D - xp.mean(D, axis=0), norm=norm, rtol=rtol)

    def on_host(self):
        """Return the same side with its matrices copied to the host (float64)."""
        kernel = None if self.kernel is None else to_host(self.kernel)
        data = None if self.data is None else to_host(self.data)
        return _Side(kernel, data, self.norm, self.rtol)

    def moved_to(self, other):
        """Return this host side on ``other``'s device (a host-to-device copy)."""
        xp, device = other.xp, other.device
        acc = accumulation_dtype(xp, device)

        def move(A):
            return None if A is None else from_host(A, xp, device, acc)

        return _Side(move(self.kernel), move(self.data), self.norm, self.rtol)

    def centred_norm(self):
        """``||X~^T X~||_F = ||HKH||_F``."""
        if self.kernel is not None:
            return _frobenius(self.kernel, self.xp)
        return _frobenius(self.data.T @ self.data, self.xp)

    def inner(self, other):
        """``||X~^T Z~||_F^2 = <HKH, HLH>_F`` with the other side."""
        self, other = _together(self, other)
        if self.kernel is None:
            self, other = other, self
        xp = self.xp
        if self.kernel is None:
            return _frobenius(self.data.T @ other.data, xp) ** 2
        if other.kernel is not None:
            return _scalar(xp.tensordot(self.kernel, other.kernel, axes=2))
        return float(to_host(xp.sum((self.kernel @ other.data) * other.data)))


def constant_columns(A):
    """Whether every column of ``A`` is constant to rounding (a constant side).

    Each column's range ``max - min`` within ``4`` units in the last place of
    its largest magnitude (a constant computed with rounding): the one test
    of a constant representation, read off the data itself (two reductions,
    computed where ``A`` lives; ``O(m q)``, not a Gram floor that a large
    mean would blur).  Dask arrays are not read twice: False.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics._cka import constant_columns
    >>> c = np.float32(1000)
    >>> constant_columns(np.array([[c], [c + np.spacing(c)]], dtype=np.float32))
    True
    >>> constant_columns(np.array([[c], [c + np.float32(0.1)]], dtype=np.float32))
    False
    """
    if is_dask(A):
        return False
    if sp.issparse(A):
        top = A.max(axis=0).toarray().ravel().astype(np.float64)
        bottom = A.min(axis=0).toarray().ravel().astype(np.float64)
        xp = np
    else:
        xp, _ = namespace_and_device(A)
        top, bottom = xp.max(A, axis=0), xp.min(A, axis=0)
    # Where A lives: only the verdict crosses.
    magnitude = xp.maximum(xp.abs(top), xp.abs(bottom))
    tol = _ULPS * dtype_eps(A.dtype)
    return bool(to_host(xp.all(top - bottom <= tol * magnitude), dtype=None))


# A centred kernel within this factor of its products' rounding is formed
# again from the shifted data (it would have lost four digits or more).
_KERNEL_LOST = 1e4


def _product_kernel(A, name):
    """Return ``A A^T`` from products in ``A``'s dtype, in power-of-two units."""
    K = _working(sample_moments(A, name=name).gram)
    xp, _ = namespace_and_device(K)
    # CKA does not depend on the units: the Frobenius norms stay in range.
    top = float(to_host(xp.max(_diagonal(K, xp)))) if K.shape[0] else 0.0
    return K / 2.0 ** round(math.log2(top)) if top > 0 else K


def _same_place(a, b):
    """Whether two sides live in one namespace on one device."""
    return a.xp is b.xp and str(a.device) == str(b.device)


def _on_host(side):
    matrix = side.kernel if side.kernel is not None else side.data
    return isinstance(matrix, np.ndarray)


def _together(a, b):
    """Two sides in one place: a host side joins a device side, else the host.

    Mixed inputs (device features, numpy outputs) then copy the small host
    side to the device, not the device's ``m x m`` kernel to the host.
    """
    if _same_place(a, b):
        return a, b
    if _on_host(a) and not _on_host(b) and _working_on_device(b):
        return a.moved_to(b), b
    if _on_host(b) and not _on_host(a) and _working_on_device(a):
        return a, b.moved_to(a)
    return a.on_host(), b.on_host()


def _working_on_device(side):
    return accumulation_dtype(side.xp, side.device) == side.xp.float64


def _exact_rtol(dtype, m, q):
    """Constant-side floor of columns centred exactly (host float64).

    The values are exact in float64; subtracting their float64 mean leaves a
    residue of relative size about ``m eps64``, and a spread within a few
    units in the last place of ``dtype`` is rounding (a constant computed in
    that dtype).  A side whose centred Gram is below the square of the larger
    of the two, relative to its uncentred one, is constant to working
    precision.  Real spread above that is measured, at any ``m``: a float32
    side of mean 1000 and spread 0.1 is not constant.
    """
    return max(_ULPS * dtype_eps(dtype), m * EPS64) ** 2


def _is_constant(side):
    return side.centred_norm() <= side.rtol * max(side.norm, 1e-300)


def side_cka(a, b):
    """Linear CKA of two :class:`_Side` s; 0 with a warning for a constant side."""
    if _is_constant(a) or _is_constant(b):
        return constant_representation_cka()
    na, nb = a.centred_norm(), b.centred_norm()
    return float(np.clip(a.inner(b) / (na * nb), 0.0, 1.0))


def _working(A):
    """Return ``A`` where CKA's side algebra runs: its device if it has float64.

    Centring and the span basis of the outputs need float64 (a float32
    centring of outputs with an offset loses digits to its square); on a
    device without float64 (Apple MPS) the side is brought to the host in
    float64, as all sides were before the device route.
    """
    if isinstance(A, np.ndarray):
        return A
    xp, device = namespace_and_device(A)
    if accumulation_dtype(xp, device) == xp.float64:
        return A
    return to_host(A)


def _scaled(A, name):
    """Return ``A`` in its accumulation dtype over a power of two near its top.

    Where ``A`` lives (numpy, torch, CuPy...); dask and sparse input come to
    the host (their kernels are numpy already).
    """
    if is_dask(A) or sp.issparse(A):
        A = to_host(A)
    A = _working(A)
    xp, device = namespace_and_device(A)
    D = A if isinstance(A, np.ndarray) and A.dtype == np.float64 else None
    if D is None:
        D = xp.astype(A, accumulation_dtype(xp, device))
    top = float(to_host(xp.max(xp.abs(D)))) if D.shape[0] * D.shape[1] else 0.0
    if not math.isfinite(top):
        raise ValueError(f"{name} contains NaN or infinity.")
    return D / 2.0 ** round(math.log2(top)) if top > 0 else D


def wide_cka_mf(Phi, F):
    """CKA-MF of a wide ``Phi`` (``p > m``) from its ``m x m`` centred kernel.

    ``P_F = Z Z^T`` with ``Z = F W`` an orthonormal basis of ``span(F)``
    (rank-revealing, as :func:`cka_mf_from_grams`), so ``<HKH, H P_F H>`` is
    ``tr(Z~^T HKH Z~)``: no ``p x p`` and no second ``m x m`` matrix.
    """
    D = _scaled(F, "outputs")
    xp, device = namespace_and_device(D)
    m, c = D.shape
    # The c x c Gram of the outputs is all that crosses for their basis.
    W = span_basis(to_host(D.T @ D), span_rtol(F.dtype, m, c, exact=True))
    features = _Side.of(Phi, "Phi")
    if not W.shape[1]:
        zeros = xp.zeros((m, 1), dtype=D.dtype, device=device)
        return 1.0 - side_cka(features, _Side.of_data(zeros, 0.0))
    outputs = _Side.of_data(
        D @ from_host(W, xp, device, D.dtype), _exact_rtol(F.dtype, m, c)
    )
    return 1.0 - side_cka(features, outputs)


class _RawBlocks(GramBlocks):
    """Gram blocks of moments as accumulated (no per-block rescaling)."""

    def __init__(self, moments, dtypes):
        gram = to_host(moments.gram) * np.outer(moments.scales, moments.scales)
        self.gram = gram
        self.sums = to_host(moments.sums) * moments.scales
        self.n_samples = moments.n_samples
        self._dtypes = dtypes
        edges = np.cumsum([0, *moments.widths])
        self._slices = [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


def _with_squared_norms(X, Y):
    """Centred, rescaled ``[X, Y]`` and their squared row norms (see above)."""
    if is_dask(X) or is_dask(Y) or sp.issparse(X) or sp.issparse(Y):
        X, Y = to_host(X), to_host(Y)
    xp, _ = namespace_and_device(X, Y)
    blocks = []
    for A in (X, Y):
        top = float(to_host(xp.max(xp.abs(A))))
        if not math.isfinite(top):
            raise ValueError("X and Y must not contain NaN or infinity.")
        scale = 2.0 ** round(math.log2(top)) if top > 0 else 1.0
        A = xp.astype(A, xp.float64) / scale
        blocks.append(A - xp.mean(A, axis=0))
    squared = [xp.sum(A * A, axis=1)[:, None] for A in blocks]
    return (*blocks, *squared)


def cka_mf_from_grams(grams, features=0, outputs=1, basis=None):
    """CKA-MF from the Gram blocks of ``[... Phi ... F ...]`` (one pass).

    ``basis``: the coefficients ``W`` of an orthonormal basis of the
    uncentred ``span(F)`` when the blocks hold ``F`` shifted by a row
    (:func:`cka_mf_digits_kept`; every other quantity here is centred, so the
    shift does not change it, and a block's scale only scales ``F W``).
    """
    gram_ff = grams.block(outputs, outputs)
    # Z = F W: an orthonormal basis of span(F), so Z Z^T is the projector P_F.
    W = span_basis(gram_ff, grams.span_rtol(outputs)) if basis is None else basis
    # The features' blocks stay where they live (p x p on a device); W is
    # small (outputs x rank) and goes to them.
    gram_xf = grams.device_block(features, outputs)
    xp, device = namespace_and_device(gram_xf)
    cka = centred_cka(
        grams.device_block(features, features),
        gram_xf @ from_host(W, xp, device, gram_xf.dtype),
        W.T @ gram_ff @ W,
        grams.device_block_sums(features),
        W.T @ grams.block_sums(outputs),
        grams.n_samples,
        grams.noise_rtol(),
        exact_side_rtol(grams.dtype_of(outputs), grams.n_samples, W.shape[1]),
    )
    return 1.0 - cka


def _checked_pair(Phi, outputs):
    Phi = check_matrix(Phi, "Phi", min_samples=2)
    F = check_matrix(outputs, "outputs", allow_1d=True, min_samples=2)
    check_same_length(("Phi", Phi), ("outputs", F))
    return Phi, F


@validate_params(
    {"Phi": ["array-like"], "outputs": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def cka_mf(Phi, outputs):
    """CKA minimal-feature measure: ``1 - CKA(Phi Phi^T, P_F)``.

    ``P_F`` is the orthogonal projector onto the span of the learned outputs
    (the kernel of the idealised minimal-projection operator of Nam et al.).
    0 means the features carry exactly the learned function (tight
    minimal-feature regime); values near 1 mean many other features.

    Parameters
    ----------
    Phi : array-like of shape (m, p)
        Features of a (held-out) sample.
    outputs : array-like of shape (m, C) or (m,)
        Learned outputs (logits) on the same sample.

    Returns
    -------
    cka_mf : float
        In ``[0, 1]``.  1, with a warning, when the features or the outputs are
        constant over the samples.

    See Also
    --------
    feature_regime : ``"MF"`` / ``"EF"`` from this measure.
    linear_cka : CKA of two representations.

    Notes
    -----
    The basis of ``span(F)`` is rank-revealing (numpy ``matrix_rank``'s rule on
    the singular values of ``F``, as for every span in skfeat).  Computed from
    the Gram matrix of ``[Phi | F]`` and its column sums, one pass over the
    rows, never an ``m x m`` array -- or, for a layer wider than the sample
    (``p > m``), from the ``m x m`` centred kernel of ``Phi`` (one pass over
    its columns) and the basis of ``span(F)``, never a ``p x p`` array.

    References
    ----------
    .. [1] Nam, Mingard, Lee, Hayou, Louis. "Visualising feature learning in deep
       neural networks by diagonalizing the forward feature map", arXiv:2410.04264,
       Definition 5.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics import cka_mf
    >>> rng = np.random.default_rng(0)
    >>> codes = np.eye(3)[rng.integers(0, 3, size=300)]
    >>> round(cka_mf(codes, codes @ rng.normal(size=(3, 3))), 10)
    0.0
    """
    Phi, F = _checked_pair(Phi, outputs)
    if samples_side_is_smaller(*Phi.shape):
        return wide_cka_mf(Phi, F)
    return cka_mf_digits_kept(Phi, F, GramBlocks(Phi, F, name="Phi"))


def cka_mf_digits_kept(X, F, grams, features=0, outputs=1):
    """CKA-MF of ``X`` and ``F`` from their Gram blocks, digits kept.

    As :func:`cka_mf_from_grams`; when the products' rounding eats a centred
    Gram (``X``'s, or the cross products with ``F``, which are formed in
    ``X``'s dtype, when ``F``'s mean is much larger than its spread), a
    second pass over the sides shifted by their first row
    (:func:`_shifted_blocks`), with the basis of the uncentred ``span(F)``
    from this pass.  A side that is constant to rounding
    (:func:`constant_columns`) gives 1 with a warning.
    """
    second = _shifted_blocks(X, F, grams, features, outputs, name="X")
    if second is _CONSTANT:
        return 1.0 - constant_representation_cka()
    if second is None:
        return cka_mf_from_grams(grams, features, outputs)
    W = span_basis(grams.block(outputs, outputs), grams.span_rtol(outputs))
    return cka_mf_from_grams(second, 0, 1, basis=W)


def _centred_blocks(X, Y, *, name):
    """Gram blocks of ``[X | Y]`` for a centred measure, digits kept.

    One pass as usual, and a second one over the shifted sides when the first
    lost digits (:func:`_shifted_blocks`): every centred measure is
    unchanged by a shift.
    """
    grams = GramBlocks(X, Y, name=name)
    second = _shifted_blocks(X, Y, grams, 0, 1, name=name)
    return grams if second is None else second


# _shifted_blocks' answer for a side that is constant to rounding.
_CONSTANT = "constant"


def _shifted_blocks(X, Y, grams, i, j, *, name):
    """Gram blocks of ``[X - x_1 | Y - y_1]`` where ``grams`` lost digits, else None.

    Where a centred Gram is that small the Grams cannot tell a constant
    side from a real spread below their rounding, and the data are read
    (:func:`constant_columns`, only then: two reductions): ``_CONSTANT``
    for a constant side.

    ``X``'s centred Gram is lost when its mean is so much larger than its
    spread that the rounding of its products eats it (:func:`lost_digits`);
    ``Y``'s when its own centred Gram is that small next to the rounding of
    the cross products ``X^T Y``, which are formed in ``X``'s dtype.  A side
    that lost digits is shifted by its first row (exact in its dtype to its
    spread's precision); sparse sides keep the first pass (a shift would be
    dense).  The second pass copies the shifted sides once.
    """
    lost_x, lost_y = lost_digits(grams, i), _side_lost(grams, j)
    if not (lost_x or lost_y):
        return None
    if constant_columns(X) or constant_columns(Y):
        return _CONSTANT
    lost_x, lost_y = lost_x and not sp.issparse(X), lost_y and not sp.issparse(Y)
    if not (lost_x or lost_y):
        return None
    return GramBlocks(X - X[:1] if lost_x else X, Y - Y[:1] if lost_y else Y, name=name)


def _side_lost(grams, j, factor=1e4):
    """Whether side block ``j``'s mean dwarfs its spread for this pass.

    The cross products with block 0 are formed in block 0's dtype: their
    centred part keeps about ``1 / (rtol * mean / spread)`` of its digits,
    so the side is measured again shifted when ``mean / spread`` exceeds
    ``1 / (factor * rtol)`` (a Gram ratio below ``(factor * rtol)^2``) --
    or when its own centred Gram is within the float64 residue of this
    pass (:func:`~skfeat.metrics._gram.exact_side_rtol`): the side is not
    constant (the caller checked), so its spread is real and the shifted
    pass measures it.
    """
    gjj, sj = grams.block(j, j), grams.block_sums(j)
    centred = gjj - np.outer(sj, sj) / grams.n_samples
    floor = max(
        (factor * grams.noise_rtol()) ** 2,
        exact_side_rtol(grams.dtype_of(j), grams.n_samples, gjj.shape[0]),
    )
    return np.linalg.norm(centred) <= floor * np.linalg.norm(gjj)


@validate_params(
    {
        "Phi": ["array-like"],
        "outputs": ["array-like"],
        "threshold": [Interval(Real, 0, 1, closed="both")],
    },
    prefer_skip_nested_validation=True,
)
def feature_regime(Phi, outputs, *, threshold=0.1):
    """Feature-learning regime: ``"MF"`` (minimal features) or ``"EF"`` (extended).

    ``"MF"`` when :func:`cka_mf` is at most ``threshold``, else ``"EF"``.

    Parameters
    ----------
    Phi : array-like of shape (m, p)
        Features of a (held-out) sample.
    outputs : array-like of shape (m, C) or (m,)
        Learned outputs on the same sample.
    threshold : float in [0, 1], default=0.1
        Largest CKA-MF still called minimal-feature.  The paper leaves this
        epsilon free; 0.1 is skfeat's documented choice.

    Returns
    -------
    regime : {"MF", "EF"}
        The regime label.

    See Also
    --------
    cka_mf : The underlying measure.

    References
    ----------
    .. [1] Nam, Mingard, Lee, Hayou, Louis. "Visualising feature learning in deep
       neural networks by diagonalizing the forward feature map", arXiv:2410.04264.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics import feature_regime
    >>> rng = np.random.default_rng(0)
    >>> codes = np.eye(3)[rng.integers(0, 3, size=300)]
    >>> feature_regime(codes + 0.01 * rng.normal(size=(300, 3)), codes)
    'MF'
    >>> feature_regime(rng.normal(size=(300, 50)), codes)
    'EF'
    """
    return regime_from_cka_mf(cka_mf(Phi, outputs), threshold)


def regime_from_cka_mf(value, threshold=0.1):
    """``"MF"`` when a CKA-MF ``value`` is at most ``threshold``, else ``"EF"``."""
    return "MF" if value <= threshold else "EF"
