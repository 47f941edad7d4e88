"""One-pass second moments of column blocks: the mechanism under every measure.

Everything in sections 1-4 of the spec is a function of the uncentred second
moment ``B^T B`` and the column sums of a block matrix ``B = [D | S_1 | ...]``
(data, then side blocks such as targets and outputs) over the rows of a
sample.  :class:`Moments` accumulates both over row chunks, so that

* in-memory data is processed chunk by chunk (no copy of ``X``: a row slice is
  a view, and numpy's ``a.T @ a`` on it is one BLAS ``syrk``);
* streaming (``partial_fit``) is the same loop over chunks the user hands in;
* accumulators of disjoint row sets merge by addition (dask / multi-process);
* dask arrays chunked by rows are reduced by dask itself: one task per row
  block computes that block's small product, and dask's tree reduction
  (``Array.sum``) adds them up, on one machine or a cluster.

Precision.  The data block's products ``D^T D`` and ``D^T S`` run where the
data lives in the data's dtype (float32 stays float32: that is the fast
path); each chunk's small result is added into a float64 accumulator (the
widest float the device has).  The side blocks' own products ``S^T S`` are
formed in float64, where float32 numbers multiply exactly, so that the rank
of a target or output block is that of the numbers given (numpy's
``matrix_rank`` rule can then be applied to it, see :mod:`skfeat.utils._rank`).

Range.  Squares of valid data can overflow (float32 above ``1e19``) or lose
their digits to underflow (float32 below ``1e-19``).  The fast path checks its
small result; when it is not finite or too small to be accurate, the data
are checked for NaN and infinity (a real error) and otherwise measured again,
each block divided by a power of two near its largest magnitude (exact) and
multiplied in float64.  The accumulator then holds ``B^T B`` in units of the
blocks' scales: ``true = gram * outer(scales, scales)``.  Every measure that
is invariant to rescaling a block reads the scaled values directly; the
spectrum multiplies its eigenvalues back.
"""

import math

import numpy as np
import scipy.sparse as sp

from .utils._array_api import (
    accumulation_dtype,
    from_host,
    is_dask,
    namespace_and_device,
    to_host,
)
from .utils._rank import dtype_eps
from .utils._rows import CHUNK_ELEMENTS, row_chunks

__all__ = ["Moments", "gram_product", "sample_moments", "samples_side_is_smaller"]

# A single dense block is read through row views, which copy nothing: its
# chunks only bound the summation in the data's dtype inside BLAS before the
# float64 accumulation. Chunks 16x larger cost no memory and keep one pass of
# numpy's syrk within a few percent of one X^T X (4 Mi-element chunks were
# 10% slower at n = 50 000, p = 512).
_VIEW_CHUNK_ELEMENTS = 1 << 26

_NONFINITE = "contains NaN or infinity"


class Moments:
    """Running ``B^T B``, column sums and row count of a block matrix.

    Parameters
    ----------
    chunk_rows : int, default=None
        Rows per chunk; by default about 4 Mi elements a chunk.
    with_sums : bool, default=True
        Whether to accumulate column sums (``sums`` stays None otherwise).
    name : str, default="Input"
        What the data is called in error messages.

    Attributes
    ----------
    gram : array of shape (d, d)
        Sum over rows of ``b b^T`` (uncentred), in the accumulation dtype, in
        units of ``scales`` (see the module docstring).
    sums : array of shape (d,)
        Column sums, in units of ``scales``.
    scales : ndarray of shape (d,)
        Host float64 scale of each column (that of its block; powers of two,
        1 unless the values needed rescaling).
    n_samples : int
        Number of rows seen.
    widths : tuple of int
        Number of columns of each block, in the order given to :meth:`update`.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat._moments import Moments
    >>> X = np.arange(6.0).reshape(3, 2)
    >>> m = Moments().update(X)
    >>> m.n_samples, m.gram.tolist(), m.sums.tolist()
    (3, [[20.0, 26.0], [26.0, 35.0]], [6.0, 9.0])
    >>> big = Moments().update(X * 1e200)  # squares beyond float64: rescaled
    >>> bool(np.allclose(big.gram * (big.scales[0] / 1e200) ** 2, m.gram))
    True
    """

    def __init__(self, chunk_rows=None, *, with_sums=True, name="Input"):
        self.chunk_rows = chunk_rows
        self.with_sums = with_sums
        self.name = name
        self.gram = None
        self.sums = None
        self.scales = None
        self.n_samples = 0
        self.widths = None
        self._block_scales = None

    @classmethod
    def from_gram(cls, gram, n_samples, scale=1.0, *, name="Input"):
        """Moments of one block, ``B^T B = gram * scale^2``, without sums.

        For continuing from a second moment known otherwise (a fitted
        spectrum's eigenpairs, for ``partial_fit``).

        Parameters
        ----------
        gram : array of shape (p, p)
            ``B^T B / scale^2`` in the accumulation dtype of its device.
        n_samples : int
            Rows it sums over.
        scale : float, default=1.0
            The block's scale.
        name : str, default="Input"
            What the data is called in error messages.

        Returns
        -------
        moments : Moments
            Ready for :meth:`update`.
        """
        moments = cls(with_sums=False, name=name)
        moments.gram = gram
        moments.n_samples = int(n_samples)
        moments.widths = (gram.shape[1],)
        moments._set_scales([scale])
        return moments

    def update(self, *blocks):
        """Add the rows of ``[blocks[0] | blocks[1] | ...]``; returns ``self``.

        Nothing is changed when the update fails (NaN or infinity in a
        block, blocks of different lengths or widths).
        """
        widths = tuple(b.shape[1] for b in blocks)
        if self.widths is not None and widths != self.widths:
            raise ValueError(
                f"Blocks have {widths} columns; earlier updates had {self.widths}."
            )
        lengths = {int(b.shape[0]) for b in blocks}
        if len(lengths) > 1:
            raise ValueError(
                f"Blocks have different numbers of rows: {sorted(lengths)}; they "
                "must describe the same samples."
            )
        if any(is_dask(b) for b in blocks):
            gram, sums, scales = _dask_moments(blocks, self.name)
            xp, device = np, None
        else:
            xp, device = namespace_and_device(*blocks)
            gram, sums, scales = _moments_of(blocks, xp, device, self)
        self._add(gram, sums, scales, widths, xp)
        self.n_samples += blocks[0].shape[0]
        return self

    def merge(self, other):
        """Add the moments of ``other`` (disjoint rows); returns ``self``."""
        if other.gram is None:
            return self
        if self.widths is not None and other.widths != self.widths:
            raise ValueError("Cannot merge moments of different block widths.")
        xp, _ = namespace_and_device(other.gram)
        sums = other.sums if self.with_sums else None
        self._add(other.gram, sums, other._block_scales, other.widths, xp)
        self.n_samples += other.n_samples
        return self

    def host_gram(self):
        """Return the true ``B^T B`` on the host in float64 (scales applied).

        Raises a ValueError when a true entry overflows float64.
        """
        gram = to_host(self.gram)
        with np.errstate(over="ignore", invalid="ignore"):
            true = gram * np.outer(self.scales, self.scales)
        if not np.all(np.isfinite(true)):
            raise ValueError(
                f"{self.name} is too large: its second moments overflow float64."
            )
        return true

    def _add(self, gram, sums, scales, widths, xp):
        """Add a small product in block units ``scales`` into the accumulator."""
        if self.gram is None:
            # Copies: the accumulator is updated in place later, and must not
            # change the arrays it came from (another accumulator's).
            self.gram = xp.asarray(gram, copy=True)
            self.sums = xp.asarray(sums, copy=True) if self.with_sums else None
            self.widths = widths
            self._set_scales(list(scales))
            return
        common = [max(a, b) for a, b in zip(self._block_scales, scales)]
        if common != list(self._block_scales):
            factors = self._columns([a / c for a, c in zip(self._block_scales, common)])
            self.gram = self.gram * _small(np.outer(factors, factors), self.gram, xp)
            if self.with_sums:
                self.sums = self.sums * _small(factors, self.sums, xp)
        if common != list(scales):
            factors = self._columns([b / c for b, c in zip(scales, common)])
            gram = gram * _small(np.outer(factors, factors), gram, xp)
            if self.with_sums:
                sums = sums * _small(factors, sums, xp)
        self.gram = self.gram + gram
        if self.with_sums:
            self.sums = self.sums + sums
        self._set_scales(common)

    def _set_scales(self, block_scales):
        self._block_scales = tuple(float(s) for s in block_scales)
        self.scales = self._columns(self._block_scales)

    def _columns(self, per_block):
        return np.repeat(np.asarray(per_block, dtype=np.float64), self.widths)


def _small(host, like, xp):
    """Return a host float64 array in the namespace, device and dtype of ``like``."""
    if is_dask(like) or isinstance(like, np.ndarray):
        return host
    _, device = namespace_and_device(like)
    return from_host(host, xp, device, like.dtype)


def _moments_of(blocks, xp, device, moments):
    """``(gram, sums, block scales)`` of in-memory blocks, checked for range."""
    acc = accumulation_dtype(xp, device)
    n_rows, width = blocks[0].shape[0], sum(b.shape[1] for b in blocks)
    chunks = list(row_chunks(n_rows, width, _fast_chunk_rows(blocks, moments)))
    unit = [1.0] * len(blocks)
    with_sums = moments.with_sums
    with np.errstate(all="ignore"):
        gram, sums = _pass(blocks, chunks, unit, xp, device, acc, with_sums)
    if _in_range(gram, sums, blocks, n_rows, xp):
        return gram, sums, unit
    # Out of the fast path's range, or NaN / infinity: find out which.
    scales = [_scale_of(b, xp, moments.name) for b in blocks]
    # This pass copies each chunk in float64: chunks of CHUNK_ELEMENTS.
    chunks = list(row_chunks(n_rows, width, moments.chunk_rows))
    with np.errstate(all="ignore"):
        gram, sums = _pass(blocks, chunks, scales, xp, device, acc, with_sums)
    if not bool(xp.all(xp.isfinite(gram))):  # pragma: no cover - defensive
        raise ValueError(f"{moments.name} {_NONFINITE}.")
    return gram, sums, scales


def _fast_chunk_rows(blocks, moments):
    """Rows per chunk of the fast pass (the data block read through views).

    The data block's rows are views: its chunks only bound the float32
    summation inside BLAS, so they hold up to ``_VIEW_CHUNK_ELEMENTS``.
    Side blocks (targets, outputs) are copied per chunk (float64 and the
    data's dtype), so their share stays within ``CHUNK_ELEMENTS``.  Sparse
    blocks are densified per chunk: ``CHUNK_ELEMENTS`` in all.
    """
    if moments.chunk_rows is not None:
        return moments.chunk_rows
    width = sum(b.shape[1] for b in blocks)
    if any(sp.issparse(b) for b in blocks):
        return max(256, CHUNK_ELEMENTS // max(width, 1))
    rows = _VIEW_CHUNK_ELEMENTS // max(blocks[0].shape[1], 1)
    side = width - blocks[0].shape[1]
    if side:
        rows = min(rows, CHUNK_ELEMENTS // side)
    return max(256, rows)


def _pass(blocks, chunks, scales, xp, device, acc, with_sums):
    """One pass over the row chunks; block ``i`` divided by ``scales[i]``."""
    d = sum(b.shape[1] for b in blocks)
    p = blocks[0].shape[1]
    gram = xp.zeros((d, d), dtype=acc, device=device)
    sums = xp.zeros((d,), dtype=acc, device=device) if with_sums else None
    scaled = any(s != 1.0 for s in scales)
    for rows in chunks:
        data, *side = (
            _chunk(b, rows, s, scaled, acc, xp) for b, s in zip(blocks, scales)
        )
        gram[:p, :p] += _as_acc(data.T @ data, acc, xp)
        if side:
            side_acc = _concat([_dense(s, xp, acc) for s in side], xp)
            cross = data.T @ _concat([_dense(s, xp, data.dtype) for s in side], xp)
            gram[:p, p:] += _as_acc(cross, acc, xp)
            gram[p:, p:] += side_acc.T @ side_acc
        if with_sums:
            sums[:p] += _as_acc(_column_sums(data, xp), acc, xp)
            if side:
                sums[p:] += xp.sum(side_acc, axis=0)
    if len(blocks) > 1:
        gram[p:, :p] = gram[:p, p:].T
    return gram, sums


def _chunk(block, rows, scale, scaled, acc, xp):
    """Rows of one block: a view on the fast path, float64 / scale otherwise."""
    chunk = block[rows] if sp.issparse(block) else block[rows, ...]
    if not scaled:
        return chunk
    if sp.issparse(chunk):
        return chunk.astype(np.float64) / scale
    return xp.astype(chunk, acc) / scale


def _dense(block, xp, dtype):
    if sp.issparse(block):
        return block.toarray().astype(dtype, copy=False)
    return xp.astype(block, dtype)


def _column_sums(chunk, xp):
    if sp.issparse(chunk):
        return np.asarray(chunk.sum(axis=0)).ravel()
    return xp.sum(chunk, axis=0)


def _as_acc(value, acc, xp):
    if sp.issparse(value):
        value = value.toarray()
    return xp.astype(value, acc)


def _concat(arrays, xp):
    if len(arrays) == 1:
        return arrays[0]
    return xp.concat(arrays, axis=1)


def _in_range(gram, sums, blocks, n_rows, xp):
    """Whether the fast path's products are finite and not lost to underflow.

    Squares accurate to the data's precision need the largest of them well
    above the smallest normal number: the largest diagonal entry of each
    block (a sum of ``n_rows`` squares) at least ``n_rows * tiny / eps`` of
    the data's dtype (the products with the data block are formed in it).
    A block whose squares are all zero may have underflowed: it is measured
    again too (an all-zero block then costs one more pass; it is rare).
    """
    if not bool(xp.all(xp.isfinite(gram))):
        return False
    if sums is not None and not bool(xp.all(xp.isfinite(sums))):
        return False
    info = np.finfo(np.float32 if dtype_eps(blocks[0].dtype) > 1e-10 else np.float64)
    floor = n_rows * float(info.tiny) / float(info.eps)
    diag = gram.diagonal() if isinstance(gram, np.ndarray) else xp.linalg.diagonal(gram)
    start = 0
    for block in blocks:
        width = block.shape[1]
        top = float(xp.max(diag[start : start + width]))
        start += width
        if top < floor:
            return False
    return True


def _scale_of(block, xp, name):
    """Power of two near the largest magnitude of ``block`` (1 for zeros).

    Raises the NaN / infinity error when the block holds one: this is where
    the fast path's non-finite result is told apart from overflow.
    """
    if sp.issparse(block):
        values = block.data
        top = float(np.max(np.abs(values))) if values.size else 0.0
    else:
        top = float(to_host(xp.max(xp.abs(block))))
    if not math.isfinite(top):
        raise ValueError(f"{name} {_NONFINITE}.")
    if top == 0.0:
        return 1.0
    return 2.0 ** round(math.log2(top))


def gram_product(X, Q, chunk_rows=None, *, name="Input"):
    """Return ``X^T (X Q)`` in one pass over the row chunks of ``X``.

    The ``n x l`` product ``X Q`` is only ever formed one chunk at a time, so a
    pass reads ``X`` once (memory, memmap or a dask cluster) and never holds
    more than a chunk, ``Q`` and the ``p x l`` result.  Values whose products
    leave the data's range are measured again in float64, ``X`` divided by a
    power of two (see :class:`Moments`): the result is ``Z / scale^2``.

    Parameters
    ----------
    X : array or dask array of shape (n_samples, p)
        Data, in any array namespace; dask arrays are reduced by dask.
    Q : array of shape (p, l)
        Small dense block, in ``X``'s namespace, device and dtype (numpy for
        dask input).
    chunk_rows : int, default=None
        Rows per chunk; by default about 4 Mi elements a chunk.
    name : str, default="Input"
        What ``X`` is called in error messages.

    Returns
    -------
    Z : array of shape (p, l)
        ``X^T X Q / scale^2`` in the accumulation dtype of ``X``'s device
        (float64 numpy for dask input).
    scale : float
        1 on the fast path, else the power of two ``X`` was divided by.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat._moments import gram_product
    >>> X = np.arange(6.0).reshape(3, 2)
    >>> Z, scale = gram_product(X, np.eye(2))
    >>> Z.tolist(), scale
    ([[20.0, 26.0], [26.0, 35.0]], 1.0)
    """
    if is_dask(X):
        return _dask_gram_product(X, Q, 1.0), 1.0
    xp, device = namespace_and_device(X, Q)
    acc = accumulation_dtype(xp, device)

    def run(scale):
        Z = xp.zeros((X.shape[1], Q.shape[1]), dtype=acc, device=device)
        Qs = Q if scale == 1.0 else xp.astype(Q, acc)
        for rows in row_chunks(X.shape[0], X.shape[1], chunk_rows):
            chunk = _chunk(X, rows, scale, scale != 1.0, acc, xp)
            Z += _as_acc(chunk.T @ (chunk @ Qs), acc, xp)
        return Z

    with np.errstate(all="ignore"):
        Z = run(1.0)
    info = np.finfo(np.float32 if dtype_eps(X.dtype) > 1e-10 else np.float64)
    floor = X.shape[0] * float(info.tiny) / float(info.eps)
    if bool(xp.all(xp.isfinite(Z))) and float(xp.max(xp.abs(Z))) >= floor:
        return Z, 1.0
    scale = _scale_of(X, xp, name)
    with np.errstate(all="ignore"):
        return run(scale), scale


def samples_side_is_smaller(n_samples, n_features):
    """Whether ``X X^T`` (``m x m``) is the smaller second moment of ``X``.

    The one rule by which every measure and the exact fit choose their side:
    the feature side ``X^T X`` (``p x p``, one pass over the rows) when
    ``p <= m``, the sample side ``X X^T`` when ``p > m`` (wide layers).  The
    two share their nonzero eigenvalues, so every Frobenius norm, trace and
    spectrum a measure needs comes out of either; the larger matrix is never
    formed.

    Examples
    --------
    >>> from skfeat._moments import samples_side_is_smaller
    >>> samples_side_is_smaller(400, 65536), samples_side_is_smaller(400, 64)
    (True, False)
    """
    return n_features > n_samples


def sample_moments(X, chunk_rows=None, *, name="Input"):
    """Return the :class:`Moments` of ``X^T``: ``gram`` is ``X X^T`` (``m x m``).

    The sample-side second moment of a wide ``X`` (``p > m``), accumulated
    over column chunks of ``X`` (rows of ``X^T``, views of a dense ``X``) in
    the data's dtype and summed in float64, range-safe as :class:`Moments`
    is (``true = gram * scales[0]^2``).  Never a ``p x p`` matrix, and no
    column sums (those of ``X^T`` are the row sums of ``X``).

    Parameters
    ----------
    X : array, sparse matrix or dask array of shape (m, p)
        Data; a dask array may be chunked by rows or columns (it is
        rechunked into blocks of whole columns, one task each).
    chunk_rows : int, default=None
        Columns of ``X`` per chunk.
    name : str, default="Input"
        What ``X`` is called in error messages.

    Returns
    -------
    moments : Moments
        ``moments.gram`` is ``X X^T / scales[0]^2``.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat._moments import sample_moments
    >>> X = np.arange(6.0).reshape(2, 3)
    >>> sample_moments(X).gram.tolist()
    [[5.0, 14.0], [14.0, 50.0]]
    """
    if sp.issparse(X):
        Xt = X.T.tocsr()
    elif is_dask(X):
        # Blocks of whole columns of X (rows of X^T), about 16 Mi elements
        # each: a dask array chunked by rows would otherwise be one task.
        columns = chunk_rows or max(1, 4 * CHUNK_ELEMENTS // max(X.shape[0], 1))
        Xt = X.T.rechunk({0: columns, 1: -1})
    else:
        Xt = X.T
    return Moments(chunk_rows, with_sums=False, name=name).update(Xt)


# -- dask ---------------------------------------------------------------------


def _dask_concat(blocks):
    """One dask array ``[B_1 | B_2 | ...]`` chunked by rows only."""
    import dask.array as da

    rows = next(b for b in blocks if is_dask(b)).chunks[0]
    if any(np.isnan(c) for c in rows):
        raise ValueError(
            "The dask array has unknown chunk sizes; call "
            "X.compute_chunk_sizes() first."
        )
    parts = [
        b if is_dask(b) else da.from_array(np.asarray(b), chunks=(rows, -1))
        for b in blocks
    ]
    X = parts[0] if len(parts) == 1 else da.concatenate(parts, axis=1)
    # Full rows in each block: every task then computes a whole d x d product.
    return X.rechunk({0: rows, 1: -1})


def _dask_moments(blocks, name):
    """Dask route: blockwise products, summed by dask's tree reduction.

    Each task computes its block's products as the in-memory route does (the
    data block in its dtype, side blocks in float64); when the fast path's
    result is out of range, the whole array is measured again divided by a
    power of two of its largest magnitude (one more pass, as in memory).
    """
    import dask
    import dask.array as da

    widths = [b.shape[1] for b in blocks]
    X = _dask_concat(blocks)
    dtypes = [b.dtype for b in blocks]

    def reduce(scales):
        d = X.shape[1]
        parts = da.blockwise(
            _block_moments,
            "bjk",
            X,
            "bj",
            new_axes={"k": d + 1},
            adjust_chunks={"b": 1},
            dtype=np.float64,
            widths=widths,
            dtypes=dtypes,
            scales=scales,
        )
        (total,) = dask.compute(parts.sum(axis=0))
        return total[:, :d], total[:, d]

    unit = [1.0] * len(blocks)
    with np.errstate(all="ignore"):
        gram, sums = reduce(unit)
    if _in_range(gram, sums, blocks, X.shape[0], np):
        return gram, sums, unit
    scales = []
    start = 0
    for width in widths:
        top = float(da.max(da.fabs(X[:, start : start + width])).compute())
        start += width
        if not math.isfinite(top):
            raise ValueError(f"{name} {_NONFINITE}.")
        scales.append(1.0 if top == 0 else 2.0 ** round(math.log2(top)))
    with np.errstate(all="ignore"):
        gram, sums = reduce(scales)
    return gram, sums, scales


# Block functions run on dask workers: module level, so that they pickle by
# reference.
def _block_moments(block, widths, dtypes, scales):
    """``[gram | sums]`` (d x (d + 1)) of one row block, float64, with a row axis."""
    edges = np.cumsum([0] + list(widths))
    blocks = [
        np.asarray(block[:, a:b], dtype=dtype)
        for a, b, dtype in zip(edges[:-1], edges[1:], dtypes)
    ]
    gram, sums = _pass(
        blocks, [slice(0, block.shape[0])], scales, np, None, np.float64, True
    )
    return np.concatenate([gram, sums[:, None]], axis=1)[None]


def _dask_gram_product(X, Q, scale):
    import dask.array as da

    X = _dask_concat([X])
    Qd = da.from_array(np.asarray(Q), chunks=Q.shape)
    parts = da.blockwise(
        _block_gram_product,
        "bjk",
        X,
        "bj",
        Qd,
        "jk",
        adjust_chunks={"b": 1},
        dtype=np.float64,
    )
    return parts.sum(axis=0).compute()


def _block_gram_product(block, Q):
    Q = Q.astype(block.dtype, copy=False)
    return (block.T @ (block @ Q)).astype(np.float64)[None]
