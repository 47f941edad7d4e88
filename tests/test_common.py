"""scikit-learn's common estimator checks: the contract every estimator meets."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skfeat import FeatureSpectrum

ESTIMATORS = [
    FeatureSpectrum(),
    FeatureSpectrum(solver="svd"),
    FeatureSpectrum(solver="dual"),
    FeatureSpectrum(n_components=0.9),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)
