"""Target linearity against an explicit n x n projector (small samples only)."""

import warnings

import numpy as np
import pytest
from _naive import linearity as naive_linearity
from _naive import target_matrix as one_hot
from hypothesis import given, settings
from hypothesis import strategies as st

from skfeat.metrics import ClassMoments, target_linearity


def sample(n=40, p=5, K=3, seed=0, noise=1.0):
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % K)
    H = one_hot(y) @ rng.normal(size=(K, p)) + noise * rng.normal(size=(n, p))
    return H, y


@pytest.mark.parametrize("seed", range(3))
def test_labels_match_dense_projector(seed):
    H, y = sample(seed=seed, K=2 + seed)
    assert target_linearity(H, y) == pytest.approx(naive_linearity(H, one_hot(y)))


@pytest.mark.parametrize("shape", [(40,), (40, 3)])
def test_regression_targets_match_dense_projector(shape):
    rng = np.random.default_rng(1)
    H = rng.normal(size=(40, 6))
    Y = 100.0 + H[:, :3] @ rng.normal(size=(3, 3)) + 0.3 * rng.normal(size=(40, 3))
    Y = Y[:, 0] if len(shape) == 1 else Y
    assert target_linearity(H, Y) == pytest.approx(naive_linearity(H, Y), rel=1e-10)


def test_target_type_overrides_auto():
    H, _ = sample()
    t = np.arange(40.0) % 4  # whole-number floats: a guess, said with a warning
    with pytest.warns(UserWarning, match="whole numbers.*4 class labels"):
        as_classes = target_linearity(H, t)
    assert as_classes == pytest.approx(naive_linearity(H, one_hot(t)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert target_linearity(H, t, target_type="classes") == as_classes
    as_values = target_linearity(H, t, target_type="values")
    assert as_values == pytest.approx(naive_linearity(H, t))
    assert as_values != pytest.approx(as_classes)


def test_closed_forms():
    y = np.repeat([0, 1, 2], 4)
    assert target_linearity(one_hot(y), y) == pytest.approx(1.0)
    # Collapsed features in any basis (plus an offset): still exactly linear.
    rng = np.random.default_rng(0)
    H = one_hot(y) @ rng.normal(size=(3, 7))
    assert target_linearity(H, y) == pytest.approx(1.0)
    # Features orthogonal to every centred class indicator carry nothing.
    H0 = np.ones((12, 1))
    assert target_linearity(H0, y) == pytest.approx(0.0, abs=1e-12)


def test_rank_deficient_features_are_solved_exactly():
    # Duplicated and linearly dependent columns: the projector must not care.
    H, y = sample(seed=4)
    Hdup = np.hstack([H, H[:, :2], H[:, :1] + H[:, 1:2]])
    assert target_linearity(Hdup, y) == pytest.approx(target_linearity(H, y), rel=1e-9)
    assert target_linearity(Hdup, y) == pytest.approx(naive_linearity(H, one_hot(y)))


def test_more_features_than_samples():
    rng = np.random.default_rng(0)
    y = np.arange(10) % 2
    H = rng.normal(size=(10, 30))  # spans R^n: every target is linear
    assert target_linearity(H, y) == pytest.approx(1.0, abs=1e-9)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_invariant_under_invertible_maps_and_permutation(seed):
    H, y = sample(n=30, p=4, seed=seed)
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(4, 4)) + 4 * np.eye(4)  # well conditioned
    perm = rng.permutation(30)
    tl = target_linearity(H, y)
    assert target_linearity(H @ A, y) == pytest.approx(tl, rel=1e-8, abs=1e-12)
    assert target_linearity(H[perm], y[perm]) == pytest.approx(tl, rel=1e-10, abs=1e-14)
    assert 0.0 <= tl <= 1.0


def test_streaming_equals_batch():
    H, y = sample(n=50, seed=3)
    acc = ClassMoments()
    for start in range(0, 50, 9):
        acc.update(H[start : start + 9], y[start : start + 9])
    assert acc.target_linearity() == pytest.approx(target_linearity(H, y), rel=1e-10)


def test_float32_and_torch():
    torch = pytest.importorskip("torch")
    H, y = sample(seed=5)
    ref = naive_linearity(H, one_hot(y))
    assert target_linearity(H.astype(np.float32), y) == pytest.approx(ref, rel=1e-5)
    assert target_linearity(torch.asarray(H), torch.asarray(y)) == pytest.approx(ref)
    t = H[:, 0] * 3 + 1
    assert target_linearity(torch.asarray(H), torch.asarray(t)) == pytest.approx(
        naive_linearity(H, t)
    )


def test_dask_regression_targets():
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(2)
    H = rng.normal(size=(45, 4))
    t = H @ rng.normal(size=4) + rng.normal(size=45)
    Hd = da.from_array(H, chunks=(10, 4))
    assert target_linearity(Hd, t) == pytest.approx(naive_linearity(H, t), rel=1e-10)


@pytest.mark.parametrize(
    "H, y, error, match",
    [
        (np.ones((4, 2)), np.zeros(4, dtype=int), ValueError, "at least 2 classes"),
        (np.ones((4, 2)), np.full(4, 2.5), ValueError, "constant"),
        (np.ones((4, 2)), [0, 1, 0], ValueError, "3 entries, but H has 4"),
        (np.ones((4, 2)), [0.5, np.nan, 1.0, 2.0], ValueError, "NaN"),
        (np.array([[np.nan, 1.0], [1.0, 2.0]]), [0, 1], ValueError, "NaN"),
        (np.array([[np.nan, 1.0], [1.0, 2.0]]), [0.5, 1.5], ValueError, "NaN"),
        (np.zeros((0, 2)), [], ValueError, "empty"),
    ],
)
def test_bad_input(H, y, error, match):
    with pytest.raises(error, match=match):
        target_linearity(H, y)


def test_non_numeric_targets_as_values():
    with pytest.raises(TypeError, match="numbers"):
        target_linearity(np.ones((2, 2)), ["a", "b"], target_type="values")


def test_column_vector_of_labels_is_read_as_labels():
    """Regression: type_of_target calls an (n, 1) integer column 'multiclass',
    so "auto" chose classes, and then refused the column as not 1-D."""
    H, y = sample(seed=4)
    expected = naive_linearity(H, one_hot(y))
    assert target_linearity(H, y[:, None]) == pytest.approx(expected)
    assert target_linearity(H, y[:, None], target_type="classes") == pytest.approx(
        expected
    )
