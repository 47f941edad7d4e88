"""Geometry of wide layers (p > n) from the sample side: no p x p matrix."""

import tracemalloc

import numpy as np
import pytest
from _naive import geometry, linearity, rank_share, target_matrix

from skfeat.inspection import feature_record
from skfeat.inspection._record import _value_geometry, geometry_record
from skfeat.metrics import ClassMoments
from skfeat.metrics._geometry import rows_geometry, rows_side, rows_value_geometry


def _wide(n=60, p=200, K=4, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, size=n)
    H = np.eye(K)[y] @ rng.normal(size=(K, p)) * 2 + rng.normal(size=(n, p))
    return H.astype(dtype), y


def _class_moments(H, y):
    m = ClassMoments().update(H, y)
    return {
        "compression": m.within_class_compression(),
        "discrimination": m.between_class_discrimination(),
        "numerical_rank": m.numerical_rank(0.95),
        "nc1": m.neural_collapse().nc1,
        "target_linearity": m.target_linearity(),
    }


@pytest.mark.parametrize("shape", [(60, 200, 4), (30, 31, 2), (80, 500, 7)])
def test_rows_geometry_matches_naive_and_class_moments(shape):
    n, p, K = shape
    H, y = _wide(n, p, K)
    got = rows_geometry(H, y)
    naive = geometry(H, y)
    for key in ("compression", "discrimination", "nc1"):
        assert got[key] == pytest.approx(naive[key], rel=1e-9), key
    assert got["numerical_rank"] == rank_share(H, 0.95)
    assert got["target_linearity"] == pytest.approx(
        linearity(H, target_matrix(y)), rel=1e-9
    )
    reference = _class_moments(H, y)
    for key, value in reference.items():
        assert got[key] == pytest.approx(value, rel=1e-9), key


def test_rows_geometry_float32_and_scale_invariance():
    H, y = _wide(dtype=np.float32)
    got = rows_geometry(H, y)
    reference = _class_moments(H, y)
    for key, value in reference.items():
        assert got[key] == pytest.approx(value, rel=1e-6), key
    # Features of any representable magnitude give the same measures.
    for factor in (2.0**-100, 2.0**100):
        scaled = rows_geometry(H.astype(np.float64) * factor, y)
        for key, value in rows_geometry(H.astype(np.float64), y).items():
            assert scaled[key] == pytest.approx(value, rel=1e-9), key


def test_rows_geometry_degenerate_cases():
    H, y = _wide()
    # Every class on one point: collapse; coinciding means: infinite ratios.
    means = np.random.default_rng(1).normal(size=(4, H.shape[1]))
    collapsed = rows_geometry(means[y], y)
    assert collapsed["compression"] < 1e-20 and collapsed["nc1"] < 1e-20
    # Equal rows: no spread, coinciding means -- as ClassMoments reads them.
    same = rows_geometry(np.tile(H[:1], (len(y), 1)), y)
    assert same["compression"] == 0.0 and same["nc1"] == float("inf")
    reference = _class_moments(np.tile(H[:1], (len(y), 1)), y)
    assert same["compression"] == reference["compression"]
    assert same["nc1"] == reference["nc1"]
    with pytest.raises(ValueError, match="at least 2 classes"):
        rows_geometry(H, np.zeros(len(y), dtype=int))
    with pytest.raises(ValueError, match="NaN or infinity"):
        rows_geometry(np.where(H > 2, np.nan, H), y)
    with pytest.raises(ValueError, match="entries|samples"):
        rows_geometry(H, y[:-1])


def test_rows_value_geometry_matches_the_moments_route_and_naive():
    H, _ = _wide()
    rng = np.random.default_rng(2)
    Y = H[:, :3] @ rng.normal(size=(3, 2)) + 0.5 * rng.normal(size=(len(H), 2))
    got = rows_value_geometry(H, Y)
    assert got == pytest.approx(_value_geometry(H, Y, 0.95), rel=1e-9)
    assert got["target_linearity"] == pytest.approx(linearity(H, Y), rel=1e-9)
    assert got["numerical_rank"] == rank_share(H, 0.95)
    with pytest.raises(ValueError, match="constant"):
        rows_value_geometry(H, np.ones((len(H), 1)))


def test_geometry_record_takes_the_cheaper_side():
    H, y = _wide()
    assert rows_side(H) and not rows_side(H[:, :40])
    assert geometry_record(H, y) == pytest.approx(_class_moments(H, y), rel=1e-9)
    narrow = H[:, :40]
    assert geometry_record(narrow, y) == _class_moments(narrow, y)
    # And through the record, where the tracker and the report meet it.
    record = feature_record(H[:40], H[40:], y[40:], y_train=y[:40])
    assert record["nc1"] == pytest.approx(geometry(H[:40], y[:40])["nc1"], rel=1e-9)


def test_rows_geometry_of_torch_tensors():
    torch = pytest.importorskip("torch")
    H, y = _wide(dtype=np.float32)
    got = rows_geometry(torch.from_numpy(H), y)
    assert got == pytest.approx(rows_geometry(H, y), rel=1e-12)


@pytest.mark.parametrize("rank", [57, 20])
def test_rows_geometry_of_rank_deficient_features(rank):
    # A few dropped directions (only those eigenvectors computed) or many.
    rng = np.random.default_rng(4)
    n, p, K = 60, 200, 3
    y = rng.integers(0, K, size=n)
    H = rng.normal(size=(n, rank)) @ rng.normal(size=(rank, p))
    got = rows_geometry(H, y)
    assert got["target_linearity"] == pytest.approx(
        linearity(H, target_matrix(y)), rel=1e-8
    )
    assert got == pytest.approx(_class_moments(H, y), rel=1e-8)
    Y = rng.normal(size=(n, 2))
    assert rows_value_geometry(H, Y)["target_linearity"] == pytest.approx(
        linearity(H, Y), rel=1e-8
    )


def test_rows_geometry_holds_no_float64_copy_of_the_features():
    # 100 x 100 000 float32 (40 MB): a float64 copy would be 80 MB; the
    # geometry reads it in float64 column blocks instead.
    rng = np.random.default_rng(7)
    y = np.arange(100) % 4
    H = rng.standard_normal((100, 100_000), dtype=np.float32)
    H[:, :4] += 3 * np.eye(4, dtype=np.float32)[y]
    full_copy = H.size * 8
    tracemalloc.start()
    got = rows_geometry(H, y)
    value = rows_value_geometry(H, y[:, None].astype(float))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < full_copy / 2
    assert 0 < got["compression"] < np.inf and got["target_linearity"] == 1.0
    assert value["target_linearity"] == 1.0


@pytest.mark.parametrize("global_mean", ["samples", "classes"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_public_class_measures_of_wide_features_from_the_sample_side(
    global_mean, dtype, monkeypatch
):
    from skfeat.metrics import (
        _geometry,
        between_class_discrimination,
        neural_collapse,
        within_class_compression,
    )

    n, p, K = 80, 500, 5
    H, y = _wide(n, p, K, seed=3, dtype=dtype)
    y[:3] = [0, 1, 2]  # every class present, imbalanced
    W = np.random.default_rng(4).normal(size=(K, p))
    predictions = np.roll(y, 1)
    # The p x p class moments are never built for p > n.
    monkeypatch.setattr(
        _geometry.ClassMoments,
        "update",
        lambda *a, **k: pytest.fail("p x p class moments for wide features"),
    )
    naive = geometry(H, y, global_mean=global_mean, weights=W)
    nc = neural_collapse(
        H, y, weights=W, predictions=predictions, global_mean=global_mean
    )
    rel = 1e-9 if dtype == np.float64 else 2e-5
    for key in ("nc1", "nc2_equinorm", "nc2_equiangularity", "nc2_etf", "cdnv"):
        assert getattr(nc, key) == pytest.approx(naive[key], rel=rel), key
    assert nc.nc3 == pytest.approx(naive["nc3"], rel=rel)
    assert nc.nc4 == pytest.approx(np.mean(naive["ncc"] != predictions))
    reference = geometry(H, y)
    assert within_class_compression(H, y) == pytest.approx(
        reference["compression"], rel=rel
    )
    assert between_class_discrimination(H, y) == pytest.approx(
        reference["discrimination"], rel=rel
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numerical_rank_of_wide_features_from_the_sample_side(dtype):
    from skfeat.metrics import numerical_rank

    H, _ = _wide(40, 300, 3, seed=5, dtype=dtype)
    for share in (0.5, 0.95, 1.0):
        assert numerical_rank(H, rank_share=share) == rank_share(H, share)
    assert numerical_rank(H.T, rank_share=0.95) == rank_share(H.T, 0.95)
