"""Linear CKA in feature space, the CKA minimal-feature measure and the regime.

Spec section 4.  With ``K = X X^T`` and ``L = Z Z^T`` on ``m`` samples,
``CKA = ||X~^T Z~||_F^2 / (||X~^T X~||_F ||Z~^T Z~||_F)`` with ``X~ = H X``:
only ``(p + q) x (p + q)`` Gram matrices and column sums, accumulated in one
pass over the rows, are ever formed -- never the ``m x m`` kernels.
"""

from numbers import Real

from sklearn.utils._param_validation import Interval, validate_params

from skfeat.utils._validation import check_matrix, check_same_length

from ._gram import GramBlocks, centred_cka, span_basis

__all__ = ["cka_mf", "feature_regime", "linear_cka"]


@validate_params(
    {"X": ["array-like"], "Y": ["array-like"]}, prefer_skip_nested_validation=True
)
def linear_cka(X, Y):
    """Linear centred kernel alignment of two representations of the same samples.

    ``CKA(X X^T, Y Y^T) = <HKH, HLH>_F / (||HKH||_F ||HLH||_F)``, computed in
    feature space as ``||X~^T Y~||_F^2 / (||X~^T X~||_F ||Y~^T Y~||_F)``
    (``X~`` = ``X`` with column means removed), so memory is
    ``O((p + q)^2)``, not ``O(m^2)``.  Invariant to orthogonal transformations
    and isotropic scaling of either side; 1 for a representation with itself.

    Parameters
    ----------
    X : array-like of shape (m, p)
        First representation (rows are samples).  numpy, array-API or dask.
    Y : array-like of shape (m, q)
        Second representation of the same samples; a vector is one column.

    Returns
    -------
    cka : float
        In ``[0, 1]``.  Defined as 0, with a warning, when either side is
        constant over the samples (its centred Gram matrix is zero).

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
    X = check_matrix(X, "X", allow_1d=True, min_samples=2)
    Y = check_matrix(Y, "Y", allow_1d=True, min_samples=2)
    check_same_length(("X", X), ("Y", Y))
    grams = GramBlocks(X, Y, name="X")
    return centred_cka(
        grams.block(0, 0),
        grams.block(0, 1),
        grams.block(1, 1),
        grams.block_sums(0),
        grams.block_sums(1),
        grams.n_samples,
        grams.noise_rtol(),
    )


def cka_mf_from_grams(grams, features=0, outputs=1):
    """CKA-MF from the Gram blocks of ``[... Phi ... F ...]`` (one pass)."""
    gram_ff = grams.block(outputs, outputs)
    # Z = F W: an orthonormal basis of span(F), so Z Z^T is the projector P_F.
    W = span_basis(gram_ff, grams.span_rtol(outputs))
    cka = centred_cka(
        grams.block(features, features),
        grams.block(features, outputs) @ W,
        W.T @ gram_ff @ W,
        grams.block_sums(features),
        W.T @ grams.block_sums(outputs),
        grams.n_samples,
        grams.noise_rtol(),
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
    rows; never an
    ``m x m`` array.

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
    return cka_mf_from_grams(GramBlocks(Phi, F, name="Phi"))


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
