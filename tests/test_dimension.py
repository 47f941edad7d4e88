"""Effective dimensions (Hill numbers) against the entropy formula written here."""

import numpy as np
import pytest
from _naive import hill
from hypothesis import given, settings
from hypothesis import strategies as st

from skfeat.metrics import effective_dimension, eigenvalue_dimension


@pytest.mark.parametrize("n", [1, 2, 7, 100])
def test_uniform_vector_has_its_length(n):
    assert effective_dimension(np.full(n, 0.3)) == pytest.approx(n, rel=1e-12)


def test_one_positive_entry_is_one_and_zeros_are_ignored():
    assert effective_dimension([0.0, 4.0, 0.0]) == 1.0
    assert effective_dimension([2.0, 2.0, 0.0, 0.0]) == pytest.approx(2.0)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0, 1e3, allow_nan=False), min_size=1, max_size=20).filter(
        lambda v: sum(v) > 1e-6
    ),
    st.floats(1e-3, 1e3),
)
def test_matches_entropy_in_range_and_scale_free(v, scale):
    d = effective_dimension(v)
    assert d == pytest.approx(hill(v), rel=1e-9)
    assert 1.0 - 1e-12 <= d <= np.count_nonzero(v) + 1e-9
    assert effective_dimension(np.asarray(v) * scale) == pytest.approx(d, rel=1e-9)
    assert effective_dimension(v[::-1]) == pytest.approx(d, rel=1e-9)


def test_eigenvalue_dimension_drops_first():
    lam = np.array([10.0, 3.0, 2.0, 1.0])
    assert eigenvalue_dimension(lam) == pytest.approx(1.0 + hill(lam[1:]))
    assert eigenvalue_dimension(lam, drop_first=False) == pytest.approx(hill(lam))
    assert eigenvalue_dimension([5.0]) == 1.0
    assert eigenvalue_dimension([5.0, 0.0, 0.0]) == 1.0
    assert eigenvalue_dimension([9.0, 1.0, 1.0, 1.0]) == pytest.approx(4.0)


def test_accepts_torch_vector():
    torch = pytest.importorskip("torch")
    v = torch.tensor([1.0, 1.0, 2.0], dtype=torch.float32)
    assert effective_dimension(v) == pytest.approx(hill([1, 1, 2]), rel=1e-6)


@pytest.mark.parametrize(
    "v, error, match",
    [
        ([1.0, -0.5], ValueError, "nonnegative"),
        ([], ValueError, "empty"),
        ([0.0, 0.0], ValueError, "no positive"),
        ([1.0, np.nan], ValueError, "NaN"),
        ([1.0, np.inf], ValueError, "infinity"),
        ([[1.0, 2.0]], ValueError, "1-D"),
        (["a", "b"], TypeError, "real"),
    ],
)
def test_bad_input(v, error, match):
    with pytest.raises(error, match=match):
        effective_dimension(v)


def test_eigenvalue_dimension_rejects_negative():
    with pytest.raises(ValueError, match="nonnegative"):
        eigenvalue_dimension([1.0, -1.0])
