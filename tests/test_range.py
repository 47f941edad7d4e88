"""Scale-invariant measures do not change when the data is scaled over the float range.

Property tests (hypothesis): valid data multiplied by ``10**k`` for ``k`` over
the range of the dtype -- float32 to 1e+-30, float64 to 1e+-150 and down to
denormal numbers -- gives the same measures, with no RuntimeWarning on the way
(``-W error::RuntimeWarning`` gives the intended result); eigenvalues scale by
``s**2``; a spectrum that does not fit the dtype is one clear error naming the
overflow.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skfeat import FeatureSpectrum
from skfeat.metrics import (
    between_class_discrimination,
    cka_mf,
    cumulative_quality,
    cumulative_utility,
    effective_dimension,
    eigenvalue_dimension,
    feature_regime,
    linear_cka,
    neural_collapse,
    numerical_rank,
    target_linearity,
    within_class_compression,
)

# Exponents k of the scale 10**k, per dtype: the whole range where the data
# and, for the measures, everything they compute in float64 stays finite.
FLOAT32_EXPONENTS = st.integers(-30, 30)
FLOAT64_EXPONENTS = st.sampled_from([-300, -200, -170, -100, -30, 0, 30, 100, 150, 200])


def _data(seed, dtype, n=90, p=6, K=3):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % K
    H = 2.0 * rng.normal(size=(K, p))[y] + rng.normal(size=(n, p))
    F = H[:, :2] @ rng.normal(size=(2, 3)) + 0.3 * rng.normal(size=(n, 3))
    return H.astype(dtype), F.astype(dtype), y


def _measures(H, F, y):
    """Every scale-invariant measure of features H, outputs F, labels y."""
    nc = neural_collapse(H, y)
    values = {
        "linear_cka": linear_cka(H, F),
        "linear_cka_debiased": linear_cka(H, F, debiased=True),
        "cka_mf": cka_mf(H, F),
        "compression": within_class_compression(H, y),
        "discrimination": between_class_discrimination(H, y),
        "nc1": nc.nc1,
        "nc2_etf": nc.nc2_etf,
        "cdnv": nc.cdnv,
        "target_linearity": target_linearity(H, y),
        "target_linearity_values": target_linearity(
            H, F[:, 0].astype(np.float64) / np.abs(F[:, 0]).max(), target_type="values"
        ),
        "numerical_rank": numerical_rank(H),
        "quality": cumulative_quality(H, y),
        "utility": cumulative_utility(H, F),
    }
    threshold = min(1.0, values["cka_mf"] + 1e-9)
    values["regime"] = feature_regime(H, F, threshold=threshold)
    return values


def _check_scaled(seed, exponent, dtype, rtol):
    H, F, y = _data(seed, dtype)
    reference = _measures(H, F, y)
    scale = dtype(10.0) ** exponent if dtype is np.float32 else 10.0**exponent
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        scaled = _measures((H * scale).astype(dtype), (F * scale).astype(dtype), y)
    for name, value in reference.items():
        if name in ("regime", "numerical_rank"):
            assert scaled[name] == value, name
        else:
            np.testing.assert_allclose(
                scaled[name], value, rtol=rtol, atol=1e-9, err_msg=name
            )


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6), FLOAT32_EXPONENTS)
def test_float32_measures_are_scale_invariant(seed, exponent):
    _check_scaled(seed, exponent, np.float32, rtol=2e-4)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10**6), FLOAT64_EXPONENTS)
def test_float64_measures_are_scale_invariant(seed, exponent):
    # 1e-300 is in the denormal range for the squares, not for the data.
    _check_scaled(seed, exponent, np.float64, rtol=1e-8)


def test_denormal_float64_data():
    H, F, y = _data(3, np.float64)
    reference = _measures(H, F, y)
    scale = 1e-310  # the data itself is denormal: about 13 digits left
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        scaled = _measures(H * scale, F * scale, y)
    for name in ("linear_cka", "cka_mf", "compression", "nc1", "target_linearity"):
        np.testing.assert_allclose(scaled[name], reference[name], rtol=1e-6)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 10**6),
    st.integers(-15, 15),
    st.sampled_from(["gram", "dual", "svd", "randomized"]),
)
def test_spectrum_float32_scales_eigenvalues_by_s_squared(seed, exponent, solver):
    rng = np.random.default_rng(seed)
    n, p = (40, 60) if solver == "dual" else (200, 12)
    # Eigenvalues far above the rank rule (eps32 * lambda_1): none at the cut.
    X = (rng.normal(size=(n, p)) * 0.9 ** np.arange(p) + 0.2).astype(np.float32)
    k = 5 if solver == "randomized" else None
    kwargs = {"n_components": k, "solver": solver, "random_state": 0}
    ref = FeatureSpectrum(**kwargs).fit(X)
    scale = np.float32(10.0) ** exponent
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        est = FeatureSpectrum(**kwargs).fit(X * scale)
        E = est.transform(X * scale)
    assert est.rank_ == ref.rank_ and est.n_components_ == ref.n_components_
    # Rescaled float32 data rounds differently: eigenvalues agree to the
    # float32 floor, eps32 * lambda_1 (the rank rule's).
    np.testing.assert_allclose(
        est.eigenvalues_ / np.float64(scale) ** 2,
        ref.eigenvalues_,
        rtol=1e-4,
        atol=1e-6 * float(ref.eigenvalues_[0]),
    )
    assert est.effective_dimension_ == pytest.approx(ref.effective_dimension_, rel=1e-4)
    # The eigenfunctions do not depend on the scale (those of the small
    # eigenvalues only to the float32 rounding they amplify).
    np.testing.assert_allclose(E[:, :10], ref.transform(X)[:, :10], atol=2e-3)


@pytest.mark.parametrize("solver", ["gram", "dual", "svd", "randomized"])
@pytest.mark.parametrize(
    "dtype, scale, word",
    [
        (np.float32, 1e30, "overflow"),
        (np.float32, 1e-30, "underflow"),
        (np.float64, 1e200, "overflow"),
        (np.float64, 1e-200, "underflow"),
    ],
)
def test_unrepresentable_spectrum_is_one_clear_error(solver, dtype, scale, word):
    """Regression: inf eigenvalues (svd), zero eigenvalues with rank_ 6,
    LinAlgError (randomized), "all of Phi is zero" (dual) at 1e+-30 float32."""
    rng = np.random.default_rng(0)
    n, p = (30, 50) if solver == "dual" else (100, 8)
    X = rng.normal(size=(n, p)).astype(dtype) * dtype(scale)
    k = 3 if solver == "randomized" else None
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match=f"{word} {np.dtype(dtype).name}"):
            FeatureSpectrum(k, solver=solver, random_state=0).fit(X)


def test_effective_dimensions_of_extreme_vectors():
    """Regression: effective_dimension([1e308, 1e308]) was 1.0; [0, 0] was 1.0."""
    assert effective_dimension([1e308, 1e308]) == pytest.approx(2.0)
    assert effective_dimension([5e-324, 5e-324, 5e-324]) == pytest.approx(3.0)
    assert eigenvalue_dimension([1e308, 1e307, 1e307]) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="no positive entry"):
        eigenvalue_dimension([0.0, 0.0])
