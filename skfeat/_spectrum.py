"""FeatureSpectrum: the Nystrom spectrum of a feature map."""

import copy
import math
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._eigh import device_eigh
from ._moments import Moments, sample_moments
from .metrics._dimension import eigenvalue_dimension
from .metrics._projection import projections_of_features, score_at
from .metrics._targets import TARGET_TYPE_CONSTRAINT
from .utils._array_api import (
    accumulation_dtype,
    check_same_namespace,
    from_host,
    is_dask,
    is_numpy_namespace,
    namespace_and_device,
    to_host,
)
from .utils._rank import numerical_rank_of, spectrum_rtol
from .utils._validation import check_finite, check_matrix

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

        - ``None``: all eigenpairs above the numerical rank rule (``rtol``).
        - int ``k``: the ``k`` largest; at most ``min(n_samples, n_features)``.
          If fewer than ``k`` eigenvalues are numerically nonzero, only those
          are kept and a warning says so.
        - float in ``(0, 1)``: the smallest ``k`` whose eigenvalue share
          ``sum_{i<=k} lambda_i / sum_i lambda_i`` reaches ``n_components``.

    solver : {"auto", "gram", "dual", "svd", "randomized"}, default="auto"
        - ``"gram"``: accumulate ``Phi^T Phi`` (one symmetric rank-k product
          per chunk of rows, i.e. BLAS ``syrk`` for numpy, summed in float64),
          then a float64 ``p x p`` eigendecomposition on the data's device.
        - ``"dual"``: for ``p > n``: eigendecomposition of the ``n x n`` Gram
          matrix ``Phi Phi^T``; same eigenpairs.  Only the kept eigenvectors
          are formed (``Phi^T u_k / s_k``, in the data's dtype, then
          Cholesky-QR), so a small ``n_components`` is cheap.
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

    rtol : float or None, default=None
        Numerical rank rule: eigenvalues ``lambda_k > rtol * lambda_1`` are
        kept.  ``None``: ``max(eps(dtype), d * eps(float64))`` with ``d`` the
        size of the eigenproblem -- the rounding floor of the products of the
        data in its own precision (float32 products round once, relative
        ``eps32``, and are summed in float64, so the floor does not grow with
        the number of samples) or that of the float64 eigensolver.  Below it,
        eigenvalues are rounding, not measurement (see
        :mod:`skfeat.utils._rank`).
    n_oversamples : int, default=10
        Extra sketch columns for ``solver="randomized"``.
    n_iter : int, default=4
        Power iterations for ``solver="randomized"`` (the data is read
        ``n_iter + 1`` times, by ``fit`` and by
        :func:`~skfeat.fit_from_batches`; ``partial_fit`` reads each chunk
        once, a single-pass sketch, and does not use it).
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
        Number of eigenvalues above the rank rule (``rtol``).
    effective_dimension_ : float
        ``D_lambda = 1 + D(lambda_2, lambda_3, ...)`` over all ``rank_``
        eigenvalues, whatever ``n_components`` keeps (see
        :func:`~skfeat.metrics.eigenvalue_dimension`).
    solver_ : str
        The route the last fit took (``"gram"``, ``"dual"``, ``"svd"`` or
        ``"randomized"``): ``solver`` with ``"auto"`` resolved; after
        ``partial_fit``, ``"randomized"`` with that solver (the one-pass
        sketch), ``"gram"`` otherwise.
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
    and cupy inputs are processed where they live, the small eigenproblem
    included (float64 on devices that have it; elsewhere a float32 solve
    refined by one Rayleigh-Ritz step on the device); only the eigenvalues
    reach the host, for the rank rule.
    Fitted attributes are in the input's namespace, device and dtype; float32
    in gives float32 out.

    ``partial_fit`` accumulates ``Phi^T Phi`` and the sample count, and solves
    the ``p x p`` eigenproblem at the end of every call, so the fitted
    attributes are always current; with ``solver="randomized"`` it
    accumulates a single-pass Nystrom sketch instead (``O(p l)``, no
    ``p x p``; see :meth:`partial_fit`).  Any chunking equals ``fit`` with the
    Gram route up to float rounding.  ``fit`` keeps no accumulator: a
    ``partial_fit`` after it rebuilds ``Phi^T Phi`` from the fitted eigenpairs,
    which needs all of them (``n_components_ == rank_``).

    A call that fails (bad input, NaN) leaves the estimator as it was.
    Features of any magnitude are measured: values whose squares would
    overflow or underflow the dtype are rescaled by a power of two before
    squaring (exact), and eigenvalues that do not fit the dtype raise a
    ValueError naming the overflow.

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
        "rtol": [None, Interval(Real, 0, 1, closed="left")],
        "n_oversamples": [Interval(Integral, 0, None, closed="left")],
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components=None,
        *,
        solver="auto",
        rtol=None,
        n_oversamples=10,
        n_iter=4,
        random_state=None,
    ):
        self.n_components = n_components
        self.solver = solver
        self.rtol = rtol
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
        with self._unchanged_on_error():
            X = self._validate(X, reset=True, min_samples=2)
            n, p = X.shape
            solver = self.solver
            if solver == "auto" and _prefers_randomized(n, p, self.n_components):
                solver = "randomized"
            if solver == "auto":
                solver = "dual" if p > n else "gram"
            self.__dict__.pop("_moments", None)
            self.__dict__.pop("_sketch", None)
            if solver == "gram":
                moments = Moments(with_sums=False, name="Phi").update(X)
                nc = self.n_components
                n_top = nc if isinstance(nc, Integral) else None
                lam, V, scale = _solve_moments(moments, n_top=n_top)
                self._set_spectrum(lam, V, scale, n, X)
            elif solver == "dual":
                self._set_spectrum(*_dual_eigh(X), n, X)
            elif solver == "randomized":
                self._fit_randomized(X)
            else:
                self._set_spectrum(*_host_svd(X), n, X)
            self.n_samples_seen_ = n
            self.solver_ = solver
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Add a chunk of training samples and update the spectrum.

        Accumulates ``X^T X`` and the sample count (float64), then solves the
        ``p x p`` eigenproblem, so that after any sequence of chunks the fitted
        attributes equal those of ``fit`` on all rows (Gram route) to float
        rounding.  This Gram route is taken for every ``solver`` but
        ``"randomized"``.

        With ``solver="randomized"`` (wide layers, an int ``n_components``)
        no ``p x p`` matrix is formed: a single-pass streaming Nystrom sketch
        ``Y = X^T X Omega`` (Tropp et al., 2017) is accumulated over the
        chunks for a fixed orthonormal ``p x l`` test matrix ``Omega``
        (``l = n_components + n_oversamples``, drawn from ``random_state`` on
        the first call: fix it for reproducible results), and the
        eigenpairs of the Nystrom approximation ``Y (Omega^T Y)^+ Y^T`` are
        read out after every call (``O(p l)`` memory, ``O(p l^2)`` per
        read-out).  Any chunking gives the same result, which is that of
        ``fit`` with ``n_iter=0`` on all rows: exact when ``X^T X`` has rank
        at most ``l``, otherwise accurate to about ``lambda_{l+1} /
        lambda_k`` relative (no power iterations are possible in one pass;
        raise ``n_oversamples`` for a slowly decaying spectrum, or use
        :func:`~skfeat.fit_from_batches` over a re-iterable source for
        ``n_iter`` passes).

        It continues an earlier ``partial_fit``, or a ``fit`` that kept
        all its eigenpairs (``n_components_ == rank_``): ``X^T X`` is then
        first rebuilt from them (exact up to the eigenvalues below the rank
        rule and the rounding of the stored eigenpairs).  After a fit that
        kept fewer (``n_components`` or ``solver="randomized"``) it continues
        from the kept ones, with a warning, as
        :class:`~sklearn.decomposition.IncrementalPCA` does.

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
        with self._unchanged_on_error():
            X = self._validate(X, reset=first_call, min_samples=1)
            if self.solver == "randomized":
                return self._partial_fit_sketch(X, first_call)
            self.__dict__.pop("_sketch", None)
            if first_call:
                moments = Moments(with_sums=False, name="Phi")
            elif getattr(self, "_moments", None) is not None:
                moments = self._moments
            else:
                moments = self._moments_from_eigenpairs()
            # A copy: the accumulator of the previous call stays intact when
            # this one fails (Moments never changes its arrays in place).
            self._set_from_moments(copy.copy(moments).update(X), X)
        return self

    def _fit_from_moments(self, moments, X_last):
        """Fit from accumulated moments (the streaming route of fit_from_batches).

        ``X_last`` is a validated batch: it fixes the namespace, device and
        dtype of the fitted attributes.
        """
        with self._unchanged_on_error():
            self._set_from_moments(moments, X_last)
        return self

    def _set_from_moments(self, moments, X):
        """Solve accumulated moments and keep them (partial_fit, streaming).

        The one body of both routes: the eigenproblem is solved where the
        accumulator lives, the accumulator is kept for the next chunk.
        """
        lam, V, scale = _solve_moments(moments)
        self._set_spectrum(lam, V, scale, moments.n_samples, X)
        self.__dict__.pop("_sketch", None)
        self._moments = moments
        self.n_samples_seen_ = moments.n_samples
        self.solver_ = "gram"

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
        if not is_dask(X):
            check_same_namespace(X, self, attribute="components_", method="transform")
        X = self._validate(X, reset=False, min_samples=1)
        if is_dask(X):
            return self._transform_dask(X)
        xp, _ = namespace_and_device(X)
        W = self._projection(xp, X.dtype)
        with np.errstate(all="ignore"):
            E = X @ W
        # NaN/inf in X propagate to E: checking the m x k result is cheaper.
        check_finite(E, "X", xp)
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
        X = check_matrix(X, "X")
        if X.shape[1] != self.n_components_:
            raise ValueError(
                f"X has {X.shape[1]} columns, but this FeatureSpectrum has "
                f"n_components_={self.n_components_} eigenfunctions."
            )
        if is_dask(X):
            # As in transform: checked when each block is read.
            X = X.map_blocks(_check_finite_block, dtype=X.dtype)
            scale = np.sqrt(to_host(self.eigenvalues_)).astype(X.dtype)
            return (X * scale) @ to_host(self.components_).astype(X.dtype)
        xp, _ = namespace_and_device(X)
        scale = xp.sqrt(xp.astype(self.eigenvalues_, X.dtype))
        with np.errstate(all="ignore"):
            Phi = (X * scale) @ xp.astype(self.components_, X.dtype)
        check_finite(Phi, "X", xp)
        return Phi

    def get_feature_names_out(self, input_features=None):
        """Names of the eigenfunctions: ``eigenfunction0``, ``eigenfunction1``, ...

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against ``feature_names_in_`` (or their number).

        Returns
        -------
        feature_names_out : ndarray of str objects
            One name per eigenfunction.
        """
        check_is_fitted(self)
        if input_features is not None:
            names = np.asarray(input_features, dtype=object)
            expected = getattr(self, "feature_names_in_", None)
            if expected is not None and not np.array_equal(names, expected):
                raise ValueError("input_features is not equal to feature_names_in_")
            if names.size != self.n_features_in_:
                raise ValueError(
                    f"input_features should have length equal to number of "
                    f"features ({self.n_features_in_}), got {names.size}"
                )
        return np.asarray(
            [f"eigenfunction{k}" for k in range(self.n_components_)], dtype=object
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.array_api_support = True
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # -- feature-learning measures (spec sections 2 and 4) -----------------

    def projection_measures(
        self, X, y=None, outputs=None, *, target_type="auto", center_target=False
    ):
        """Quality, utility and CKA-MF of the eigenfunctions on a sample.

        The same values as
        ``skfeat.metrics.projection_measures(self.transform(X), y, outputs)``
        on the cheaper side of ``X``.  For ``p <= m``, one pass over the rows
        of ``[X | Y | outputs]``: the eigenfunctions' Gram matrix is
        ``W^T (X^T X) W`` for the fitted map ``E = X W``, so they are never
        evaluated; the same pass gives :func:`~skfeat.metrics.cka_mf` of
        ``X``.  For a wide layer (``p > m``), ``E = X W`` (``m x k``) is
        evaluated and its Grams with ``Y`` and the outputs taken, and
        CKA-MF comes from the ``m x m`` kernel of ``X``: no matrix larger
        than ``min(p, m)^2 + k max(p, m)`` is formed (see
        ``docs/scaling.rst``).  ``score``, ``quality`` and ``utility`` run
        through here.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (m, n_features_in_)
            Features ``Phi`` of an evaluation (held-out) sample.
        y : array-like of shape (m,) or (m, t), default=None
            Class labels or regression targets; quality measures when given.
        outputs : array-like of shape (m, C) or (m,), default=None
            Learned outputs; utility measures and ``cka_mf`` when given.
        target_type : {"auto", "classes", "values"}, default="auto"
            How ``y`` is read, see :func:`~skfeat.metrics.cumulative_quality`.
        center_target : bool, default=False
            Centre the target matrix, see
            :func:`~skfeat.metrics.cumulative_quality`.

        Returns
        -------
        measures : :class:`~sklearn.utils.Bunch`
            ``feature_quality``, ``cumulative_quality``, ``target_rank`` (with
            ``y``); ``feature_utility``, ``cumulative_utility``,
            ``output_rank`` and ``cka_mf`` of ``X`` (with ``outputs``).
        """
        check_is_fitted(self)
        _check_choice(target_type, TARGET_TYPE_CONSTRAINT[0], "target_type")
        X = self._validate(X, reset=False, min_samples=2)
        return projections_of_features(
            X,
            self._coefficients(),
            y,
            outputs,
            target_type=target_type,
            center_target=center_target,
        )

    def _coefficients(self):
        """``W = V^T / sqrt(lambda)`` (p x k) in float64 where the eigenpairs live.

        The accumulation dtype of their device: a GPU keeps them (the
        measures reduce the ``p x p`` Gram by ``W`` there).
        """
        if isinstance(self.components_, np.ndarray):
            lam = np.asarray(self.eigenvalues_, dtype=np.float64)
            return np.asarray(self.components_, dtype=np.float64).T / np.sqrt(lam)
        xp, device = namespace_and_device(self.components_)
        acc = accumulation_dtype(xp, device)
        lam = xp.astype(self.eigenvalues_, acc)
        return xp.astype(self.components_, acc).T / xp.sqrt(lam)

    def quality(self, X, y, *, target_type="auto", center_target=False):
        """Cumulative quality ``Q(k)``, ``k = 1..n_components_``, on a sample.

        Equals ``cumulative_quality(self.transform(X), y)`` (one pass over
        ``[X | Y]``, without evaluating the eigenfunctions).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (m, n_features_in_)
            Features of an evaluation sample.
        y : array-like of shape (m,) or (m, t)
            Class labels or regression targets.
        target_type : {"auto", "classes", "values"}, default="auto"
            How ``y`` is read, see :func:`~skfeat.metrics.cumulative_quality`.
        center_target : bool, default=False
            Centre the target matrix.

        Returns
        -------
        cumulative_quality : ndarray of shape (n_components_,)
            Entry ``k - 1`` is ``Q(k)``.
        """
        return self.projection_measures(
            X, y, target_type=target_type, center_target=center_target
        ).cumulative_quality

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
        return self.projection_measures(X, outputs=outputs).cumulative_utility

    def score(self, X, y, *, target_type="auto", center_target=False):
        """Quality score: share of the target space captured by ``r`` eigenfunctions.

        ``Q(r) / r`` with ``r`` the number of target dimensions (``C`` classes
        for one-hot labels), in ``[0, 1]``, greater is better; for real-valued
        targets ``Q(r + 1) / r`` (the near-constant first eigenfunction carries
        none of a centred target, see :ref:`target_type <target_type>`); the same value
        as the ``"quality"`` scorer of :func:`skfeat.metrics.get_scorer`, so
        model selection on a pipeline ending in this estimator works with
        ``scoring=None``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (m, n_features_in_)
            Features of an evaluation sample.
        y : array-like of shape (m,) or (m, t)
            Class labels or regression targets.
        target_type : {"auto", "classes", "values"}, default="auto"
            How ``y`` is read, see :func:`~skfeat.metrics.cumulative_quality`.
        center_target : bool, default=False
            Centre the target matrix.

        Returns
        -------
        score : float
            ``Q(min(r, n_components_)) / r`` (classes) or
            ``Q(min(r + 1, n_components_)) / r`` (values).
        """
        if y is None:
            raise ValueError(
                "FeatureSpectrum.score needs the targets y (class labels or a "
                "target matrix): it is the cumulative quality at k = number of "
                "target dimensions."
            )
        result = self.projection_measures(
            X, y, target_type=target_type, center_target=center_target
        )
        return score_at(
            result.cumulative_quality, result.target_rank, None, result.target_type
        )

    # -- internals ---------------------------------------------------------

    @contextmanager
    def _unchanged_on_error(self):
        """Restore every attribute when the body raises.

        A failed call changes nothing: fitted state, the accumulator, the
        feature count.
        """
        saved = dict(self.__dict__)
        try:
            yield
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _validate(self, X, *, reset, min_samples):
        """Validate ``X`` (skfeat's one validator), then do the estimator's bookkeeping.

        :func:`~skfeat.utils._validation.check_matrix` reads the values;
        scikit-learn's ``validate_data`` (with ``skip_check_array``) checks and
        records ``n_features_in_`` and ``feature_names_in_`` of the input as
        given (a data frame's column names).
        """
        checked = check_matrix(X, "X", min_samples=min_samples)
        named = X if hasattr(X, "columns") else checked
        validate_data(self, named, reset=reset, skip_check_array=True)
        return checked

    def _projection(self, xp, dtype):
        """``W = V^T / sqrt(lambda)`` (p x k) in ``xp`` and ``dtype``."""
        return xp.astype(self.components_, dtype).T / xp.sqrt(
            xp.astype(self.eigenvalues_, dtype)
        )

    def _set_spectrum(self, lam, V, scale, n, X):
        """Truncate, sign and store eigenpairs; ``lam * scale^2`` are the true ones.

        ``lam`` (descending, float64) and ``V`` (columns) are on the data's
        device (or the host); only the eigenvalues visit the host, to apply
        the rank rule.  ``V`` may be a function ``k -> (p, >= k) columns``,
        called once the number kept is known (the dual route computes only
        those).
        """
        xp, device = namespace_and_device(X)
        lam_host = np.clip(to_host(lam), 0.0, None)
        size = lam_host.size
        rtol = spectrum_rtol(X.dtype, size) if self.rtol is None else self.rtol
        rank = numerical_rank_of(lam_host, rtol)
        if rank == 0:
            raise ValueError(
                "The features have no numerically nonzero eigenvalue (all of Phi is "
                "zero, or zero to working precision); there is no spectrum to fit."
            )
        k = self._n_kept(lam_host[:rank], min(n, X.shape[1]))
        kept = _true_eigenvalues(lam_host[:k], scale, X.dtype)
        if callable(V):
            V = V(k)
        self.effective_dimension_ = eigenvalue_dimension(lam_host[:rank])
        self.rank_ = rank
        self.n_components_ = k
        V = _signed(V[:, :k])
        self.eigenvalues_ = from_host(kept, xp, device, X.dtype)
        self.components_ = _like(V.T, X, xp, device)

    def _moments_from_eigenpairs(self):
        """``Phi^T Phi`` rebuilt from a fit's eigenpairs (for partial_fit)."""
        self._warn_partial_continuation()
        # Built where the eigenpairs live, in the accumulation dtype: only the
        # largest eigenvalue (a scalar) visits the host.
        xp, device = namespace_and_device(self.components_)
        acc = accumulation_dtype(xp, device)
        lam = xp.astype(self.eigenvalues_, acc)
        top = float(xp.max(lam))
        V = xp.astype(self.components_, acc)
        gram = (V.T * (lam / top * self.n_samples_seen_)) @ V
        return Moments.from_gram(gram, self.n_samples_seen_, math.sqrt(top), name="Phi")

    def _warn_partial_continuation(self):
        if self.solver_ == "randomized" or self.n_components_ < self.rank_:
            warnings.warn(
                "partial_fit continues this fit from its n_components_="
                f"{self.n_components_} kept eigenpairs (of rank_={self.rank_}, "
                f"solver_={self.solver_!r}): the rest of the earlier spectrum is "
                "dropped, as IncrementalPCA does. Fit with n_components=None and "
                "an exact solver to continue exactly.",
                UserWarning,
                stacklevel=5,
            )

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

    def _fit_randomized(self, X):
        from ._randomized import randomized_eigh

        nc = self._randomized_components(min(X.shape))
        lam, V, scale = randomized_eigh(
            X,
            nc,
            n_oversamples=self.n_oversamples,
            n_iter=self.n_iter,
            random_state=self.random_state,
        )
        self._set_randomized(lam, V, scale, X.shape[0], X)

    def _randomized_components(self, max_components=None):
        """``n_components``, checked to be an int (at most ``max_components``)."""
        nc = self.n_components
        if not isinstance(nc, Integral):
            raise ValueError(
                "solver='randomized' computes a fixed number of eigenpairs: "
                f"n_components must be an int; got {nc!r}."
            )
        if max_components is not None and nc > max_components:
            raise ValueError(
                f"n_components={nc} must be at most min(n_samples, n_features)"
                f"={max_components}."
            )
        return nc

    def _set_randomized(self, lam, V, scale, n, X):
        """Store the first ``n_components`` of a randomized route's eigenpairs.

        ``lam`` are eigenvalues of ``X^T X / n`` in units of ``scale^2``; only
        the first ``n_components`` are accurate, so ``rank_`` and
        ``effective_dimension_`` are taken over those.
        """
        nc = self._randomized_components(min(n, X.shape[1]))
        self._set_spectrum(lam[:nc], V[:, :nc], scale, n, X)
        self.n_samples_seen_ = n
        self.solver_ = "randomized"

    def _fit_from_eigh(self, lam, V, scale, n, X_last):
        """Fit from a streamed randomized route (fit_from_batches)."""
        with self._unchanged_on_error():
            self.__dict__.pop("_moments", None)
            self.__dict__.pop("_sketch", None)
            self._set_randomized(lam, V, scale, n, X_last)
        return self

    def _partial_fit_sketch(self, X, first_call):
        """``partial_fit`` with ``solver="randomized"``: the one-pass sketch."""
        from ._randomized import NystromSketch, start_block

        p = X.shape[1]
        nc = self._randomized_components(p)
        sketch = getattr(self, "_sketch", None)
        if sketch is None:
            omega = start_block(p, min(nc + self.n_oversamples, p), self.random_state)
            if first_call:
                sketch = NystromSketch(omega)
            else:
                self._warn_partial_continuation()
                lam = to_host(self.eigenvalues_) * self.n_samples_seen_
                sketch = NystromSketch.from_eigenpairs(
                    omega, lam, to_host(self.components_).T, X
                )
                sketch.n_samples = self.n_samples_seen_
        sketch = copy.copy(sketch).update(X)
        lam, V, scale = sketch.eigh()
        n = sketch.n_samples
        self._set_randomized(lam / n, V, scale, n, X)
        self.__dict__.pop("_moments", None)
        self._sketch = sketch
        return self

    def _transform_dask(self, X):
        import dask.array as da

        W = to_host(self.components_).T / np.sqrt(to_host(self.eigenvalues_))
        W = da.from_array(W.astype(X.dtype), chunks=W.shape)
        X = X.rechunk({1: -1}).map_blocks(_check_finite_block, dtype=X.dtype)
        return da.blockwise(
            _project_block, "ik", X, "ij", W, "jk", dtype=X.dtype, concatenate=True
        )


def _check_choice(value, constraint, name):
    if not constraint.is_satisfied_by(value):
        raise ValueError(f"{name} must be {constraint}; got {value!r}.")


def _true_eigenvalues(lam, scale, dtype):
    """``lam * scale^2`` as float64, checked to fit ``dtype`` first."""
    info = np.finfo(np.float32 if "32" in str(dtype) else np.float64)
    top = math.log2(lam[0]) + 2 * math.log2(scale)
    bottom = math.log2(lam[-1]) + 2 * math.log2(scale) if lam[-1] > 0 else -math.inf
    if top >= math.log2(float(info.max)):
        raise ValueError(
            f"The eigenvalues of these features (up to 2^{top:.0f}) overflow "
            f"{info.dtype}: cast the features to float64, or rescale them."
        )
    if bottom < math.log2(float(info.tiny)):
        raise ValueError(
            f"The eigenvalues of these features (down to 2^{bottom:.0f}) underflow "
            f"{info.dtype}: cast the features to float64, or rescale them."
        )
    # Two steps: scale**2 alone may leave float64 when lam * scale**2 does not.
    return (np.asarray(lam, dtype=np.float64) * scale) * scale


def _signed(V):
    """Columns of ``V`` signed so that each one's largest-magnitude entry is > 0.

    Deterministic across backends and runs; computed where ``V`` lives.
    """
    if isinstance(V, np.ndarray):
        pivot = np.argmax(np.abs(V), axis=0)
        return V * np.sign(V[pivot, np.arange(V.shape[1])])
    xp, device = namespace_and_device(V)
    p, k = V.shape
    pivot = xp.argmax(xp.abs(V), axis=0)
    flat = xp.reshape(V, (-1,))
    index = pivot * k + xp.arange(k, device=device, dtype=pivot.dtype)
    return V * xp.sign(xp.take(flat, index))


def _like(array, X, xp, device):
    """Return a small result in ``X``'s namespace, device and dtype.

    A numpy result for numpy data is copied at most once (``from_host``
    makes it contiguous, then casts: two copies of a ``p x n`` block of
    eigenvectors on the dual route).
    """
    if isinstance(array, np.ndarray):
        if is_numpy_namespace(xp):
            return np.ascontiguousarray(array, dtype=X.dtype)
        return from_host(array, xp, device, X.dtype)
    return xp.astype(array, X.dtype)


def _solve_moments(moments, n_top=None):
    """Eigenpairs of ``Phi^T Phi / n`` from moments: ``(lam, V, scale)``.

    Solved where the accumulator lives (:func:`device_eigh`); eigenvalues are
    in units of ``scale^2`` (the block's scale, see
    :class:`~skfeat._moments.Moments`).
    """
    lam, V = device_eigh(moments.gram / moments.n_samples, n_top=n_top)
    return lam, V, float(moments.scales[0])


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
    """Eigenpairs of X^T X / n through the n x n Gram matrix (for p > n).

    ``K = X X^T`` is the second moment of ``X^T`` (rows = features), so it is
    accumulated by :func:`~skfeat._moments.sample_moments` over column chunks
    of ``X`` (range-safe, float64 sums).  Returns ``(lam, vectors, scale)``
    with ``vectors(k)`` the top ``k`` eigenvectors, computed only once the
    number kept is known (``n_components``, the rank rule): ``v_j = X^T u_j
    / s_j`` where ``X`` lives and in its dtype (one ``p x k`` product, never a
    float64 copy of ``X``), re-orthonormalised by Cholesky-QR of the
    ``k x k`` Gram of those columns (twice; never a Householder QR of the
    ``p x k`` block).  Forming all ``n`` of them at ``n = 2000``,
    ``p = 65536`` cost five ``p n^2`` products for the 20 that were kept.
    """
    n = X.shape[0]
    moments = sample_moments(X, name="Phi")
    mu, U = device_eigh(moments.gram / n)
    scale = float(moments.scales[0])
    mu_host = np.clip(to_host(mu), 0.0, None)
    keep = int(np.count_nonzero(mu_host > 0))
    if keep == 0:
        return mu_host[:1], lambda k: U[:, :1], scale

    def vectors(k):
        # v_j = X^T u_j / (sqrt(n mu_j) scale), computed where X lives (the
        # scale divides the weights: X itself is never rescaled in memory).
        weights = 1.0 / (np.sqrt(n * mu_host[:k]) * scale)
        uxp, udevice = namespace_and_device(U)
        Uk = U[:, :k] * from_host(weights, uxp, udevice, U.dtype)[None, :]
        xp, device = namespace_and_device(X)
        Uk = _like(Uk, X, xp, device)
        with np.errstate(all="ignore"):
            V = X.T @ Uk
        if is_dask(X):
            V = np.asarray(V.compute(), dtype=np.float64)
        return _orthonormalise(V)

    return mu_host[:keep], vectors, scale


def _orthonormalise(V):
    """Cholesky-QR: ``V R^-1`` from the ``k x k`` Gram ``V^T V``, twice if needed.

    One pass leaves ``||Q^T Q - I||`` of order ``eps cond(V)^2`` (Yamamoto et
    al., 2015); a second pass (CholQR2) is run only when the first Gram was
    far from the identity (``||V^T V - I||_F > 0.1``, where ``cond(V)^2`` may
    be large).  The dual route's ``X^T u / s`` are orthonormal in exact
    arithmetic, so one pass usually suffices (a ``p x k`` Gram and product
    saved: 2 of the route's 5 ``p k n`` products).  Columns that Cholesky
    cannot resolve (a rounding-level residue) fall back to the host's
    Householder QR of the thin block, which is exact.
    """
    xp, device = namespace_and_device(V)
    for _ in range(2):
        gram = to_host(V.T @ V) if not isinstance(V, np.ndarray) else V.T @ V
        gram = np.asarray(gram, dtype=np.float64)
        try:
            R = np.linalg.cholesky(gram).T
        except np.linalg.LinAlgError:
            Q, R = np.linalg.qr(to_host(V))
            return _like(Q * np.sign(np.diag(R)), V, xp, device)
        R_inv = np.linalg.inv(R)
        V = V @ _like(R_inv, V, xp, device)
        if np.linalg.norm(gram - np.eye(gram.shape[0])) <= 0.1:
            break
    return V


def _host_svd(X):
    """Exact route: thin SVD of X in float64 on the host: ``(lam, V, scale)``."""
    Xh = to_host(X)
    top = float(np.max(np.abs(Xh))) if Xh.size else 0.0
    if not math.isfinite(top):
        raise ValueError("X contains NaN or infinity.")
    scale = 2.0 ** round(math.log2(top)) if top > 0 else 1.0
    _, s, Vt = np.linalg.svd(Xh / scale, full_matrices=False)
    return s**2 / X.shape[0], Vt.T, scale
