import numpy as np
import pytest
from numpy.testing import assert_allclose

from skfeat import FeatureSpectrum
from skfeat.datasets import make_planted_features, make_power_law_features


def test_power_law_spectrum():
    Phi = make_power_law_features(40_000, 8, exponent=1.5, mean=0.0, random_state=0)
    lam = np.sort(np.linalg.eigvalsh(Phi.T.astype(float) @ Phi / len(Phi)))[::-1]
    assert_allclose(lam, np.arange(1, 9) ** -1.5, rtol=0.05)


def test_power_law_mean_is_first_eigenfunction():
    Phi = make_power_law_features(2000, 8, mean=3.0, random_state=0)
    E = FeatureSpectrum().fit_transform(Phi)
    assert abs(np.mean(E[:, 0])) > 0.99


@pytest.mark.parametrize("n_classes", [2, 5])
def test_planted_mf_has_c_dominant_features(n_classes):
    Phi, y, outputs = make_planted_features(
        400, n_classes, regime="MF", noise=0.01, random_state=0
    )
    assert Phi.dtype == np.float32 and outputs.shape == (400, n_classes)
    assert set(np.unique(y)) == set(range(n_classes))
    P = Phi.astype(np.float64)
    lam = np.sort(np.linalg.eigvalsh(P.T @ P / len(P)))[::-1]
    assert lam[n_classes - 1] > 1e3 * lam[n_classes]
    # The read-out recovers the labels.
    assert np.mean(np.argmax(outputs, axis=1) == y) == 1.0


def test_planted_ef_uses_many_features():
    Phi, y, _ = make_planted_features(600, 4, regime="EF", random_state=0)
    mf, *_ = make_planted_features(600, 4, regime="MF", random_state=0)
    assert (
        FeatureSpectrum().fit(Phi).effective_dimension_
        > 3 * FeatureSpectrum().fit(mf).effective_dimension_
    )


def test_reproducible():
    a = make_planted_features(50, 3, regime="EF", random_state=1)
    b = make_planted_features(50, 3, regime="EF", random_state=1)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
