"""Layerwise geometry: compression, discrimination, numerical rank, neural collapse.

Every measure here is a function of per-class first and second moments of the
features ``H`` (n samples x p features), accumulated in one pass over the rows
by :class:`ClassMoments` (on top of :class:`skfeat._moments.Moments`):

* the summed within-class scatter (one ``p x p`` matrix, not one per class),
* per-class sums (``K x p``), counts and sums of squared norms (``K``).

Each class is accumulated relative to a reference point (its first sample):
``sum (h - c_k)(h - c_k)^T`` instead of ``sum h h^T``.  Without that shift
the within-class scatter would be the difference of two nearly equal large
matrices when the features are collapsed (within-class spread much smaller
than the class means), which is exactly the regime these measures are for.
Changing references is an exact rank-K correction, which is also how two
accumulators of disjoint rows merge.

The state is kept in units of a power of two near the largest magnitude seen
(1 for features of ordinary size), so that features of any representable
size give the same (scale-invariant) measures: squares of float32 features
above ``1e19`` would overflow, below ``1e-19`` lose their digits.

Nothing ever forms an ``n x n`` matrix; the pseudo-inverse of ``Sigma_B``
comes from the thin SVD of the ``K x p`` matrix of centred class means.
"""

import math
from dataclasses import asdict, dataclass
from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from skfeat._eigh import device_eigvalsh
from skfeat._moments import Moments, sample_moments, samples_side_is_smaller
from skfeat.utils._array_api import from_host, is_dask, namespace_and_device, to_host
from skfeat.utils._rank import EPS64, dtype_eps, span_rtol
from skfeat.utils._rows import CHUNK_ELEMENTS, iter_row_blocks
from skfeat.utils._validation import (
    check_labels,
    check_matrix,
    check_n_samples,
    check_real_dtype,
    read_host,
)

from ._gram import kernel_projection, linearity_from_moments, sample_side_linearity
from ._targets import TARGET_TYPE_CONSTRAINT, class_labels

__all__ = [
    "ClassMoments",
    "NeuralCollapse",
    "between_class_discrimination",
    "neural_collapse",
    "numerical_rank",
    "within_class_compression",
]

# Features whose largest magnitude lies within 2^+-LIMIT of 1 are accumulated
# as they are: their squares and sums of squares stay far inside the range of
# the dtype (float32: 2^+-60 ~ 1e+-18).
_PLAIN_RANGE = {np.dtype(np.float32): 30, np.dtype(np.float64): 200}


class ClassMoments:
    """Streaming per-class first and second moments of features.

    ``update(H, y)`` adds labelled rows (any number of calls, any chunking);
    ``merge(other)`` adds an accumulator of disjoint rows (dask partitions,
    processes).  The geometry measures are then read off the moments; they equal
    the batch functions (:func:`within_class_compression`, ...) on all rows, to
    float rounding.  A call that fails leaves the accumulator as it was.

    Parameters
    ----------
    classes : array-like of shape (n_classes,), default=None
        All class labels, when known in advance (as in scikit-learn's
        ``partial_fit``).  By default classes are added as they appear.
    chunk_rows : int, default=None
        Rows per chunk of the pass; by default about 4 Mi elements a chunk.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Labels of the classes seen so far, sorted.
    counts_ : ndarray of shape (n_classes,)
        Number of samples of each class.
    means_ : ndarray of shape (n_classes, n_features)
        Class means ``mu_k`` (host float64).
    n_samples_ : int
        Number of samples seen.
    n_features_ : int
        Number of features ``p``.

    Notes
    -----
    The row products run where ``H`` lives (numpy, torch, cupy,
    array-api-strict; scipy sparse chunk by chunk; dask arrays blockwise on
    the workers, summed by dask's tree reduction); each chunk's
    ``(p + K + 1)``-square Gram matrix then moves to the host, where the state
    is kept in float64.  Memory: one ``p x p`` matrix plus ``O(K p)``.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics import ClassMoments
    >>> H = np.array([[1.0, 0.0], [1.2, 0.0], [0.0, 1.0], [0.0, 0.8]])
    >>> y = np.array([0, 0, 1, 1])
    >>> acc = ClassMoments().update(H[:3], y[:3]).update(H[3:], y[3:])
    >>> acc.classes_.tolist(), acc.counts_.tolist()
    ([0, 1], [2, 2])
    >>> round(acc.within_class_compression(), 4)
    0.0198
    """

    def __init__(self, classes=None, chunk_rows=None):
        self.classes = classes
        self.chunk_rows = chunk_rows
        self._labels = []  # in order of first appearance
        self._index = {}
        self._scatter = None  # sum_i (h_i - c_{y_i})(h_i - c_{y_i})^T / scale^2
        self._sums = None  # row k: sum over class k of (h - c_k) / scale
        self._sqnorms = None  # sum over class k of ||h - c_k||^2 / scale^2
        self._counts = None
        self._refs = None  # reference point c_k of each class (true units)
        self._scale = 1.0
        self._dtype = None  # the least precise dtype of the features seen
        self._eigh = None  # eigh of the uncentred Gram, until the state changes
        if classes is not None:
            labels = check_labels(classes, "classes")
            if len(np.unique(labels)) != len(labels):
                raise ValueError("classes must be a 1-D array of distinct labels.")
            self._labels = list(labels.tolist())
            self._index = {label: i for i, label in enumerate(self._labels)}

    # -- accumulation -------------------------------------------------------

    def update(self, H, y):
        """Add labelled rows; returns ``self``.

        Parameters
        ----------
        H : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Features of the rows (any array-API namespace and device).
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : ClassMoments
            The updated accumulator.
        """
        H = check_matrix(H, "H")
        y = check_labels(y)
        if y.dtype.kind == "f" and not np.all(y == np.round(y)):
            raise ValueError(
                "y holds fractional values: ClassMoments measures class geometry "
                "and needs class labels, not real-valued targets "
                "(target_type='values'); for regression targets use "
                "target_linearity(H, y, target_type='values')."
            )
        check_n_samples(y, H.shape[0], "y")
        p = H.shape[1]
        if self._scatter is not None and p != self.n_features_:
            raise ValueError(
                f"H has {p} features, but earlier updates had {self.n_features_}."
            )
        labels, index = self._with_labels(y)
        codes = np.array([index[v] for v in y.tolist()], dtype=np.intp)
        scale = _scale_of(H)
        if self._scatter is not None:
            scale = max(self._scale, scale)
        present, first, local = np.unique(codes, return_index=True, return_inverse=True)
        old = 0 if self._counts is None else self._counts.size
        known = np.array([i < old and self._counts[i] > 0 for i in present])
        refs = np.zeros((present.size, p))
        if np.any(known):
            refs[known] = self._refs[present[known]]
        if not np.all(known):
            # A class's reference is its first sample: then h - c_k is of the
            # size of the within-class spread, and its scatter loses no digits.
            refs[~known] = _rows_to_host(H, first[~known])
        G = _shifted_moments(H, local, refs, scale, self.chunk_rows)
        K = present.size
        counts = np.rint(np.diag(G[p : p + K, p : p + K])).astype(np.int64)
        # Everything that can fail has run: commit.
        self._commit_labels(labels, index, p)
        self._rescale(scale)
        self._dtype = _least_precise(self._dtype, H.dtype)
        self._add(
            present, G[:p, :p], G[p : p + K, :p], counts, G[p : p + K, p + K], refs
        )
        return self

    def merge(self, other):
        """Add the moments of ``other`` (disjoint rows); returns ``self``.

        Parameters
        ----------
        other : ClassMoments
            An accumulator of other rows with the same number of features.

        Returns
        -------
        self : ClassMoments
            The merged accumulator.
        """
        if not isinstance(other, ClassMoments):
            raise TypeError(f"Can only merge a ClassMoments; got {type(other)}.")
        if other._scatter is None:
            return self
        if self._scatter is not None and other.n_features_ != self.n_features_:
            raise ValueError(
                f"Cannot merge moments of {other.n_features_} features into "
                f"moments of {self.n_features_}."
            )
        seen = np.flatnonzero(other._counts > 0)
        theirs = np.empty(len(other._labels), dtype=object)
        theirs[:] = other._labels
        labels, index = self._with_labels(theirs[seen])
        idx = np.array([index[v] for v in theirs[seen].tolist()], dtype=np.intp)
        scale = other._scale
        if self._scatter is not None:
            scale = max(self._scale, scale)
        self._commit_labels(labels, index, other.n_features_)
        self._rescale(scale)
        self._dtype = _least_precise(self._dtype, other._dtype)
        ratio = other._scale / scale
        self._add(
            idx,
            other._scatter * ratio**2,
            other._sums[seen] * ratio,
            other._counts[seen],
            other._sqnorms[seen] * ratio**2,
            other._refs[seen],
        )
        return self

    def _with_labels(self, y):
        """Labels and index after ``y``, without changing ``self``."""
        new = [u for u in dict.fromkeys(np.asarray(y).tolist()) if u not in self._index]
        if new and self.classes is not None:
            raise ValueError(
                f"y has labels {new[:5]} that are not in classes={self.classes!r}."
            )
        labels = self._labels + new
        index = dict(self._index)
        index.update({label: len(self._labels) + i for i, label in enumerate(new)})
        kinds = {isinstance(label, str) for label in labels}
        if len(kinds) > 1:
            raise TypeError(
                "The labels mix strings and numbers across updates; use labels of "
                "one kind."
            )
        return labels, index

    def _commit_labels(self, labels, index, p):
        self._labels, self._index = labels, index
        K = len(labels)
        old = 0 if self._counts is None else self._counts.size
        extra = K - old
        if self._scatter is None:
            self._scatter = np.zeros((p, p))
        if old == 0:
            self._sums, self._refs = np.zeros((K, p)), np.zeros((K, p))
            self._sqnorms, self._counts = np.zeros(K), np.zeros(K, dtype=np.int64)
        elif extra:
            self._sums = np.vstack([self._sums, np.zeros((extra, p))])
            self._refs = np.vstack([self._refs, np.zeros((extra, p))])
            self._sqnorms = np.concatenate([self._sqnorms, np.zeros(extra)])
            self._counts = np.concatenate([self._counts, np.zeros(extra, np.int64)])

    def _rescale(self, scale):
        """Move the state to units of ``scale`` (a power of two, >= the old)."""
        self._eigh = None
        if scale == self._scale:
            return
        if not np.any(self._counts):  # nothing accumulated yet: just adopt it
            self._scale = scale
            return
        ratio = self._scale / scale
        self._scatter *= ratio**2
        self._sums *= ratio
        self._sqnorms *= ratio**2
        self._scale = scale

    def _add(self, idx, scatter, sums, counts, sqnorms, refs):
        """Add moments (in units of the state) taken relative to ``refs``."""
        self._eigh = None
        fresh = self._counts[idx] == 0
        self._refs[idx[fresh]] = refs[fresh]
        delta = (refs - self._refs[idx]) / self._scale
        if np.any(delta):
            # (h - c) = (h - r) + (r - c): an exact rank-K change of reference.
            weighted = delta * counts[:, None]
            scatter = scatter + delta.T @ sums + sums.T @ delta + delta.T @ weighted
            sqnorms = sqnorms + 2 * np.sum(delta * sums, axis=1)
            sqnorms = sqnorms + np.sum(delta * weighted, axis=1)
            sums = sums + weighted
        self._scatter += scatter
        np.add.at(self._sums, idx, sums)
        np.add.at(self._sqnorms, idx, sqnorms)
        np.add.at(self._counts, idx, counts)

    # -- state --------------------------------------------------------------

    @property
    def n_features_(self):
        """Number of features ``p`` (None before the first update)."""
        return None if self._scatter is None else self._scatter.shape[0]

    @property
    def n_samples_(self):
        """Number of samples seen."""
        return 0 if self._counts is None else int(self._counts.sum())

    @property
    def classes_(self):
        """Labels of the classes seen, sorted."""
        return self._labels_array()[self._order()]

    @property
    def counts_(self):
        """Samples per class, in the order of ``classes_``."""
        if self._counts is None:
            return np.zeros(0, dtype=np.int64)
        return self._counts[self._order()]

    @property
    def means_(self):
        """Class means ``mu_k`` (host float64), in the order of ``classes_``."""
        if self._counts is None:
            return np.zeros((0, 0))
        return self._scaled_means(self._order()) * self._scale

    def _scaled_means(self, order):
        counts = self._counts[order, None]
        return self._refs[order] / self._scale + self._sums[order] / counts

    def _labels_array(self):
        labels = np.empty(len(self._labels), dtype=object)
        labels[:] = self._labels
        return np.asarray(labels.tolist())

    def _order(self):
        """Return the indices of the seen classes, sorted by label."""
        if self._counts is None:
            return np.zeros(0, dtype=np.intp)
        seen = np.flatnonzero(self._counts > 0)
        labels = self._labels_array()[seen]
        return seen[np.argsort(labels, kind="stable")]

    def _check_started(self):
        if self._counts is None or self.n_samples_ == 0:
            raise ValueError("No samples seen yet; call update(H, y) first.")

    def _stats(self, global_mean="samples"):
        """Class geometry from the moments (host float64, units of the state)."""
        self._check_started()
        o = self._order()
        if o.size < 2:
            raise ValueError(
                "The geometry measures need at least 2 classes; "
                f"y has only {o.size} ({self.classes_.tolist()})."
            )
        counts = self._counts[o].astype(np.float64)
        sums = self._sums[o]
        n = counts.sum()
        means = self._scaled_means(o)
        # A class of one sample has zero spread about its own mean: its
        # covariance (divided by n_k, not n_k - 1) is zero.
        variances = (self._sqnorms[o] - np.sum(sums**2, axis=1) / counts) / counts
        variances = np.clip(variances, 0.0, None)
        if global_mean == "classes":
            grand_mean = means.mean(axis=0)
        else:
            grand_mean = counts @ means / n
        centred = means - grand_mean
        return counts, n, means, variances, centred

    def _within_covariance(self):
        """``Sigma_W`` (p x p): the scatter about the class means over n."""
        o = self._order()
        counts = self._counts[o].astype(np.float64)
        sums = self._sums[o]
        return (self._scatter - sums.T @ (sums / counts[:, None])) / counts.sum()

    def _gram_eigh(self):
        """``np.linalg.eigh`` of the uncentred Gram (numerical rank, linearity).

        Kept until the state changes: the two measures share one ``p x p``
        eigendecomposition.
        """
        if self._eigh is None:
            self._eigh = np.linalg.eigh(self._uncentred_gram())
        return self._eigh

    def _uncentred_gram(self):
        """``H^T H`` (p x p, units of the state): the scatter moved to 0."""
        refs = self._refs / self._scale
        sums, counts = self._sums, self._counts
        return (
            self._scatter
            + refs.T @ sums
            + sums.T @ refs
            + refs.T @ (refs * counts[:, None])
        )

    # -- measures -----------------------------------------------------------

    def within_class_compression(self):
        """``tr(Sigma_W) / tr(Sigma_B)``; see :func:`within_class_compression`.

        Returns
        -------
        compression : float
            Within-class compression (``inf`` when all class means coincide).
        """
        counts, n, _, variances, centred = self._stats()
        between = np.sum(centred**2) / counts.size
        within = counts @ variances / n
        return _ratio(within, between)

    def between_class_discrimination(self):
        """``1 - max cos(mu_k, mu_k')``; see :func:`between_class_discrimination`.

        Returns
        -------
        discrimination : float
            Between-class discrimination, in ``[0, 2]``.
        """
        _, _, means, _, _ = self._stats()
        norms = np.linalg.norm(means, axis=1)
        unit = means / np.where(norms > 0, norms, 1.0)[:, None]
        cosines = unit @ unit.T
        np.fill_diagonal(cosines, -np.inf)
        return float(1.0 - np.clip(cosines.max(), -1.0, 1.0))

    def numerical_rank(self, rank_share=0.95):
        """Numerical rank of ``H`` (uncentred); see :func:`numerical_rank`.

        Parameters
        ----------
        rank_share : float, default=0.95
            Share of the sum of singular values to reach, in ``(0, 1]``.

        Returns
        -------
        rank : int
            Smallest ``k`` with ``sum_{i<=k} s_i / sum_i s_i >= rank_share``.
        """
        self._check_started()
        _check_share(rank_share)
        return rank_from_gram(
            None,
            rank_share,
            self.n_samples_,
            self._dtype,
            eigenvalues=self._gram_eigh()[0],
        )

    def neural_collapse(self, weights=None, *, global_mean="samples"):
        """NC1, NC2, NC3 and CDNV; see :func:`neural_collapse`.

        NC4 needs a second pass over the features: see
        :meth:`nearest_class_mean` and :func:`neural_collapse`.

        Parameters
        ----------
        weights : array-like of shape (n_classes, n_features), default=None
            Read-out weights, one row per class in the order of ``classes_``.
        global_mean : {"samples", "classes"}, default="samples"
            ``mu_G`` as the mean of all samples, or of the class means.

        Returns
        -------
        result : NeuralCollapse
            The measures (``nc4`` is None).
        """
        if global_mean not in ("samples", "classes"):
            raise ValueError(
                f"global_mean must be 'samples' or 'classes'; got {global_mean!r}."
            )
        counts, n, means, variances, centred = self._stats(global_mean)
        duality = None if weights is None else _check_weights(weights, centred.shape)
        return NeuralCollapse(
            nc1=self._nc1(centred),
            nc2_equinorm=_equinorm(centred),
            nc2_equiangularity=_equiangularity(centred),
            nc2_max_angle=_max_angle(centred),
            nc2_etf=_etf_error(centred @ centred.T),
            nc3=None if duality is None else _self_duality(duality, centred),
            nc3_etf=None if duality is None else _etf_error(duality @ centred.T),
            nc4=None,
            cdnv=_cdnv(means, variances),
        )

    def target_linearity(self):
        """Target linearity of the one-hot labels; see :func:`target_linearity`.

        Returns
        -------
        linearity : float
            ``1 - ||Y - P_H Y||^2 / ||Y - Ybar||^2`` in ``[0, 1]``.
        """
        counts, n, means, _, _ = self._stats()
        gram = self._uncentred_gram()
        class_sums = means * counts[:, None]  # H^T Y, one column per class
        return linearity_from_moments(
            gram,
            class_sums.sum(axis=0),
            class_sums.T,
            np.diag(counts),
            counts,
            n,
            span_rtol(self._dtype, int(n), gram.shape[0], exact=False),
            eigh=self._gram_eigh(),
        )

    def nearest_class_mean(self, H):
        """Label of the nearest class mean of each row of ``H``.

        Parameters
        ----------
        H : array-like of shape (n_samples, n_features)
            Features (any array-API namespace; computed where they live).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Labels from ``classes_`` (ties go to the first class).
        """
        self._check_started()
        means = self._scaled_means(self._order())
        H = check_matrix(H, "H")
        if H.shape[1] != self.n_features_:
            raise ValueError(
                f"H has {H.shape[1]} features; the moments have {self.n_features_}."
            )
        if is_dask(H):
            # Blockwise on the workers: only the labels come back.
            codes = H.rechunk({1: -1}).map_blocks(
                _nearest_block,
                means=means,
                scale=self._scale,
                drop_axis=1,
                dtype=np.intp,
            )
            return self.classes_[np.asarray(codes.compute())]
        labels = []
        for _, chunk in iter_row_blocks(H, means.shape[0], self.chunk_rows):
            labels.append(_nearest(chunk, means, self._scale))
        return self.classes_[np.concatenate(labels)]

    def _nc1(self, centred):
        K, p = centred.shape
        U, s, Vt = np.linalg.svd(centred, full_matrices=False)
        # The centred means are at best accurate to eps * |mu| (a difference of
        # means), which sets the floor below which a direction is not real.
        means = np.abs(self._scaled_means(self._order()))
        scale = max(s[0], means.max()) if s.size else 0.0
        keep = s > scale * max(K, p) * EPS64
        if not np.any(keep):
            return float("inf")
        V = Vt[keep].T
        within = self._within_covariance()
        # Sigma_B = V diag(s^2 / K) V^T, so tr(Sigma_W Sigma_B^+) / K is
        # sum_j v_j^T Sigma_W v_j / s_j^2: a K-dimensional problem.
        quad = np.sum(V * (within @ V), axis=0)
        return float(max(np.sum(quad / s[keep] ** 2), 0.0))


def _nearest(chunk, means, scale):
    """Index of the nearest (scaled) class mean of each row, where rows live."""
    cxp, cdev = namespace_and_device(chunk)
    if scale != 1.0:
        chunk = cxp.astype(chunk, cxp.float64) / scale
    mu = from_host(means.T, cxp, cdev, chunk.dtype)
    half_sq = from_host(0.5 * np.sum(means**2, axis=1), cxp, cdev, chunk.dtype)
    # argmin ||h - mu||^2 = argmax (h . mu - ||mu||^2 / 2): an n x K product.
    score = chunk @ mu - half_sq[None, :]
    if not bool(cxp.all(cxp.isfinite(score))):
        raise ValueError("H contains NaN or infinity.")
    return to_host(cxp.argmax(score, axis=1), None).astype(np.intp)


def _nearest_block(block, means, scale):
    return _nearest(np.asarray(block), means, scale)


def _least_precise(current, dtype):
    """float32 once any float32 features were seen (it sets the rank rules)."""
    if dtype is None:
        return current
    dtype = np.dtype(np.float64 if dtype_eps(dtype) == EPS64 else np.float32)
    if current is None or current == np.float64:
        return dtype
    return current


def _scale_of(H):
    """Power of two near ``max |H|`` when outside the plain range, else 1.

    Also the finiteness check of the features (a NaN or infinity would
    otherwise reach the measures silently).
    """
    if sp.issparse(H):
        top = float(np.max(np.abs(H.data))) if H.nnz else 0.0
    elif is_dask(H):
        import dask.array as da

        top = float(da.max(da.fabs(H)).compute())
    else:
        xp, _ = namespace_and_device(H)
        top = float(to_host(xp.max(xp.abs(H))))
    if not math.isfinite(top):
        raise ValueError("H contains NaN or infinity.")
    if top == 0.0:
        return 1.0
    exponent = round(math.log2(top))
    limit = _PLAIN_RANGE[np.dtype(np.float32 if "32" in str(H.dtype) else np.float64)]
    return 1.0 if abs(exponent) <= limit else 2.0**exponent


def _shifted_moments(H, codes, refs, scale, chunk_rows):
    """Host Gram of ``[(H - refs[codes]) / scale | onehot(codes) | sq]``.

    ``sq`` is the squared norm of each shifted row.  In-memory data is read
    chunk by chunk (the shifted copy of one chunk at a time); dask arrays are
    shifted blockwise on the workers and reduced by :class:`Moments`.
    """
    K = refs.shape[0]
    p = H.shape[1]
    if is_dask(H):
        import dask.array as da

        codes_d = da.from_array(codes, chunks=(H.chunks[0],))
        blocks = da.map_blocks(
            _shift_block,
            H.rechunk({1: -1}),
            codes_d[:, None],
            refs=refs,
            scale=scale,
            dtype=H.dtype,
            chunks=(H.chunks[0], (p + K + 1,)),
        )
        moments = Moments(name="H", with_sums=False).update(
            blocks[:, :p], blocks[:, p : p + K], blocks[:, p + K :]
        )
        return _true_gram(moments)
    moments = Moments(name="H", with_sums=False)
    refs_dev = None
    for rows, chunk in iter_row_blocks(H, p + K + 1, chunk_rows):
        cxp, cdev = namespace_and_device(chunk)
        if refs_dev is None:
            # float32 data: the references are rows of it, so exact.
            refs_dev = from_host(refs, cxp, cdev, chunk.dtype)
        codes_dev = cxp.asarray(codes[rows], device=cdev)
        shifted = chunk - cxp.take(refs_dev, codes_dev, axis=0)
        if scale != 1.0:
            shifted = cxp.astype(shifted, cxp.float64) / scale
        onehot = cxp.astype(
            codes_dev[:, None] == cxp.arange(K, device=cdev)[None, :], shifted.dtype
        )
        sq = cxp.sum(shifted * shifted, axis=1)[:, None]
        moments.update(shifted, onehot, sq)
    return _true_gram(moments)


def _true_gram(moments):
    """Return the Gram of a :class:`Moments` whose blocks were scaled in advance."""
    gram = to_host(moments.gram)
    if np.any(moments.scales != 1.0):
        gram = gram * np.outer(moments.scales, moments.scales)
    return gram


def _shift_block(block, codes, refs, scale):
    """``[(h - c) / scale | onehot | ||h - c||^2]`` of one dask block."""
    codes = codes[:, 0]
    shifted = np.asarray(block) - refs[codes].astype(block.dtype)
    if scale != 1.0:
        shifted = shifted.astype(np.float64) / scale
    onehot = (codes[:, None] == np.arange(refs.shape[0])[None, :]).astype(shifted.dtype)
    sq = np.sum(shifted * shifted, axis=1)[:, None]
    return np.concatenate([shifted, onehot, sq], axis=1)


def _rows_to_host(H, index):
    """Rows ``index`` of ``H`` as host float64 (the class references)."""
    if sp.issparse(H):
        return np.asarray(H[index].toarray(), dtype=np.float64)
    if is_dask(H):
        return np.asarray(H[index].compute(), dtype=np.float64)
    xp, device = namespace_and_device(H)
    return to_host(xp.take(H, xp.asarray(index, device=device), axis=0))


def _check_share(rank_share):
    if not (isinstance(rank_share, Real) and 0 < rank_share <= 1):
        raise ValueError(f"rank_share must be in (0, 1]; got {rank_share!r}.")


def rank_from_gram(gram, rank_share, n_samples, dtype, *, eigenvalues=None):
    """Smallest ``k`` whose singular values carry ``rank_share`` of their sum.

    From ``H^T H`` (or its ``eigenvalues``, in any order, when known): those
    below the rank rule of a span (:func:`skfeat.utils._rank.span_rtol`) are
    rounding, and their square roots would otherwise add up to a visible
    share of the sum.
    """
    if eigenvalues is None:
        eigenvalues = np.linalg.eigvalsh(gram)
    lam = np.clip(np.sort(eigenvalues)[::-1], 0.0, None)
    rtol = span_rtol(dtype, n_samples, lam.size, exact=False)
    lam[lam <= lam[0] * rtol] = 0.0
    s = np.sqrt(lam)
    total = s.sum()
    if total == 0:
        raise ValueError("H is zero: its numerical rank is undefined.")
    share = np.cumsum(s) / total
    # A small tolerance so that rank_share=1 is reached despite rounding.
    return int(min(np.searchsorted(share, rank_share * (1 - 1e-12)) + 1, s.size))


@dataclass(frozen=True)
class NeuralCollapse:
    """Neural-collapse measures of one layer (all 0 at perfect collapse).

    Returned by :func:`neural_collapse`; ``to_dict()`` gives a plain dict.

    Parameters
    ----------
    nc1 : float
        Within-class variability relative to between-class:
        ``tr(Sigma_W Sigma_B^+) / K``.
    nc2_equinorm : float
        Coefficient of variation of ``||mu_k - mu_G||`` (std with ``ddof=1``
        over the mean, as in Papyan, Han and Donoho's code).
    nc2_equiangularity : float
        Standard deviation (``ddof=1``) of the cosines between centred class
        means, over pairs ``k != k'`` (Papyan et al.'s equiangularity).
    nc2_max_angle : float
        Mean of ``|cos(mu_k - mu_G, mu_k' - mu_G) + 1 / (K - 1)|`` over pairs
        (Papyan et al.'s maximal-angle equiangularity).
    nc2_etf : float
        Distance of the normalised Gram matrix of the centred class means to
        that of a simplex equiangular tight frame.
    nc3 : float or None
        Self-duality as Papyan et al.'s normalised distance
        ``||W / ||W|| - M / ||M|| ||_F^2``; None without weights.
    nc3_etf : float or None
        Self-duality as Kothapalli's distance of ``W M^T`` (normalised) to the
        simplex ETF; None without weights.
    nc4 : float or None
        Fraction of samples whose nearest-class-mean label differs from the
        model's prediction; None without predictions.
    cdnv : float
        Class-distance normalised variance, averaged over pairs of classes.

    Examples
    --------
    >>> from skfeat.metrics import NeuralCollapse
    >>> nc = NeuralCollapse(0.1, 0.0, 0.0, 0.0, 0.2, None, None, None, 0.05)
    >>> nc.nc1, nc.to_dict()["cdnv"]
    (0.1, 0.05)
    """

    nc1: float
    nc2_equinorm: float
    nc2_equiangularity: float
    nc2_max_angle: float
    nc2_etf: float
    nc3: float | None
    nc3_etf: float | None
    nc4: float | None
    cdnv: float

    def to_dict(self):
        """Return the measures as a ``dict``.

        Returns
        -------
        measures : dict
            ``{"nc1": ..., "nc2_equinorm": ..., ...}``.
        """
        return asdict(self)


def _ratio(num, den):
    if den <= 0:
        return float("inf")
    return float(max(num, 0.0) / den)


def _equinorm(centred):
    norms = np.linalg.norm(centred, axis=1)
    mean = norms.mean()
    return float("inf") if mean == 0 else float(norms.std(ddof=1) / mean)


def _pair_cosines(centred):
    norms = np.linalg.norm(centred, axis=1)
    if np.any(norms == 0):
        return None
    unit = centred / norms[:, None]
    i, j = np.triu_indices(centred.shape[0], k=1)
    return np.sum(unit[i] * unit[j], axis=1)


def _equiangularity(centred):
    cosines = _pair_cosines(centred)
    if cosines is None:
        return float("inf")
    return float(cosines.std(ddof=1)) if cosines.size > 1 else 0.0


def _max_angle(centred):
    cosines = _pair_cosines(centred)
    if cosines is None:
        return float("inf")
    return float(np.mean(np.abs(cosines + 1.0 / (centred.shape[0] - 1))))


def _etf_error(gram):
    """Distance of a normalised K x K Gram to the simplex ETF's."""
    K = gram.shape[0]
    size = np.linalg.norm(gram)
    if size == 0:
        return float("inf")
    simplex = (np.eye(K) - np.ones((K, K)) / K) / np.sqrt(K - 1)
    return float(np.linalg.norm(gram / size - simplex))


def _check_weights(weights, shape):
    W = read_host(weights, "weights")
    check_real_dtype(W.dtype, "weights")
    W = W.astype(np.float64, copy=False)
    if W.shape != shape:
        raise ValueError(
            f"weights must have shape (n_classes, n_features) = {shape}; got {W.shape}."
        )
    if not np.all(np.isfinite(W)):
        raise ValueError("weights contains NaN or infinity.")
    if np.linalg.norm(W / max(np.abs(W).max(), 1e-300)) == 0:
        raise ValueError("NC3 is undefined when the weights are zero.")
    return W / np.abs(W).max()


def _self_duality(W, centred):
    w_norm, m_norm = np.linalg.norm(W), np.linalg.norm(centred)
    if m_norm == 0:
        raise ValueError("NC3 is undefined when the class means coincide.")
    return float(np.sum((W / w_norm - centred / m_norm) ** 2))


def _cdnv(means, variances):
    K = means.shape[0]
    i, j = np.triu_indices(K, k=1)
    dist = np.sum((means[i] - means[j]) ** 2, axis=1)
    if np.any(dist == 0):
        return float("inf")
    return float(np.mean((variances[i] + variances[j]) / (2 * dist)))


def _moments_of(H, y, target_type="auto", what="This measure"):
    """Class moments of ``H`` for class labels ``y`` (continuous ``y`` refused)."""
    labels = class_labels(y, target_type, what=what)
    if rows_side(H):
        # Wide layers (p > n): the sample side, never a p x p matrix.
        moments = SampleSideGeometry(H, labels)
    else:
        moments = ClassMoments().update(H, labels)
    if moments.classes_.size == moments.n_samples_:
        raise ValueError(
            f"y has {moments.classes_.size} classes for as many samples: every "
            "sample is its own class, so there is no class geometry to measure "
            "(are these regression targets?)."
        )
    return moments


_HY = {
    "H": ["array-like", "sparse matrix"],
    "y": ["array-like"],
    "target_type": TARGET_TYPE_CONSTRAINT,
}


@validate_params(_HY, prefer_skip_nested_validation=True)
def within_class_compression(H, y, *, target_type="auto"):
    """Within-class compression ``tr(Sigma_W) / tr(Sigma_B)`` of a layer.

    With class means ``mu_k`` and global mean ``mu_G`` (the mean of all
    samples), ``Sigma_W = (1/n) sum_i (h_i - mu_{y_i})(h_i - mu_{y_i})^T`` and
    ``Sigma_B = (1/K) sum_k (mu_k - mu_G)(mu_k - mu_G)^T``.  Smaller is more
    compressed; 0 when every sample sits on its class mean.  In deep linear
    networks trained on nearly orthogonal data it decreases geometrically with
    depth (Wang et al.).

    Parameters
    ----------
    H : {array-like, sparse matrix} of shape (n_samples, n_features)
        Features of one layer (numpy, torch, cupy, array-api-strict or dask).
    y : array-like of shape (n_samples,)
        Class labels (at least 2 classes).
    target_type : {"auto", "classes", "values"}, default="auto"
        How ``y`` is read (see :ref:`target_type <target_type>`): a class
        measure, so targets read as ``"values"`` raise a ValueError;
        ``"classes"`` reads whole-number floats as labels without a warning.

    Returns
    -------
    compression : float
        The compression; ``inf`` when all class means coincide.

    Notes
    -----
    A class with a single sample is allowed: its within-class spread is zero.
    Computed from per-class moments in one pass (:class:`ClassMoments`).

    References
    ----------
    .. [1] Wang, Li, Yaras, Zhu, Balzano, Hu, Qu. "Understanding deep
       representation learning via layerwise feature compression and
       discrimination", arXiv:2311.02960.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics import within_class_compression
    >>> H = np.array([[1.0, 0.0], [1.2, 0.0], [0.0, 1.0], [0.0, 0.8]])
    >>> round(within_class_compression(H, [0, 0, 1, 1]), 4)
    0.0198
    """
    return _moments_of(
        H, y, target_type, "Within-class compression"
    ).within_class_compression()


@validate_params(_HY, prefer_skip_nested_validation=True)
def between_class_discrimination(H, y, *, target_type="auto"):
    """Between-class discrimination ``1 - max_{k != k'} cos(mu_k, mu_k')``.

    Uses the raw (uncentred) class means, as Wang et al.: 1 when the class
    means are pairwise orthogonal, 0 when two point the same way.  A zero
    class mean has cosine 0 with every other mean.

    Parameters
    ----------
    H : {array-like, sparse matrix} of shape (n_samples, n_features)
        Features of one layer.
    y : array-like of shape (n_samples,)
        Class labels (at least 2 classes).
    target_type : {"auto", "classes", "values"}, default="auto"
        How ``y`` is read, as in :func:`within_class_compression`.

    Returns
    -------
    discrimination : float
        The discrimination, in ``[0, 2]``.

    References
    ----------
    .. [1] Wang, Li, Yaras, Zhu, Balzano, Hu, Qu. "Understanding deep
       representation learning via layerwise feature compression and
       discrimination", arXiv:2311.02960.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics import between_class_discrimination
    >>> H = np.array([[1.0, 0.0], [1.2, 0.0], [0.0, 1.0], [0.0, 0.8]])
    >>> between_class_discrimination(H, [0, 0, 1, 1])
    1.0
    """
    return _moments_of(
        H, y, target_type, "Between-class discrimination"
    ).between_class_discrimination()


@validate_params(
    {
        "H": ["array-like", "sparse matrix"],
        "rank_share": [Interval(Real, 0, 1, closed="right")],
    },
    prefer_skip_nested_validation=True,
)
def numerical_rank(H, *, rank_share=0.95):
    """Count the singular values of ``H`` that carry a share of their sum.

    The smallest ``k`` with ``sum_{i<=k} s_i / sum_i s_i >= rank_share`` for the
    singular values ``s_1 >= s_2 >= ...`` of the (uncentred) feature matrix.
    Computed from the ``p x p`` matrix ``H^T H`` in one pass.

    Parameters
    ----------
    H : {array-like, sparse matrix} of shape (n_samples, n_features)
        Features of one layer.
    rank_share : float, default=0.95
        Share of the sum of singular values to reach, in ``(0, 1]``.

    Returns
    -------
    rank : int
        The numerical rank.

    Notes
    -----
    Singular values below numpy ``matrix_rank``'s rule (and the rounding floor
    of ``H^T H``, see :mod:`skfeat.utils._rank`) count as zero: the square
    roots of rounding noise would otherwise add up to a visible share.

    References
    ----------
    .. [1] Wang, Li, Yaras, Zhu, Balzano, Hu, Qu. "Understanding deep
       representation learning via layerwise feature compression and
       discrimination", arXiv:2311.02960.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics import numerical_rank
    >>> H = np.diag([10.0, 9.0, 0.5, 0.1])
    >>> numerical_rank(H), numerical_rank(H, rank_share=0.99)
    (2, 3)
    """
    H = check_matrix(H, "H")
    n, p = H.shape
    if samples_side_is_smaller(n, p):
        # Wide features: the nonzero spectrum of H^T H is that of H H^T.
        lam = device_eigvalsh(sample_moments(H, name="H").gram)
        return rank_from_gram(None, rank_share, n, H.dtype, eigenvalues=_padded(lam, p))
    moments = Moments(with_sums=False, name="H").update(H)
    return rank_from_gram(to_host(moments.gram), rank_share, moments.n_samples, H.dtype)


@validate_params(
    {
        "H": ["array-like", "sparse matrix"],
        "y": ["array-like"],
        "weights": ["array-like", None],
        "predictions": ["array-like", None],
        "global_mean": [StrOptions({"samples", "classes"})],
        "target_type": TARGET_TYPE_CONSTRAINT,
    },
    prefer_skip_nested_validation=True,
)
def neural_collapse(
    H,
    y,
    *,
    weights=None,
    predictions=None,
    global_mean="samples",
    target_type="auto",
):
    """Neural-collapse measures NC1-NC4 and CDNV of a layer.

    With class means ``mu_k``, global mean ``mu_G`` (mean of all samples, or of
    the class means with ``global_mean="classes"``), ``M`` the ``K x p`` matrix
    of rows ``mu_k - mu_G``, ``Sigma_W`` and ``Sigma_B`` as in
    :func:`within_class_compression`:

    - ``nc1 = tr(Sigma_W Sigma_B^+) / K``;
    - ``nc2_equinorm`` = std (``ddof=1``) / mean of the norms ``||mu_k - mu_G||``;
    - ``nc2_equiangularity`` = std (``ddof=1``) of the cosines between the rows
      of ``M``, and ``nc2_max_angle`` = mean of ``|cos + 1/(K-1)|`` over pairs
      (Papyan et al.'s two equiangularity measures);
    - ``nc2_etf = || M M^T / ||M M^T||_F - (I - 11^T/K) / sqrt(K-1) ||_F``;
    - ``nc3 = || W / ||W||_F - M / ||M||_F ||_F^2`` for read-out weights ``W``
      (Papyan et al.'s self-duality), and ``nc3_etf`` the same ETF distance
      as ``nc2_etf`` for ``W M^T`` (Kothapalli's self-duality);
    - ``nc4`` = fraction of samples whose nearest-class-mean label differs
      from ``predictions``;
    - ``cdnv`` = mean over pairs ``k < k'`` of
      ``(Var_k + Var_k') / (2 ||mu_k - mu_k'||^2)``, ``Var_k`` the mean squared
      distance of class ``k`` to its mean.

    These follow Papyan, Han and Donoho (2020) and its follow-ups, and their
    reference code (standard deviations with ``ddof=1``); covariances divide
    by the number of samples (a one-sample class has zero spread), and
    ``Sigma_B^+`` is the pseudo-inverse on the span of the centred class means
    (from the thin SVD of ``M``).  Where ``Sigma_B = 0`` (all means equal)
    ``nc1``, ``nc2_*`` and ``cdnv`` are ``inf``.

    Parameters
    ----------
    H : {array-like, sparse matrix} of shape (n_samples, n_features)
        Features of the last hidden layer (or any layer).
    y : array-like of shape (n_samples,)
        Class labels (at least 2 classes).
    weights : array-like of shape (n_classes, n_features), default=None
        Read-out weights, one row per class in sorted label order; gives ``nc3``.
    predictions : array-like of shape (n_samples,), default=None
        The model's predicted labels; gives ``nc4`` (a second pass over ``H``).
    global_mean : {"samples", "classes"}, default="samples"
        ``mu_G`` as the mean of all samples (the spec's), or as the mean of the
        class means (as Papyan et al.'s and rhubarbwu's code for imbalanced
        classes).
    target_type : {"auto", "classes", "values"}, default="auto"
        How ``y`` is read, as in :func:`within_class_compression`.

    Returns
    -------
    result : NeuralCollapse
        Frozen dataclass of the measures (``to_dict()`` gives a dict).

    References
    ----------
    .. [1] Papyan, Han, Donoho. "Prevalence of neural collapse during the
       terminal phase of deep learning training", PNAS 117 (2020).
    .. [2] Galanti, Gyorgy, Hutter. "On the role of neural collapse in transfer
       learning", ICLR 2022 (CDNV).

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics import neural_collapse
    >>> means = np.eye(3) - 1 / 3  # a simplex ETF
    >>> H = np.repeat(means, 4, axis=0)
    >>> y = np.repeat([0, 1, 2], 4)
    >>> nc = neural_collapse(H, y, predictions=y)
    >>> round(nc.nc1, 12), round(nc.nc2_etf, 12), nc.nc4
    (0.0, 0.0, 0.0)
    """
    moments = _moments_of(H, y, target_type, "Neural collapse")
    result = moments.neural_collapse(weights, global_mean=global_mean)
    if predictions is None:
        return result
    predictions = check_labels(predictions, "predictions")
    check_n_samples(predictions, moments.n_samples_, "predictions")
    if not np.any(np.isin(predictions, moments.classes_)):
        # Otherwise NC4 is 1 for a reason that has nothing to do with collapse.
        raise ValueError(
            "predictions share no label with y's classes "
            f"{moments.classes_[:5].tolist()}: encode them the same way "
            f"(got e.g. {predictions[:3].tolist()})."
        )
    nearest = moments.nearest_class_mean(H)
    nc4 = float(np.mean(nearest != predictions))
    return NeuralCollapse(**{**result.to_dict(), "nc4": nc4})


# -- wide layers: the sample side (n x n), never p x p -------------------------------


def rows_side(H):
    """Return whether the geometry of ``H`` is cheaper from its rows (``n x n``).

    Dense in-memory features with more features than samples (``p > n``):
    ``n^2 p + n^3`` operations and an ``n x n`` matrix instead of the
    ``n p^2 + p^3`` and ``p x p`` of :class:`ClassMoments`.  Sparse and dask
    features take the streaming (``p x p``) route.
    """
    return (
        not sp.issparse(H)
        and not is_dask(H)
        and getattr(H, "ndim", 0) == 2
        and H.shape[1] > H.shape[0]
    )


def _scaled_column_blocks(H, xp):
    """Yield ``(columns, block, scale)``: float64 column blocks of ``H``, ``H / scale``.

    Divided by a power of two near the largest magnitude of ``H`` (every
    measure here is scale-invariant), so that squares neither overflow nor
    underflow; ``CHUNK_ELEMENTS / 8`` entries at a time, so that no float64
    copy of the whole ``n x p`` data is ever held.
    """
    # max and -min: no |H| temporary the size of the data.
    peak = max(float(to_host(xp.max(H))), -float(to_host(xp.min(H))))
    if not math.isfinite(peak):
        raise ValueError("H contains NaN or infinity.")
    top = 2.0 ** round(math.log2(peak)) if peak > 0 else 1.0
    n, p = H.shape
    # A few float64 temporaries of a block's size are alive at once.
    step = max(1, CHUNK_ELEMENTS // (8 * max(n, 1)))
    for start in range(0, p, step):
        columns = slice(start, min(start + step, p))
        yield columns, xp.astype(H[:, columns], xp.float64) / top, top


def _padded(lam, p):
    """Eigenvalues of ``X^T X`` (``p`` of them) from those of ``X X^T``."""
    return np.concatenate([np.zeros(max(p - lam.size, 0)), lam])


def rows_geometry(H, y, rank_share=0.95):
    """Geometry columns of a record from the rows of wide features (``p > n``).

    The same values as :class:`ClassMoments` (``within_class_compression``,
    ``between_class_discrimination``, ``numerical_rank``,
    ``neural_collapse().nc1``, ``target_linearity``), to rounding, without a
    ``p x p`` matrix: the spectrum of ``H^T H`` is that of the ``n x n``
    Gram ``H H^T`` (padded with zeros), the projector onto the span of ``H``
    is ``U U^T`` from its eigenvectors, and ``Sigma_W`` is only applied to
    the (at most ``K``) directions of the centred class means, as
    ``(H - M_y) V`` (``n x K``).  Memory: ``n x n``, ``K x p`` and one float64
    column block of ``H`` at a time (``CHUNK_ELEMENTS / 8`` entries).

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics._geometry import rows_geometry
    >>> H = np.array([[1.0, 0.0, 0.0], [1.2, 0.0, 0.0]])
    >>> H = np.r_[H, [[0.0, 1.0, 0.0], [0.0, 0.8, 0.0]]]
    >>> round(rows_geometry(H, [0, 0, 1, 1])["compression"], 4)
    0.0198
    """
    geometry = SampleSideGeometry(H, y)
    return {
        "compression": geometry.within_class_compression(),
        "discrimination": geometry.between_class_discrimination(),
        "numerical_rank": geometry.numerical_rank(rank_share),
        "nc1": geometry.neural_collapse().nc1,
        "target_linearity": geometry.target_linearity(),
    }


class SampleSideGeometry(ClassMoments):
    """Class geometry of dense wide features (``p > n``) from their rows.

    The measures of :class:`ClassMoments` (inherited: the same formulas) from
    statistics read off ``H`` itself, never a ``p x p`` matrix: class means
    (``K x p``) and within-class spreads from float64 column blocks (each
    class relative to its first sample, as :class:`ClassMoments`, so
    collapsed features lose no digits), ``Sigma_W`` applied only to the
    directions of the centred class means (``(H - M_y) V``, ``n x K``, a
    second pass), and the spectrum of ``H^T H`` from the ``n x n`` kernel
    ``H H^T`` (:func:`~skfeat._moments.sample_moments`).  Keeps a reference
    to ``H`` (no copy); it takes no updates.

    Parameters
    ----------
    H : array of shape (n_samples, n_features)
        Dense features, any array-API namespace and device.
    y : array-like of shape (n_samples,)
        Class labels.
    """

    def __init__(self, H, y):
        super().__init__()
        H = check_matrix(H, "H")
        labels = check_labels(y)
        check_n_samples(labels, H.shape[0], "y")
        self._H = H
        self._xp, self._device = namespace_and_device(H)
        self._classes, self._codes = np.unique(labels, return_inverse=True)
        K, (n, p) = self._classes.size, H.shape
        self._counts_k = np.bincount(self._codes, minlength=K).astype(np.float64)
        self._dtype = _least_precise(None, H.dtype)
        self._on_device = None  # codes, first rows and one-hot where H lives
        means, row_sq = np.empty((K, p)), np.zeros(n)
        self._top = 1.0
        for columns, block, top in _scaled_column_blocks(H, self._xp):
            within, means[:, columns] = self._within_rows(block)
            row_sq += to_host(self._xp.sum(within * within, axis=1))
            self._top = top
        self._means = means  # units of self._top
        self._variances = (
            np.bincount(self._codes, weights=row_sq, minlength=K) / self._counts_k
        )
        self._kernel = None

    @property
    def n_features_(self):
        """Number of features ``p``."""
        return self._H.shape[1]

    @property
    def n_samples_(self):
        """Number of samples."""
        return int(self._H.shape[0])

    @property
    def classes_(self):
        """Labels of the classes, sorted."""
        return self._classes

    @property
    def counts_(self):
        """Samples per class, in the order of ``classes_``."""
        return self._counts_k.astype(np.int64)

    def update(self, H, y):
        """Refused: the sample-side geometry is of one ``H``."""
        raise TypeError("SampleSideGeometry measures one H; it takes no updates.")

    def merge(self, other):
        """Refused, as :meth:`update`."""
        raise TypeError("SampleSideGeometry measures one H; it takes no merges.")

    def _within_rows(self, block):
        """``(rows - their class mean, class means)`` of one column block."""
        xp, device = self._xp, self._device
        if self._on_device is None:
            n = block.shape[0]
            onehot = np.zeros((n, self._classes.size))
            onehot[np.arange(n), self._codes] = 1.0
            first = np.unique(self._codes, return_index=True)[1]
            self._on_device = (
                xp.asarray(self._codes, device=device),
                xp.asarray(first, device=device),
                from_host(onehot, xp, device, xp.float64),
            )
        codes, first, onehot = self._on_device
        refs = xp.take(block, first, axis=0)
        shifted = block - xp.take(refs, codes, axis=0)
        shift_means = to_host(onehot.T @ shifted) / self._counts_k[:, None]
        within = shifted - xp.take(
            from_host(shift_means, xp, device, xp.float64), codes, axis=0
        )
        return within, to_host(refs) + shift_means

    def _check_started(self):
        pass

    def _stats(self, global_mean="samples"):
        K = self._classes.size
        if K < 2:
            raise ValueError(
                "The geometry measures need at least 2 classes; "
                f"y has only {K} ({self._classes.tolist()})."
            )
        counts, means = self._counts_k, self._means
        n = counts.sum()
        if global_mean == "classes":
            grand_mean = means.mean(axis=0)
        else:
            grand_mean = counts @ means / n
        return counts, n, means, self._variances, means - grand_mean

    def _nc1(self, centred):
        K, p = centred.shape
        _, s, Vt = np.linalg.svd(centred, full_matrices=False)
        scale = max(s[0], np.abs(self._means).max()) if s.size else 0.0
        keep = s > scale * max(K, p) * EPS64
        if not np.any(keep):
            return float("inf")
        xp, device = self._xp, self._device
        projected = np.zeros((self.n_samples_, int(keep.sum())))
        for columns, block, _ in _scaled_column_blocks(self._H, xp):
            V = from_host(Vt[keep][:, columns].T, xp, device, xp.float64)
            projected += to_host(self._within_rows(block)[0] @ V)
        quad = np.sum(projected**2, axis=0) / self.n_samples_
        return float(max(np.sum(quad / s[keep] ** 2), 0.0))

    def _kernel_eigenvalues(self):
        """``H H^T`` (where ``H`` lives) and its eigenvalues, computed once."""
        if self._kernel is None:
            gram = sample_moments(self._H, name="H").gram
            self._kernel = gram, device_eigvalsh(gram)
        return self._kernel

    def numerical_rank(self, rank_share=0.95):
        """Numerical rank of ``H``; see :meth:`ClassMoments.numerical_rank`."""
        _check_share(rank_share)
        lam = self._kernel_eigenvalues()[1]
        n, p = self._H.shape
        return rank_from_gram(
            None, rank_share, n, self._dtype, eigenvalues=_padded(lam, p)
        )

    def target_linearity(self):
        """Target linearity of the one-hot labels (``n x n`` side)."""
        gram, lam = self._kernel_eigenvalues()
        n, p = self._H.shape
        onehot = np.zeros((n, self._classes.size))
        onehot[np.arange(n), self._codes] = 1.0
        counts = self._counts_k
        Yc = onehot - counts / n
        total = n - counts @ counts / n
        rtol = span_rtol(self._dtype, n, p, exact=False)
        explained = kernel_projection(gram, Yc, rtol, eigenvalues=lam)
        return float(np.clip(explained / total, 0, 1))

    def nearest_class_mean(self, H):
        """Label of the nearest class mean of each row of ``H``."""
        H = check_matrix(H, "H")
        if H.shape[1] != self.n_features_:
            raise ValueError(
                f"H has {H.shape[1]} features; the moments have {self.n_features_}."
            )
        labels = [
            _nearest(chunk, self._means, self._top)
            for _, chunk in iter_row_blocks(H, self._means.shape[0], self.chunk_rows)
        ]
        return self._classes[np.concatenate(labels)]


def rows_value_geometry(H, Y, rank_share=0.95):
    """``numerical_rank`` and ``target_linearity`` of real targets, ``p > n``.

    The sample-side twin of the ``[H | Y]`` moments route (see
    :func:`rows_geometry`): one ``n x n`` eigendecomposition, no ``p x p``.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics._geometry import rows_value_geometry
    >>> H = np.c_[np.ones(3), [1.0, 2.0, 3.0], np.zeros((3, 2))]
    >>> rows_value_geometry(H, np.array([[2.0], [4.0], [6.0]]))["target_linearity"]
    1.0
    """
    H = check_matrix(H, "H")
    dtype = _least_precise(None, H.dtype)
    Y = np.asarray(Y, dtype=np.float64).reshape(Y.shape[0], -1)
    check_n_samples(Y, H.shape[0], "y")
    n, p = H.shape
    linearity, lam = sample_side_linearity(H, Y)
    return {
        "numerical_rank": rank_from_gram(
            None, rank_share, n, dtype, eigenvalues=_padded(lam, p)
        ),
        "target_linearity": linearity,
    }
