"""Row chunks of a matrix, whatever its storage.

In-memory data (numpy, torch, cupy, array-api-strict, scipy sparse) is read
in chunks of rows: a row slice of a dense array is a view (no copy), a sparse
chunk is densified one at a time.  dask arrays are never iterated on the
client: they are reduced blockwise on the workers (:mod:`skfeat._moments`).
"""

import scipy.sparse as sp

__all__ = ["CHUNK_ELEMENTS", "iter_row_blocks", "row_chunks"]

# Elements per chunk (rows x columns): 4 Mi elements = 16 MiB of float32. Large
# enough that each chunk's product runs at full BLAS speed, small enough that
# the concatenation of several blocks stays well under the size of the data.
CHUNK_ELEMENTS = 1 << 22


def row_chunks(n_rows, n_cols, chunk_rows=None, *, chunk_elements=CHUNK_ELEMENTS):
    """Yield ``slice`` objects that cover ``range(n_rows)`` in row chunks.

    Examples
    --------
    >>> from skfeat.utils._rows import row_chunks
    >>> list(row_chunks(5, 1, chunk_rows=2))
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    if chunk_rows is None:
        chunk_rows = max(256, chunk_elements // max(n_cols, 1))
    for start in range(0, n_rows, chunk_rows):
        yield slice(start, min(start + chunk_rows, n_rows))


def iter_row_blocks(H, n_cols=None, chunk_rows=None):
    """Yield ``(rows, block)``: dense row blocks of an in-memory matrix.

    ``rows`` is the ``slice`` of the block; sparse matrices are densified one
    block at a time (float64 unless float32).  ``n_cols`` sizes the chunks (the
    width of what is computed per row); ``H.shape[1]`` by default.
    """
    n_cols = H.shape[1] if n_cols is None else n_cols
    for rows in row_chunks(H.shape[0], n_cols, chunk_rows):
        if sp.issparse(H):
            yield rows, H[rows].toarray()
        else:
            yield rows, H[rows, ...]
