"""Synthetic feature maps: a power-law spectrum, and planted MF / EF regimes."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

__all__ = ["make_planted_features", "make_power_law_features"]


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "exponent": [Interval(Real, 0, None, closed="left")],
        "mean": [Real],
        "random_state": ["random_state"],
        "dtype": "no_validation",
    },
    prefer_skip_nested_validation=True,
)
def make_power_law_features(
    n_samples=1000,
    n_features=64,
    *,
    exponent=1.0,
    mean=1.0,
    random_state=None,
    dtype=np.float32,
):
    """Features whose uncentred spectrum decays as a power law.

    ``Phi = mean + Z diag(k^(-exponent / 2)) Q`` with ``Z`` standard normal and
    ``Q`` a random rotation, so that, for large ``n_samples``, the eigenvalues of
    ``Phi^T Phi / n`` are close to ``k^(-exponent)`` (``k = 1, 2, ...``), plus
    the constant direction carried by ``mean`` (the largest eigenvalue when
    ``mean**2 * n_features`` dominates).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows.
    n_features : int, default=64
        Number of features ``p``.
    exponent : float, default=1.0
        Decay exponent of the centred eigenvalues.
    mean : float, default=1.0
        Value added to every feature (a constant function in feature space).
    random_state : int, RandomState instance or None, default=None
        Seed of the generator.
    dtype : numpy dtype, default=np.float32
        Dtype of the result.

    Returns
    -------
    Phi : ndarray of shape (n_samples, n_features)
        The features.

    Examples
    --------
    >>> from skfeat.datasets import make_power_law_features
    >>> Phi = make_power_law_features(500, 16, random_state=0)
    >>> Phi.shape, Phi.dtype
    ((500, 16), dtype('float32'))
    """
    rng = check_random_state(random_state)
    scales = np.arange(1, n_features + 1, dtype=np.float64) ** (-exponent / 2)
    Q, _ = np.linalg.qr(rng.standard_normal((n_features, n_features)))
    Z = rng.standard_normal((n_samples, n_features))
    return ((Z * scales) @ Q + mean).astype(dtype)


@validate_params(
    {
        "n_samples": [Interval(Integral, 2, None, closed="left")],
        "n_classes": [Interval(Integral, 2, None, closed="left")],
        "regime": [StrOptions({"MF", "EF"})],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_planted_features(
    n_samples=600,
    n_classes=4,
    *,
    regime="MF",
    n_features=64,
    noise=0.05,
    random_state=None,
):
    """Features, labels and learned outputs with a planted feature regime.

    - ``regime="MF"`` (minimal features): each sample's features are its class
      code ``mu_y`` (random, ``n_classes`` of them) plus isotropic noise of
      standard deviation ``noise``; the features span little more than the
      ``n_classes`` class indicators, as after neural collapse.
    - ``regime="EF"`` (extended features): random ReLU features of Gaussian
      inputs, labels from a linear teacher on the inputs; many feature
      directions carry comparable weight and the read-out uses many of them.

    In both cases ``outputs`` is the least-squares linear read-out of the
    one-hot labels from the features (with a bias), i.e. what a network's last
    layer trained to zero loss on this sample would compute.

    Parameters
    ----------
    n_samples : int, default=600
        Number of samples.
    n_classes : int, default=4
        Number of classes ``C``.
    regime : {"MF", "EF"}, default="MF"
        Which regime to plant.
    n_features : int, default=64
        Number of features ``p``.
    noise : float, default=0.05
        Standard deviation of the noise around the class codes (MF only).
    random_state : int, RandomState instance or None, default=None
        Seed of the generator.

    Returns
    -------
    Phi : ndarray of shape (n_samples, n_features), float32
        The features.
    y : ndarray of shape (n_samples,), int
        Class labels in ``range(n_classes)``.
    outputs : ndarray of shape (n_samples, n_classes), float32
        Linear read-out of the one-hot labels from ``Phi``.

    Examples
    --------
    >>> from skfeat.datasets import make_planted_features
    >>> Phi, y, outputs = make_planted_features(200, 3, random_state=0)
    >>> Phi.shape, y.shape, outputs.shape
    ((200, 64), (200,), (200, 3))
    """
    rng = check_random_state(random_state)
    if regime == "MF":
        y = np.arange(n_samples) % n_classes
        rng.shuffle(y)
        codes = rng.standard_normal((n_classes, n_features))
        Phi = codes[y] + noise * rng.standard_normal((n_samples, n_features))
    else:
        d = max(8, n_features // 4)
        inputs = rng.standard_normal((n_samples, d))
        y = np.argmax(inputs @ rng.standard_normal((d, n_classes)), axis=1)
        W = rng.standard_normal((d, n_features)) / np.sqrt(d)
        Phi = np.maximum(inputs @ W, 0.0)
    onehot = np.eye(n_classes)[y]
    design = np.hstack([Phi, np.ones((n_samples, 1))])
    coef, *_ = np.linalg.lstsq(design, onehot, rcond=None)
    outputs = design @ coef
    return Phi.astype(np.float32), y, outputs.astype(np.float32)
