"""One-pass second moments of column blocks: the mechanism under every measure.

Everything in sections 1-4 of the spec is a function of the uncentred second
moment ``B^T B`` and the column sums of a block matrix ``B = [B_1 | B_2 | ...]``
(features, targets, outputs) over the rows of a sample.  :class:`Moments`
accumulates both over row chunks, so that

* in-memory data is processed chunk by chunk (no copy of ``X``: a row slice is
  a view, and numpy's ``a.T @ a`` on it is one BLAS ``syrk``);
* streaming (``partial_fit``) is the same loop over chunks the user hands in;
* accumulators of disjoint row sets merge by addition (dask / multi-process);
* dask arrays chunked by rows are reduced by dask itself: one task per row
  block computes that block's small product, and dask's tree reduction
  (``Array.sum``, ``split_every``) adds them up, on one machine or a cluster.

The products run where the data lives (numpy, torch, cupy, array-api-strict)
in the data's dtype; each chunk's small ``d x d`` result is added into an
accumulator of the widest float dtype the device supports (float64 almost
everywhere), which keeps the summation error of long streams down.
"""

import numpy as np
import scipy.sparse as sp

from .utils._array_api import accumulation_dtype, is_dask, namespace_and_device

__all__ = ["Moments", "gram_product", "row_chunks"]

# Elements per chunk (rows x columns): 4 Mi elements = 16 MiB of float32. Large
# enough that each chunk's product runs at full BLAS speed, small enough that
# the concatenation of several blocks stays well under the size of the data.
_CHUNK_ELEMENTS = 1 << 22
# A single dense block is read through row views, which copy nothing: its
# chunks only bound the float32 summation inside BLAS before the float64
# accumulation. Chunks 16x larger cost no memory and keep one pass of
# numpy's syrk within a few percent of one X^T X (4 Mi-element chunks were
# 10% slower at n = 50 000, p = 512).
_VIEW_CHUNK_ELEMENTS = 1 << 26


def row_chunks(n_rows, n_cols, chunk_rows=None, *, chunk_elements=_CHUNK_ELEMENTS):
    """Yield ``slice`` objects that cover ``range(n_rows)`` in row chunks."""
    if chunk_rows is None:
        chunk_rows = max(256, chunk_elements // max(n_cols, 1))
    for start in range(0, n_rows, chunk_rows):
        yield slice(start, min(start + chunk_rows, n_rows))


class Moments:
    """Running ``B^T B``, column sums and row count of a block matrix.

    Parameters
    ----------
    chunk_rows : int, default=None
        Rows per chunk; by default about 4 Mi elements a chunk.
    with_sums : bool, default=True
        Whether to accumulate column sums (``sums`` stays None otherwise).

    Attributes
    ----------
    gram : array of shape (d, d)
        Sum over rows of ``b b^T`` (uncentred), in the accumulation dtype.
    sums : array of shape (d,)
        Column sums.
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
    """

    def __init__(self, chunk_rows=None, *, with_sums=True):
        self.chunk_rows = chunk_rows
        self.with_sums = with_sums
        self.gram = None
        self.sums = None
        self.n_samples = 0
        self.widths = None

    def update(self, *blocks):
        """Add the rows of ``[blocks[0] | blocks[1] | ...]``; returns ``self``."""
        n_rows = blocks[0].shape[0]
        widths = tuple(b.shape[1] for b in blocks)
        if self.widths is None:
            self.widths = widths
        elif widths != self.widths:
            raise ValueError(
                f"Blocks have {widths} columns; earlier updates had {self.widths}."
            )
        if any(is_dask(b) for b in blocks):
            return self._update_dask(blocks)
        xp, device = namespace_and_device(*blocks)
        sparse = any(sp.issparse(b) for b in blocks)
        acc = accumulation_dtype(xp, device)
        if self.gram is None:
            d = sum(widths)
            self.gram = xp.zeros((d, d), dtype=acc, device=device)
            if self.with_sums:
                self.sums = xp.zeros((d,), dtype=acc, device=device)
        gram = xp.zeros_like(self.gram)
        sums = xp.zeros_like(self.sums) if self.with_sums else None
        # Non-finite input is reported below, from the sums, not as a warning.
        with np.errstate(invalid="ignore", over="ignore"):
            views = len(blocks) == 1 and not sparse
            elements = _VIEW_CHUNK_ELEMENTS if views else _CHUNK_ELEMENTS
            for rows in row_chunks(
                n_rows, sum(widths), self.chunk_rows, chunk_elements=elements
            ):
                if sparse:
                    chunk = sp.hstack([sp.csr_array(b[rows]) for b in blocks])
                    chunk = chunk.tocsr()
                    g = (chunk.T @ chunk).toarray()
                else:
                    chunk = _concat_columns([b[rows, ...] for b in blocks], xp)
                    g = chunk.T @ chunk
                gram += xp.astype(xp.asarray(g, device=device), acc)
                if self.with_sums:
                    s = chunk.sum(axis=0) if sparse else xp.sum(chunk, axis=0)
                    sums += xp.astype(xp.asarray(s, device=device), acc)
        # The accumulator is only touched once the update is known clean.
        _check_finite_gram(gram, xp)
        self.gram += gram
        if self.with_sums:
            self.sums += sums
        self.n_samples += n_rows
        return self

    def _update_dask(self, blocks):
        """Dask route: blockwise products, summed by dask's tree reduction."""
        import dask

        X = _dask_concat(blocks)
        d = X.shape[1]
        gram = _blockwise_sum(X, _block_gram, (d, d))
        sums = _blockwise_sum(X, _block_sums, (d,))
        # One compute for both: dask reads each row block once.
        gram, sums = dask.compute(gram, sums)
        _check_finite_gram(gram, np)
        if self.gram is None:
            self.gram = np.zeros((d, d))
            self.sums = np.zeros(d)
        self.gram += gram
        self.sums += sums
        self.n_samples += X.shape[0]
        return self

    def merge(self, other):
        """Add the moments of ``other`` (disjoint rows); returns ``self``."""
        if other.gram is None:
            return self
        if self.gram is None:
            # Copies: update() adds into these in place, and must not change
            # the accumulator they came from.
            xp, _ = namespace_and_device(other.gram)
            self.gram = xp.asarray(other.gram, copy=True)
            if other.sums is not None:
                self.sums = xp.asarray(other.sums, copy=True)
            self.widths = other.widths
        else:
            if other.widths != self.widths:
                raise ValueError("Cannot merge moments of different block widths.")
            self.gram = self.gram + other.gram
            if self.sums is not None and other.sums is not None:
                self.sums = self.sums + other.sums
            else:
                self.sums = None
        self.n_samples += other.n_samples
        return self


def _check_finite_gram(gram, xp):
    """Raise unless the ``d x d`` product of an update is finite.

    NaN or infinity anywhere in the rows reaches ``B^T B`` (its diagonal
    holds the squared column norms): checking it is as strict as checking the
    data, at a cost of ``d^2`` instead of ``n d``, and without a second pass
    over data that is read from disk or a cluster.
    """
    if not bool(xp.all(xp.isfinite(gram))):
        raise ValueError(
            "Input contains NaN or infinity (or values so large that their "
            "squares overflow)."
        )


def gram_product(X, Q, chunk_rows=None):
    """Return ``X^T (X Q)`` in one pass over the row chunks of ``X``.

    The ``n x l`` product ``X Q`` is only ever formed one chunk at a time, so a
    pass reads ``X`` once (memory, memmap or a dask cluster) and never holds
    more than a chunk, ``Q`` and the ``p x l`` result.

    Parameters
    ----------
    X : array or dask array of shape (n_samples, p)
        Data, in any array namespace; dask arrays are reduced by dask.
    Q : array of shape (p, l)
        Small dense block, in ``X``'s namespace, device and dtype (numpy for
        dask input).
    chunk_rows : int, default=None
        Rows per chunk; by default about 4 Mi elements a chunk.

    Returns
    -------
    Z : array of shape (p, l)
        ``X^T X Q`` in the accumulation dtype of ``X``'s device (float64 numpy
        for dask input).

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat._moments import gram_product
    >>> X = np.arange(6.0).reshape(3, 2)
    >>> gram_product(X, np.eye(2)).tolist()
    [[20.0, 26.0], [26.0, 35.0]]
    """
    if is_dask(X):
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
    xp, device = namespace_and_device(X, Q)
    acc = accumulation_dtype(xp, device)
    Z = xp.zeros((X.shape[1], Q.shape[1]), dtype=acc, device=device)
    for rows in row_chunks(X.shape[0], X.shape[1], chunk_rows):
        chunk = X[rows, ...]
        Z += xp.astype(xp.asarray(chunk.T @ (chunk @ Q), device=device), acc)
    return Z


def _dask_concat(blocks):
    """One dask array ``[B_1 | B_2 | ...]`` chunked by rows only."""
    import dask.array as da

    rows = next(b for b in blocks if is_dask(b)).chunks[0]
    if any(np.isnan(c) for c in rows):
        raise ValueError(
            "The dask array has unknown chunk sizes; call "
            "X.compute_chunk_sizes() first."
        )
    lengths = {int(b.shape[0]) for b in blocks}
    if len(lengths) > 1:
        raise ValueError(
            f"Blocks have different numbers of rows: {sorted(lengths)}; they "
            "must describe the same samples."
        )
    parts = [b if is_dask(b) else da.from_array(b, chunks=(rows, -1)) for b in blocks]
    X = parts[0] if len(parts) == 1 else da.concatenate(parts, axis=1)
    # Full rows in each block: every task then computes a whole d x d product.
    return X.rechunk({0: rows, 1: -1})


def _blockwise_sum(X, block_function, shape):
    """Sum over row blocks of ``block_function(block)``: a dask tree reduction."""
    import dask.array as da

    extra = "".join("klmn"[: len(shape) - 1])
    parts = da.blockwise(
        block_function,
        "bj" + extra,
        X,
        "bj",
        new_axes=dict(zip(extra, shape[1:])),
        adjust_chunks={"b": 1},
        dtype=np.float64,
    )
    return parts.sum(axis=0)


# Block functions run on dask workers: module level, so that they pickle by
# reference.  Each product runs in the data's dtype (as in the in-memory
# route) and is widened to float64 before dask adds the blocks up.
def _block_gram(block):
    return (block.T @ block).astype(np.float64)[None]


def _block_sums(block):
    return block.sum(axis=0, dtype=np.float64)[None]


def _block_gram_product(block, Q):
    Q = Q.astype(block.dtype, copy=False)
    return (block.T @ (block @ Q)).astype(np.float64)[None]


def _concat_columns(blocks, xp):
    if len(blocks) == 1:
        return blocks[0]
    dtype = blocks[0].dtype
    for b in blocks[1:]:
        dtype = xp.result_type(dtype, b.dtype)
    return xp.concat([xp.astype(b, dtype, copy=False) for b in blocks], axis=1)
