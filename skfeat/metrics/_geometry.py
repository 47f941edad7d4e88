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

Nothing ever forms an ``n x n`` matrix; the pseudo-inverse of ``Sigma_B``
comes from the thin SVD of the ``K x p`` matrix of centred class means.
"""

from dataclasses import asdict, dataclass
from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils._param_validation import Interval, validate_params

from skfeat._moments import Moments
from skfeat.utils._array_api import (
    _is_dask,
    dtype_eps,
    from_host,
    namespace_and_device,
    to_host,
)

from ._blocks import check_features, check_rows, iter_row_blocks, labels_to_host
from ._linearity import linearity_from_moments
from ._validation import check_real_dtype, host_array

__all__ = [
    "ClassMoments",
    "NeuralCollapse",
    "between_class_discrimination",
    "neural_collapse",
    "numerical_rank",
    "within_class_compression",
]

_REFERENCES = (
    "Wang, Li, Yaras, Zhu, Balzano, Hu, Qu. Understanding deep representation "
    "learning via layerwise feature compression and discrimination, "
    "arXiv:2311.02960."
)


class ClassMoments:
    """Streaming per-class first and second moments of features.

    ``update(H, y)`` adds labelled rows (any number of calls, any chunking);
    ``merge(other)`` adds an accumulator of disjoint rows (dask partitions,
    processes).  The geometry measures are then read off the moments; they equal
    the batch functions (:func:`within_class_compression`, ...) on all rows, to
    float rounding.

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
    array-api-strict; dask arrays block by block); each chunk's ``(p + K + 1)``
    square Gram matrix then moves to the host, where the state is kept in
    float64.  Memory: one ``p x p`` matrix plus ``O(K p)``.

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
        self._scatter = None  # sum_i (h_i - c_{y_i})(h_i - c_{y_i})^T
        self._sums = None  # row k: sum over class k of (h - c_k)
        self._sqnorms = None  # sum over class k of ||h - c_k||^2
        self._counts = None
        self._refs = None  # reference point c_k of each class
        self._eps = 0.0  # machine epsilon of the widest-error dtype seen
        if classes is not None:
            labels = labels_to_host(classes, "classes")
            if labels.ndim != 1 or len(np.unique(labels)) != len(labels):
                raise ValueError("classes must be a 1-D array of distinct labels.")
            self._new_labels(list(labels))

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
        H, xp, device = check_features(H)
        y = labels_to_host(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D class labels; got shape {y.shape}.")
        check_rows(H.shape[0], y)
        p = H.shape[1]
        if self._scatter is None:
            self._scatter = np.zeros((p, p))
            self._grow(p)
        elif p != self.n_features_:
            raise ValueError(
                f"H has {p} features, but earlier updates had {self.n_features_}."
            )
        codes = self._encode(y)
        if _is_dask(H):
            return self.merge(_dask_moments(H, y, self.chunk_rows))
        present, first, local = np.unique(codes, return_index=True, return_inverse=True)
        refs = self._refs[present].copy()
        fresh = self._counts[present] == 0
        if np.any(fresh):
            # A class's reference is its first sample: then h - c_k is of the
            # size of the within-class spread, and its scatter loses no digits.
            refs[fresh] = _rows_to_host(H, xp, device, first[fresh])
        # One Moments for the whole call: the products accumulate where H
        # lives, and only one (p + K + 1)-square matrix comes to the host.
        moments, K, refs_dev = Moments(), present.size, None
        for rows, chunk in iter_row_blocks(H, xp, p + K + 1, self.chunk_rows):
            cxp, cdev = namespace_and_device(chunk)
            if refs_dev is None:
                # float32 data: the references are rows of it, so exact.
                refs_dev = from_host(refs, cxp, cdev, chunk.dtype)
            codes_dev = cxp.asarray(local[rows], device=cdev)
            shifted = chunk - cxp.take(refs_dev, codes_dev, axis=0)
            onehot = cxp.astype(
                codes_dev[:, None] == cxp.arange(K, device=cdev)[None, :], chunk.dtype
            )
            sq = cxp.sum(shifted * shifted, axis=1)[:, None]
            moments.update(shifted, onehot, sq)
            self._eps = max(self._eps, dtype_eps(chunk.dtype))
        G = to_host(moments.gram, namespace_and_device(moments.gram)[0])
        counts = np.rint(np.diag(G[p : p + K, p : p + K])).astype(np.int64)
        self._add(
            present,
            G[:p, :p],
            G[p : p + K, :p],
            counts,
            G[p : p + K, p + K],
            to_host(refs_dev, namespace_and_device(refs_dev)[0]),
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
        if self._scatter is None:
            self._scatter = np.zeros_like(other._scatter)
            self._grow(other.n_features_)
        elif other.n_features_ != self.n_features_:
            raise ValueError(
                f"Cannot merge moments of {other.n_features_} features into "
                f"moments of {self.n_features_}."
            )
        seen = other._counts > 0
        idx = self._encode(np.asarray(other._labels, dtype=object)[seen])
        self._add(
            idx,
            other._scatter,
            other._sums[seen],
            other._counts[seen],
            other._sqnorms[seen],
            other._refs[seen],
        )
        self._eps = max(self._eps, other._eps)
        return self

    def _add(self, idx, scatter, sums, counts, sqnorms, refs):
        """Add moments taken relative to ``refs`` to classes ``idx``."""
        fresh = self._counts[idx] == 0
        self._refs[idx[fresh]] = refs[fresh]
        delta = refs - self._refs[idx]
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

    def _encode(self, y):
        uniq, inverse = np.unique(y, return_inverse=True)
        new = [u for u in uniq.tolist() if u not in self._index]
        if new:
            if self.classes is not None:
                raise ValueError(
                    f"y has labels {new[:5]} that are not in classes={self.classes!r}."
                )
            self._new_labels(new)
        lookup = np.array([self._index[u] for u in uniq.tolist()], dtype=np.intp)
        return lookup[inverse.reshape(-1)]

    def _new_labels(self, labels):
        for label in labels:
            self._index[label] = len(self._labels)
            self._labels.append(label)
        if self._scatter is not None:
            self._grow(self.n_features_)

    def _grow(self, p):
        K = len(self._labels)
        old = 0 if self._counts is None else self._counts.size
        extra = K - old
        if old == 0:
            self._sums, self._refs = np.zeros((K, p)), np.zeros((K, p))
            self._sqnorms, self._counts = np.zeros(K), np.zeros(K, dtype=np.int64)
        elif extra:
            self._sums = np.vstack([self._sums, np.zeros((extra, p))])
            self._refs = np.vstack([self._refs, np.zeros((extra, p))])
            self._sqnorms = np.concatenate([self._sqnorms, np.zeros(extra)])
            self._counts = np.concatenate([self._counts, np.zeros(extra, np.int64)])

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
        return self._counts[self._order()]

    @property
    def means_(self):
        """Class means ``mu_k`` (host float64), in the order of ``classes_``."""
        o = self._order()
        return self._refs[o] + self._sums[o] / self._counts[o, None]

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

    def _stats(self):
        """Class geometry from the moments (host float64)."""
        if self._counts is None or self.n_samples_ == 0:
            raise ValueError("No samples seen yet; call update(H, y) first.")
        o = self._order()
        if o.size < 2:
            raise ValueError(
                "The geometry measures need at least 2 classes; "
                f"y has only {o.size} ({self.classes_.tolist()})."
            )
        counts = self._counts[o].astype(np.float64)
        sums, refs = self._sums[o], self._refs[o]
        n = counts.sum()
        means = refs + sums / counts[:, None]
        # A class of one sample has zero spread about its own mean: its
        # covariance (divided by n_k, not n_k - 1) is zero.
        variances = (self._sqnorms[o] - np.sum(sums**2, axis=1) / counts) / counts
        variances = np.clip(variances, 0.0, None)
        grand_mean = counts @ means / n
        centred = means - grand_mean
        return counts, n, means, variances, centred

    def _within_covariance(self):
        """``Sigma_W`` (p x p): the scatter about the class means over n."""
        o = self._order()
        counts = self._counts[o].astype(np.float64)
        sums = self._sums[o]
        return (self._scatter - sums.T @ (sums / counts[:, None])) / counts.sum()

    def _uncentred_gram(self):
        """``H^T H`` (p x p): the scatter moved to reference point 0."""
        refs, sums, counts = self._refs, self._sums, self._counts
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

    def numerical_rank(self, threshold=0.95):
        """Numerical rank of ``H`` (uncentred); see :func:`numerical_rank`.

        Parameters
        ----------
        threshold : float, default=0.95
            Share of the sum of singular values to reach, in ``(0, 1]``.

        Returns
        -------
        rank : int
            Smallest ``k`` with ``sum_{i<=k} s_i / sum_i s_i >= threshold``.
        """
        if self._scatter is None:
            raise ValueError("No samples seen yet; call update(H, y) first.")
        eps = max(self._eps, np.finfo(np.float64).eps)
        return _rank_from_gram(self._uncentred_gram(), threshold, self.n_samples_, eps)

    def neural_collapse(self, weights=None):
        """NC1, NC2, NC3 and CDNV; see :func:`neural_collapse`.

        NC4 needs a second pass over the features: see
        :meth:`nearest_class_mean` and :func:`neural_collapse`.

        Parameters
        ----------
        weights : array-like of shape (n_classes, n_features), default=None
            Read-out weights, one row per class in the order of ``classes_``.

        Returns
        -------
        result : NeuralCollapse
            The measures (``nc4`` is None).
        """
        counts, n, means, variances, centred = self._stats()
        K, p = centred.shape
        return NeuralCollapse(
            nc1=self._nc1(centred),
            nc2_equinorm=_equinorm(centred),
            nc2_etf=_etf_error(centred),
            nc3=None if weights is None else _self_duality(weights, centred),
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
            max(self._eps, np.finfo(np.float64).eps),
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
        means = self.means_
        if means.shape[0] == 0:
            raise ValueError("No samples seen yet; call update(H, y) first.")
        H, xp, device = check_features(H)
        if H.shape[1] != self.n_features_:
            raise ValueError(
                f"H has {H.shape[1]} features; the moments have {self.n_features_}."
            )
        labels = []
        K = means.shape[0]
        for _, chunk in iter_row_blocks(H, xp, K, self.chunk_rows):
            cxp, cdev = namespace_and_device(chunk)
            mu = from_host(means.T, cxp, cdev, chunk.dtype)
            half_sq = from_host(0.5 * np.sum(means**2, axis=1), cxp, cdev, chunk.dtype)
            # argmin ||h - mu||^2 = argmax (h . mu - ||mu||^2 / 2): an n x K product.
            score = chunk @ mu - half_sq[None, :]
            labels.append(to_host(cxp.argmax(score, axis=1), cxp).astype(np.intp))
        return self.classes_[np.concatenate(labels)]

    def _nc1(self, centred):
        K, p = centred.shape
        U, s, Vt = np.linalg.svd(centred, full_matrices=False)
        # The centred means are at best accurate to eps * |mu| (a difference of
        # means), which sets the floor below which a direction is not real.
        scale = max(s[0], np.abs(self.means_).max()) if s.size else 0.0
        keep = s > scale * max(K, p) * np.finfo(np.float64).eps
        if not np.any(keep):
            return float("inf")
        V = Vt[keep].T
        within = self._within_covariance()
        # Sigma_B = V diag(s^2 / K) V^T, so tr(Sigma_W Sigma_B^+) / K is
        # sum_j v_j^T Sigma_W v_j / s_j^2: a K-dimensional problem.
        quad = np.sum(V * (within @ V), axis=0)
        return float(max(np.sum(quad / s[keep] ** 2), 0.0))


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
        Coefficient of variation (std / mean) of ``||mu_k - mu_G||``.
    nc2_etf : float
        Distance of the normalised Gram matrix of the centred class means to
        that of a simplex equiangular tight frame.
    nc3 : float or None
        Self-duality ``||W / ||W|| - M / ||M|| ||_F^2``; None without weights.
    nc4 : float or None
        Fraction of samples whose nearest-class-mean label differs from the
        model's prediction; None without predictions.
    cdnv : float
        Class-distance normalised variance, averaged over pairs of classes.

    Examples
    --------
    >>> from skfeat.metrics import NeuralCollapse
    >>> nc = NeuralCollapse(0.1, 0.0, 0.2, None, None, 0.05)
    >>> nc.nc1, nc.to_dict()["cdnv"]
    (0.1, 0.05)
    """

    nc1: float
    nc2_equinorm: float
    nc2_etf: float
    nc3: float | None
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
    return float("inf") if mean == 0 else float(norms.std() / mean)


def _etf_error(centred):
    K = centred.shape[0]
    gram = centred @ centred.T
    size = np.linalg.norm(gram)
    if size == 0:
        return float("inf")
    simplex = (np.eye(K) - np.ones((K, K)) / K) / np.sqrt(K - 1)
    return float(np.linalg.norm(gram / size - simplex))


def _self_duality(weights, centred):
    W = host_array(weights, "weights")
    check_real_dtype(W.dtype, "weights")
    W = W.astype(np.float64, copy=False)
    if W.shape != centred.shape:
        raise ValueError(
            f"weights must have shape (n_classes, n_features) = {centred.shape}; "
            f"got {W.shape}."
        )
    if not np.all(np.isfinite(W)):
        raise ValueError("weights contains NaN or infinity.")
    w_norm, m_norm = np.linalg.norm(W), np.linalg.norm(centred)
    if w_norm == 0 or m_norm == 0:
        raise ValueError("NC3 is undefined when the weights or class means are zero.")
    return float(np.sum((W / w_norm - centred / m_norm) ** 2))


def _cdnv(means, variances):
    K = means.shape[0]
    i, j = np.triu_indices(K, k=1)
    dist = np.sum((means[i] - means[j]) ** 2, axis=1)
    if np.any(dist == 0):
        return float("inf")
    return float(np.mean((variances[i] + variances[j]) / (2 * dist)))


def _rank_from_gram(gram, threshold, n_samples, eps):
    lam = np.clip(np.linalg.eigvalsh(gram)[::-1], 0.0, None)
    # Eigenvalues of H^T H below the rank tolerance of FeatureSpectrum are
    # rounding noise; their square roots (~ sqrt(eps) s_1 each) would
    # otherwise add up to a visible share of the sum.
    lam[lam <= lam[0] * max(n_samples, lam.size) * eps] = 0.0
    s = np.sqrt(lam)
    total = s.sum()
    if total == 0:
        raise ValueError("H is zero: its numerical rank is undefined.")
    share = np.cumsum(s) / total
    # A small tolerance so that threshold=1 is reached despite rounding.
    return int(min(np.searchsorted(share, threshold * (1 - 1e-12)) + 1, s.size))


def _block_moments(block, y, chunk_rows):
    return ClassMoments(chunk_rows=chunk_rows).update(block, y)


def _merged(left, right):
    return left.merge(right)


def _dask_moments(H, y, chunk_rows):
    """Moments of a dask array: one accumulator per row block, tree-merged.

    Each block's moments are computed by a dask task where the block lives;
    pairs of accumulators are then merged in a binary tree, so the graph
    parallelises and at most a few ``p x p`` matrices exist at once.
    """
    from dask import delayed

    parts, start = [], 0
    for i, height in enumerate(H.chunks[0]):
        if height:
            rows = y[start : start + height]
            parts.append(delayed(_block_moments)(H.blocks[i], rows, chunk_rows))
        start += height
    while len(parts) > 1:
        pairs = zip(parts[::2], parts[1::2])
        merged = [delayed(_merged)(a, b) for a, b in pairs]
        parts = merged + parts[len(merged) * 2 :]
    return parts[0].compute()


def _rows_to_host(H, xp, device, index):
    """Rows ``index`` of ``H`` as host float64 (the class references)."""
    if sp.issparse(H):
        return np.asarray(H[index].toarray(), dtype=np.float64)
    if _is_dask(H):
        return np.asarray(H[index].compute(), dtype=np.float64)
    return to_host(xp.take(H, xp.asarray(index, device=device), axis=0), xp)


def _moments_of(H, y):
    return ClassMoments().update(H, y)


_HY = {"H": ["array-like", "sparse matrix"], "y": ["array-like"]}


@validate_params(_HY, prefer_skip_nested_validation=True)
def within_class_compression(H, y):
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
    return _moments_of(H, y).within_class_compression()


@validate_params(_HY, prefer_skip_nested_validation=True)
def between_class_discrimination(H, y):
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
    return _moments_of(H, y).between_class_discrimination()


@validate_params(
    {
        "H": ["array-like", "sparse matrix"],
        "threshold": [Interval(Real, 0, 1, closed="right")],
    },
    prefer_skip_nested_validation=True,
)
def numerical_rank(H, *, threshold=0.95):
    """Count the singular values of ``H`` that carry a share of their sum.

    The smallest ``k`` with ``sum_{i<=k} s_i / sum_i s_i >= threshold`` for the
    singular values ``s_1 >= s_2 >= ...`` of the (uncentred) feature matrix.
    Computed from the ``p x p`` matrix ``H^T H`` in one pass.

    Parameters
    ----------
    H : {array-like, sparse matrix} of shape (n_samples, n_features)
        Features of one layer.
    threshold : float, default=0.95
        Share of the sum of singular values to reach, in ``(0, 1]``.

    Returns
    -------
    rank : int
        The numerical rank.

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
    >>> numerical_rank(H), numerical_rank(H, threshold=0.99)
    (2, 3)
    """
    H, xp, _ = check_features(H)
    moments = Moments()
    eps = np.finfo(np.float64).eps
    for _, chunk in iter_row_blocks(H, xp, H.shape[1]):
        moments.update(chunk)
        eps = max(eps, dtype_eps(chunk.dtype))
    gram = to_host(moments.gram, namespace_and_device(moments.gram)[0])
    return _rank_from_gram(gram, threshold, moments.n_samples, eps)


@validate_params(
    {
        "H": ["array-like", "sparse matrix"],
        "y": ["array-like"],
        "weights": ["array-like", None],
        "predictions": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def neural_collapse(H, y, *, weights=None, predictions=None):
    """Neural-collapse measures NC1-NC4 and CDNV of a layer.

    With class means ``mu_k``, global mean ``mu_G`` (mean of all samples),
    ``M`` the ``K x p`` matrix of rows ``mu_k - mu_G``, ``Sigma_W`` and
    ``Sigma_B`` as in :func:`within_class_compression`:

    - ``nc1 = tr(Sigma_W Sigma_B^+) / K``;
    - ``nc2_equinorm`` = std / mean of the norms ``||mu_k - mu_G||``;
    - ``nc2_etf = || M M^T / ||M M^T||_F - (I - 11^T/K) / sqrt(K-1) ||_F``;
    - ``nc3 = || W / ||W||_F - M / ||M||_F ||_F^2`` for read-out weights ``W``;
    - ``nc4`` = fraction of samples whose nearest-class-mean label differs
      from ``predictions``;
    - ``cdnv`` = mean over pairs ``k < k'`` of
      ``(Var_k + Var_k') / (2 ||mu_k - mu_k'||^2)``, ``Var_k`` the mean squared
      distance of class ``k`` to its mean.

    These follow Papyan, Han and Donoho (2020) and its follow-ups; covariances
    divide by the number of samples (a one-sample class has zero spread), and
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

    Returns
    -------
    result : NeuralCollapse
        Frozen dataclass with ``nc1``, ``nc2_equinorm``, ``nc2_etf``, ``nc3``,
        ``nc4``, ``cdnv`` (``to_dict()`` gives a dict).

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
    moments = _moments_of(H, y)
    result = moments.neural_collapse(weights)
    if predictions is None:
        return result
    predictions = labels_to_host(predictions, "predictions")
    if predictions.ndim != 1:
        raise ValueError(
            f"predictions must be 1-D labels; got shape {predictions.shape}."
        )
    check_rows(moments.n_samples_, predictions, "predictions")
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
