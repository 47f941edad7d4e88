"""FeatureSpectrum: the Nystrom spectrum of a feature map."""

import warnings
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_is_fitted,
    validate_data,
)

from ._moments import Moments
from .metrics._dimension import eigenvalue_dimension
from .metrics._validation import check_sample_matrix, host_array
from .utils._array_api import (
    accumulation_dtype,
    check_same_namespace,
    dtype_eps,
    from_host,
    is_dask,
    namespace_and_device,
    to_host,
)

__all__ = ["FeatureSpectrum"]


class FeatureSpectrum(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Eigenvalues and eigenfunctions of a feature map (uncentred, Nystrom).

    A trained network splits into a feature map ``phi`` (input -> a hidden layer)
    and a linear read-out.  ``fit`` diagonalises the **uncentred** second-moment
    operator ``G = Phi^T Phi / n`` of the features ``Phi`` (n samples x p
    features) of a training sample; ``transform`` evaluates the eigenfunctions
    ``e_k(x) = v_k^T phi(x) / sqrt(lambda_k)`` on any sample.  On the training
    sample the eigenfunctions are orthonormal: ``(1/n) sum_i e_j e_k = delta_jk``.

    Unlike :class:`~sklearn.decomposition.PCA`, the features are **not
    centred**: the constant function is a feature, and in trained networks the
    first eigenfunction is close to constant (Nam et al., 2024).

    Parameters
    ----------
    n_components : int, float or None, default=None
        Number of eigenpairs to keep.

        - ``None``: all eigenpairs above the numerical rank threshold
          ``lambda_k > lambda_1 * max(n, p) * eps(dtype)``.
        - int ``k``: the ``k`` largest; at most ``min(n_samples, n_features)``.
          If fewer than ``k`` eigenvalues are numerically nonzero, only those
          are kept and a warning says so.
        - float in ``(0, 1)``: the smallest ``k`` whose eigenvalue share
          ``sum_{i<=k} lambda_i / sum_i lambda_i`` reaches ``n_components``.

    solver : {"auto", "gram", "dual", "svd", "randomized"}, default="auto"
        - ``"gram"``: accumulate ``Phi^T Phi`` (one symmetric rank-k product
          per chunk of rows, i.e. BLAS ``syrk`` for numpy, summed in float64),
          then a float64 ``p x p`` eigendecomposition on the host.
        - ``"dual"``: for ``p > n``: eigendecomposition of the ``n x n`` Gram
          matrix ``Phi Phi^T``; same eigenpairs.
        - ``"svd"``: a float64 SVD of ``Phi`` (copies ``Phi`` to the host in
          float64; exact even when ``Phi^T Phi`` loses the small eigenvalues).
        - ``"randomized"``: the top ``n_components`` (an int) eigenpairs by
          randomized subspace iteration on ``Phi^T Phi / n`` with a Nystrom
          read-out: ``n_iter + 1`` passes over the data, each one product
          ``Phi^T (Phi Q)`` with a thin ``p x (n_components + n_oversamples)``
          block; neither ``p x p`` nor ``n x n`` is formed.  For very wide
          layers; accurate to a relative ``(lambda_{l+1}/lambda_k)^(2 n_iter
          + 1)`` (see ``docs/scaling.rst``).  ``rank_`` and
          ``effective_dimension_`` then describe the kept eigenvalues only.
        - ``"auto"``: ``"randomized"`` when ``p > 4096`` and ``n_components``
          is an int at most ``min(n, p) / 10``; else ``"dual"`` when
          ``p > n``, otherwise ``"gram"``.

    n_oversamples : int, default=10
        Extra sketch columns for ``solver="randomized"``.
    n_iter : int, default=4
        Power iterations for ``solver="randomized"`` (the data is read
        ``n_iter + 1`` times).
    random_state : int, RandomState instance or None, default=None
        Seed of the random sketch for ``solver="randomized"``.

    Attributes
    ----------
    eigenvalues_ : array of shape (n_components_,)
        Eigenvalues ``lambda_k`` of ``G``, largest first (``= s_k^2 / n`` for the
        singular values ``s_k`` of ``Phi``), in the input's namespace and dtype.
    components_ : array of shape (n_components_, n_features_in_)
        Unit eigenvectors ``v_k`` as rows; each is signed so that its entry of
        largest magnitude is positive.
    n_components_ : int
        Number of eigenpairs kept.
    rank_ : int
        Numerical rank of ``Phi`` (eigenvalues above the threshold).
    effective_dimension_ : float
        ``D_lambda = 1 + D(lambda_2, lambda_3, ...)`` over all ``rank_``
        eigenvalues, whatever ``n_components`` keeps (see
        :func:`~skfeat.metrics.eigenvalue_dimension`).
    solver_ : str
        The route the last fit took (``"gram"``, ``"dual"``, ``"svd"`` or
        ``"randomized"``): ``solver`` with ``"auto"`` resolved; ``"gram"``
        after ``partial_fit``.
    n_samples_seen_ : int
        Number of training samples (summed over ``partial_fit`` calls).
    n_features_in_ : int
        Number of features ``p``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when ``X`` had string column names.

    See Also
    --------
    skfeat.metrics.cumulative_quality : Alignment of eigenfunctions with a target.
    sklearn.decomposition.PCA : The centred analogue.

    Notes
    -----
    Array API: with ``sklearn.set_config(array_api_dispatch=True)`` (and the
    environment variable ``SCIPY_ARRAY_API=1``), numpy, array-api-strict, torch
    and cupy inputs are processed where they live; only the ``p x p`` (or
    ``n x n`` for the dual route) matrix moves to the host, in float64, for the
    eigendecomposition.  Fitted attributes are in the input's namespace,
    device and dtype; float32 in gives float32 out.

    ``partial_fit`` accumulates ``Phi^T Phi`` and the sample count, and solves
    the ``p x p`` eigenproblem at the end of every call, so the fitted
    attributes are always current.  Any chunking equals ``fit`` with the
    Gram route up to float rounding.

    scipy sparse input is supported through the Gram (or dual) route.

    dask arrays (chunked by rows) are reduced by dask: ``fit`` and
    ``partial_fit`` compute the blockwise ``Phi^T Phi`` (or the randomized
    products) with dask's tree reduction, on a local scheduler or a
    ``dask.distributed`` cluster; ``transform`` returns a lazy dask array
    (one ``map_blocks``-style product per row block).  Fitted attributes are
    numpy arrays.  NaN or infinity in a dask input is reported when the data
    is computed.

    References
    ----------
    .. [1] Nam, Mingard, Lee, Hayou, Louis. "Visualising feature learning in deep
       neural networks by diagonalizing the forward feature map", arXiv:2410.04264.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat import FeatureSpectrum
    >>> rng = np.random.default_rng(0)
    >>> Phi = rng.normal(size=(200, 5)) @ np.diag([3.0, 2.0, 1.0, 0.5, 0.1])
    >>> spectrum = FeatureSpectrum().fit(Phi)
    >>> spectrum.n_components_
    5
    >>> E = spectrum.transform(Phi)
    >>> np.allclose(E.T @ E / len(Phi), np.eye(5))
    True
    """

    _parameter_constraints = {
        "n_components": [
            None,
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="neither"),
        ],
        "solver": [StrOptions({"auto", "gram", "dual", "svd", "randomized"})],
        "n_oversamples": [Interval(Integral, 0, None, closed="left")],
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components=None,
        *,
        solver="auto",
        n_oversamples=10,
        n_iter=4,
        random_state=None,
    ):
        self.n_components = n_components
        self.solver = solver
        self.n_oversamples = n_oversamples
        self.n_iter = n_iter
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Diagonalise ``X^T X / n`` for the training features ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features ``Phi_train`` of the training sample (at least 2 samples).
        y : None
            Ignored.

        Returns
        -------
        self : FeatureSpectrum
            The fitted estimator.
        """
        X = self._validate(X, reset=True, min_samples=2, finite=False)
        n, p = X.shape
        solver = self.solver
        if solver == "auto" and _prefers_randomized(n, p, self.n_components):
            solver = "randomized"
        if solver == "auto":
            solver = "dual" if p > n else "gram"
        if solver != "gram":
            # The Gram route checks finiteness on X^T X (see Moments.update).
            X = self._validate(X, reset=False, min_samples=2)
        self._moments = None
        self.__dict__.pop("_eigenpairs", None)
        if solver == "gram":
            self._moments = Moments(with_sums=False).update(X)
            self._solve_gram(X)
        elif solver == "dual":
            lam, V = _dual_eigh(X)
            self._set_spectrum(lam, V, X)
        elif solver == "randomized":
            self._fit_randomized(X)
        else:
            s, Vt = _host_svd(X)
            self._set_spectrum(s**2 / n, Vt.T, X)
        self.n_samples_seen_ = n
        self.solver_ = solver
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Add a chunk of training samples and update the spectrum.

        Accumulates ``X^T X`` and the sample count (float64), then solves the
        ``p x p`` eigenproblem, so that after any sequence of chunks the fitted
        attributes equal those of ``fit`` on all rows (Gram route) to float
        rounding.  Streaming always takes the Gram route, whatever ``solver``
        says.  It continues an earlier ``partial_fit`` or ``fit``; after a
        ``"dual"`` or ``"svd"`` fit, ``X^T X`` is first rebuilt from all
        ``rank_`` eigenpairs (exact up to the eigenvalues below the numerical
        rank threshold).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A chunk of training features (one row or more).
        y : None
            Ignored.

        Returns
        -------
        self : FeatureSpectrum
            The updated estimator.
        """
        first_call = not hasattr(self, "n_samples_seen_")
        if not first_call:
            check_same_namespace(X, self, attribute="components_", method="partial_fit")
        X = self._validate(X, reset=first_call, min_samples=1, finite=False)
        if first_call:
            self._moments = Moments(with_sums=False)
        elif self._moments is None:
            if not hasattr(self, "_eigenpairs"):
                raise ValueError(
                    "partial_fit cannot continue a fit with solver='randomized': "
                    "it keeps only the top eigenpairs, not X^T X. Fit with another "
                    "solver, or start afresh with partial_fit on a new estimator."
                )
            self._moments = self._moments_from_eigenpairs()
        self._moments.update(X)
        self.n_samples_seen_ = self._moments.n_samples
        self.solver_ = "gram"
        self._solve_gram(X)
        return self

    def transform(self, X):
        """Evaluate the eigenfunctions on a sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features ``Phi`` of any sample (e.g. held-out data).

        Returns
        -------
        E : array of shape (n_samples, n_components_)
            ``E[i, k] = v_k^T phi(x_i) / sqrt(lambda_k)``; unit mean square on the
            training sample.  Same namespace, device and dtype as ``X``.
        """
        check_is_fitted(self)
        if is_dask(X):
            X = self._validate(X, reset=False, min_samples=1)
            return self._transform_dask(X)
        check_same_namespace(X, self, attribute="components_", method="transform")
        X = self._validate(X, reset=False, min_samples=1, finite=False)
        xp, _ = namespace_and_device(X)
        W = xp.astype(self.components_, X.dtype).T / xp.sqrt(
            xp.astype(self.eigenvalues_, X.dtype)
        )
        with np.errstate(invalid="ignore", over="ignore"):
            E = X @ W
        # NaN/inf in X propagate to E: checking the m x k result is cheaper.
        if not bool(xp.all(xp.isfinite(E))):
            raise ValueError("Input X contains NaN or infinity.")
        return E

    def inverse_transform(self, X):
        """Map eigenfunction values back to feature space.

        ``phi = sum_k sqrt(lambda_k) e_k v_k``: exact for features in the span of
        the kept eigenvectors, their projection onto it otherwise.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components_)
            Eigenfunction values, as returned by :meth:`transform`.

        Returns
        -------
        Phi : array of shape (n_samples, n_features_in_)
            Features reconstructed from the kept eigenpairs.
        """
        check_is_fitted(self)
        check_same_namespace(
            X, self, attribute="components_", method="inverse_transform"
        )
        X = check_sample_matrix(X, "X", min_samples=1)
        if is_dask(X):
            # As in transform: checked when each block is read.
            X = X.map_blocks(_check_finite_block, dtype=X.dtype)
        xp, _ = namespace_and_device(X)
        if X.shape[1] != self.n_components_:
            raise ValueError(
                f"X has {X.shape[1]} columns, but this FeatureSpectrum has "
                f"n_components_={self.n_components_} eigenfunctions."
            )
        scale = xp.sqrt(xp.astype(self.eigenvalues_, X.dtype))
        return (X * scale) @ xp.astype(self.components_, X.dtype)

    def get_feature_names_out(self, input_features=None):
        """Names of the eigenfunctions: ``eigenfunction0``, ``eigenfunction1``, ...

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against ``feature_names_in_``.

        Returns
        -------
        feature_names_out : ndarray of str objects
            One name per eigenfunction.
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features, generate_names=False)
        return np.asarray(
            [f"eigenfunction{k}" for k in range(self.n_components_)], dtype=object
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.array_api_support = True
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # -- internals ---------------------------------------------------------

    def _validate(self, X, *, reset, min_samples, finite=True):
        if is_dask(X):
            return self._validate_dask(X, reset=reset, min_samples=min_samples)
        if isinstance(X, (list, tuple)):
            X = host_array(X, "Phi")  # to see the strings' dtype below
        if getattr(getattr(X, "dtype", None), "kind", None) in ("U", "S"):
            # numpy would parse numeric strings silently; features are numbers.
            raise TypeError(
                f"Phi must hold numbers, not strings (got dtype {X.dtype})."
            )
        xp, _ = namespace_and_device(X) if not sp.issparse(X) else (np, None)
        return validate_data(
            self,
            X,
            reset=reset,
            accept_sparse=("csr", "csc"),
            dtype=[xp.float64, xp.float32],
            ensure_min_samples=min_samples,
            ensure_all_finite=finite,
        )

    def _solve_gram(self, X):
        xp, _ = namespace_and_device(self._moments.gram)
        G = to_host(self._moments.gram, xp) / self._moments.n_samples
        # numpy's eigh (divide and conquer, syevd) runs on the same BLAS thread
        # pool as the X^T X products just before it; scipy ships its own
        # OpenBLAS, whose threads contend with numpy's still-spinning ones and
        # made the whole fit 1.6x slower on 2 cores.
        lam, V = np.linalg.eigh(G)
        self._set_spectrum(lam[::-1], V[:, ::-1], X)

    def _set_spectrum(self, lam, V, X):
        """Truncate, sign and store host float64 eigenpairs in X's namespace."""
        n, p = self._moments.n_samples if self._moments else X.shape[0], X.shape[1]
        xp, device = namespace_and_device(X)
        eps = dtype_eps(X.dtype)
        lam = np.clip(lam, 0.0, None)
        tol = lam[0] * max(n, p) * eps if lam.size else 0.0
        rank = int(np.count_nonzero(lam > tol))
        if rank == 0:
            raise ValueError(
                "The features have no numerically nonzero eigenvalue (all of Phi is "
                "zero, or zero to working precision); there is no spectrum to fit."
            )
        k = self._n_kept(lam[:rank], min(n, p))
        V_all, V = V, V[:, :k]
        # Deterministic sign: the entry of largest magnitude of each v_k is > 0.
        pivot = np.argmax(np.abs(V), axis=0)
        V = V * np.sign(V[pivot, np.arange(k)])
        if self._moments is None:
            # Kept so that partial_fit can rebuild X^T X after a dual/svd fit.
            self._eigenpairs = (lam[:rank], V_all[:, :rank])
        self.rank_ = rank
        self.n_components_ = k
        self.effective_dimension_ = eigenvalue_dimension(lam[:rank])
        self.eigenvalues_ = from_host(lam[:k], xp, device, X.dtype)
        self.components_ = from_host(V.T, xp, device, X.dtype)

    def _moments_from_eigenpairs(self):
        lam, V = self._eigenpairs
        xp, device = namespace_and_device(self.components_)
        moments = Moments(with_sums=False)
        moments.gram = from_host(
            (V * (lam * self.n_samples_seen_)) @ V.T,
            xp,
            device,
            accumulation_dtype(xp, device),
        )
        moments.n_samples = self.n_samples_seen_
        moments.widths = (V.shape[0],)
        del self._eigenpairs
        return moments

    def _n_kept(self, lam, max_components):
        rank = lam.size
        nc = self.n_components
        if nc is None:
            return rank
        if isinstance(nc, Integral):
            if nc > max_components:
                raise ValueError(
                    f"n_components={nc} must be at most min(n_samples, n_features)"
                    f"={max_components}."
                )
            if nc > rank:
                warnings.warn(
                    f"n_components={nc}, but only {rank} eigenvalues are numerically "
                    f"nonzero; keeping {rank}.",
                    UserWarning,
                    stacklevel=4,
                )
                return rank
            return int(nc)
        share = np.cumsum(lam) / lam.sum()
        return int(min(np.searchsorted(share, nc, side="left") + 1, rank))

    # -- feature-learning measures (spec sections 2 and 4) -----------------

    def measures(self, X, y=None, outputs=None, *, target="onehot"):
        """Quality, utility and CKA-MF of the eigenfunctions on a sample.

        One pass over the rows of ``[X | Y | outputs]``: the eigenfunctions'
        Gram matrix is ``W^T (X^T X) W`` for the fitted map ``E = X W``, so they
        are never evaluated.  Same formulas as
        :func:`~skfeat.metrics.projection_measures` and
        :func:`~skfeat.metrics.cka_mf`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (m, n_features_in_)
            Features ``Phi`` of an evaluation (held-out) sample.
        y : array-like of shape (m,) or (m, t), default=None
            Class labels or regression targets; quality measures when given.
        outputs : array-like of shape (m, C) or (m,), default=None
            Learned outputs; utility measures and ``cka_mf`` when given.
        target : {"onehot", "centered"}, default="onehot"
            Target encoding, see :func:`~skfeat.metrics.cumulative_quality`.

        Returns
        -------
        measures : :class:`~sklearn.utils.Bunch`
            ``feature_quality``, ``cumulative_quality``, ``target_rank`` (with
            ``y``); ``feature_utility``, ``cumulative_utility``,
            ``output_rank`` and ``cka_mf`` of ``X`` (with ``outputs``).
        """
        from .metrics._projection import measures_from_features

        check_is_fitted(self)
        if target not in ("onehot", "centered"):
            raise ValueError(f"target must be 'onehot' or 'centered'; got {target!r}.")
        X = self._validate(X, reset=False, min_samples=2)
        coef = to_host(self.components_, namespace_and_device(self.components_)[0])
        lam = to_host(self.eigenvalues_, namespace_and_device(self.eigenvalues_)[0])
        return measures_from_features(
            X, coef.T / np.sqrt(lam), y=y, outputs=outputs, target=target
        )

    def quality(self, X, y, *, target="onehot"):
        """Cumulative quality ``Q(k)``, ``k = 1..n_components_``, on a sample.

        Equals ``cumulative_quality(self.transform(X), y)`` (one pass over
        ``[X | Y]``, without evaluating the eigenfunctions).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (m, n_features_in_)
            Features of an evaluation sample.
        y : array-like of shape (m,) or (m, t)
            Class labels or regression targets.
        target : {"onehot", "centered"}, default="onehot"
            Target encoding, see :func:`~skfeat.metrics.cumulative_quality`.

        Returns
        -------
        cumulative_quality : ndarray of shape (n_components_,)
            Entry ``k - 1`` is ``Q(k)``.
        """
        return self.measures(X, y, target=target).cumulative_quality

    def utility(self, X, outputs):
        """Cumulative utility ``U(k)``, ``k = 1..n_components_``, on a sample.

        Equals ``cumulative_utility(self.transform(X), outputs)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (m, n_features_in_)
            Features of an evaluation sample.
        outputs : array-like of shape (m, C) or (m,)
            Learned outputs on the same sample.

        Returns
        -------
        cumulative_utility : ndarray of shape (n_components_,)
            Entry ``k - 1`` is ``U(k)``.
        """
        return self.measures(X, outputs=outputs).cumulative_utility

    def score(self, X, y, *, target="onehot"):
        """Quality score: share of the target space captured by ``r`` eigenfunctions.

        ``Q(r) / r`` with ``r`` the number of target dimensions (``C`` classes
        for one-hot labels), in ``[0, 1]``, greater is better; the same value
        as the ``"quality"`` scorer of :func:`skfeat.metrics.get_scorer`, so
        model selection on a pipeline ending in this estimator works with
        ``scoring=None``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (m, n_features_in_)
            Features of an evaluation sample.
        y : array-like of shape (m,) or (m, t)
            Class labels or regression targets.
        target : {"onehot", "centered"}, default="onehot"
            Target encoding, see :func:`~skfeat.metrics.cumulative_quality`.

        Returns
        -------
        score : float
            ``Q(min(r, n_components_)) / r``.
        """
        from .metrics._projection import score_at

        if y is None:
            raise ValueError(
                "FeatureSpectrum.score needs the targets y (class labels or a "
                "target matrix): it is the cumulative quality at k = number of "
                "target dimensions."
            )
        result = self.measures(X, y, target=target)
        return score_at(result.cumulative_quality, result.target_rank)

    def _fit_randomized(self, X):
        from ._randomized import randomized_eigh

        nc = self.n_components
        if not isinstance(nc, Integral):
            raise ValueError(
                "solver='randomized' computes a fixed number of eigenpairs: "
                f"n_components must be an int; got {nc!r}."
            )
        if nc > min(X.shape):
            raise ValueError(
                f"n_components={nc} must be at most min(n_samples, n_features)"
                f"={min(X.shape)}."
            )
        lam, V = randomized_eigh(
            X,
            nc,
            n_oversamples=self.n_oversamples,
            n_iter=self.n_iter,
            random_state=self.random_state,
        )
        # Only the first n_components Nystrom eigenvalues are accurate; rank_
        # and effective_dimension_ are taken over those.
        self._set_spectrum(lam[:nc], V[:, :nc], X)
        # Top eigenpairs alone cannot rebuild X^T X for partial_fit.
        del self._eigenpairs

    def _validate_dask(self, X, *, reset, min_samples):
        """Run the checks of ``validate_data`` on a dask array, lazily."""
        from sklearn.utils.validation import _check_feature_names, _check_n_features

        if X.ndim != 2:
            raise ValueError(f"Expected a 2-D dask array; got shape {X.shape}.")
        if X.dtype.kind in "biu":
            X = X.astype(np.float64)
        elif X.dtype not in (np.float32, np.float64):
            raise TypeError(
                f"FeatureSpectrum needs real numbers; got dask dtype {X.dtype}."
            )
        if np.isnan(X.shape[0]):
            raise ValueError(
                "The dask array has unknown chunk sizes; call "
                "X.compute_chunk_sizes() first."
            )
        if X.shape[0] < min_samples:
            raise ValueError(
                f"Found array with {X.shape[0]} sample(s) (shape={X.shape}) while "
                f"a minimum of {min_samples} is required by FeatureSpectrum."
            )
        if X.shape[1] == 0:
            raise ValueError("Found array with 0 feature(s); at least 1 needed.")
        _check_n_features(self, X, reset=reset)
        _check_feature_names(self, X, reset=reset)
        # Whole rows per block, and the finiteness check of validate_data
        # deferred to the pass that reads each block anyway.
        return X.rechunk({1: -1}).map_blocks(_check_finite_block, dtype=X.dtype)

    def _transform_dask(self, X):
        import dask.array as da

        W = to_host(self.components_, np).T / np.sqrt(to_host(self.eigenvalues_, np))
        W = da.from_array(W.astype(X.dtype), chunks=W.shape)
        return da.blockwise(
            _project_block, "ik", X, "ij", W, "jk", dtype=X.dtype, concatenate=True
        )


def _prefers_randomized(n, p, n_components):
    """Whether ``solver="auto"`` should take the randomized route.

    The exact routes cost about ``min(n, p)^2 max(n, p)`` flops plus a
    float64 eigendecomposition of a ``min(n, p)``-square matrix (from
    ``p = 4096`` on, the ``p x p`` Gram alone is 128 MiB and its ``eigh``
    takes from seconds to minutes on a few cores); the randomized route costs
    ``2 (n_iter + 1) n p (k + n_oversamples)`` flops.  With the defaults and
    ``k <= min(n, p) / 10`` it is several times cheaper, and the eigenvalue
    decay of trained layers makes a few passes accurate.  Below ``p = 4096``
    the exact routes are fast enough that exactness wins.
    """
    return (
        p > 4096
        and isinstance(n_components, Integral)
        and n_components <= min(n, p) // 10
    )


def _check_finite_block(block):
    if not np.all(np.isfinite(block)):
        raise ValueError("Input X contains NaN or infinity.")
    return block


def _project_block(block, W):
    return block @ W


def _dual_eigh(X):
    """Eigenpairs of X^T X / n through the n x n Gram matrix (for p > n)."""
    n = X.shape[0]
    xp, device = namespace_and_device(X)
    K = to_host(X @ X.T, xp) / n
    mu, U = np.linalg.eigh(K)
    mu, U = np.clip(mu[::-1], 0.0, None), U[:, ::-1]
    keep = mu > 0
    # v_k = X^T u_k / s_k with s_k = sqrt(n mu_k): computed where X lives.
    U_dev = from_host(U[:, keep] / np.sqrt(n * mu[keep]), xp, device, X.dtype)
    # Re-orthonormalise in float64 (float32 products lose a few digits); R is
    # close to the identity, so its diagonal signs keep each column's sign.
    V, R = np.linalg.qr(to_host(X.T @ U_dev, xp))
    return mu[keep], V * np.sign(np.diag(R))


def _host_svd(X):
    """Exact route: thin SVD of X in float64 on the host."""
    xp, _ = namespace_and_device(X)
    Xh = to_host(X, xp)
    _, s, Vt = np.linalg.svd(Xh, full_matrices=False)
    return s, Vt
