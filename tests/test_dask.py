"""dask arrays on a 2-process LocalCluster: results equal numpy's."""

import os

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from skfeat import FeatureSpectrum, fit_from_batches  # noqa: E402
from skfeat._moments import Moments, gram_product  # noqa: E402


@pytest.fixture(scope="module")
def client():
    # Workers are separate processes: they must import skfeat from this
    # checkout (it is not installed), as the test process does.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [root, old]))
    cluster = distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        dashboard_address=None,
        memory_limit="1GiB",
    )
    try:
        with distributed.Client(cluster) as client:
            yield client
    finally:
        cluster.close()
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old


def features(n=600, p=12, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, p)) * 0.8 ** np.arange(p)).astype(dtype)


def test_cluster_is_used(client):
    assert len(client.scheduler_info()["workers"]) == 2
    # A worker process imports skfeat (sanity check of the fixture).
    versions = client.run(lambda: __import__("skfeat").__version__)
    assert set(versions.values()) == {__import__("skfeat").__version__}
    assert all(pid != os.getpid() for pid in client.run(os.getpid).values())


def test_moments_blockwise_tree_reduction(client):
    X = features(n=1000, p=7)
    Y = np.random.default_rng(1).normal(size=(1000, 3))
    # 17 row blocks: dask's tree reduction adds them in several rounds.
    Xd = da.from_array(X, chunks=(60, 7))
    m = Moments().update(Xd, Y)
    B = np.hstack([X, Y])
    np.testing.assert_allclose(m.gram, B.T @ B, rtol=1e-12)
    np.testing.assert_allclose(m.sums, B.sum(axis=0), rtol=1e-12, atol=1e-12)
    assert m.n_samples == 1000 and m.widths == (7, 3)
    # Disjoint dask parts merge like in-memory chunks.
    merged = (
        Moments().update(Xd[:500], Y[:500]).merge(Moments().update(Xd[500:], Y[500:]))
    )
    np.testing.assert_allclose(merged.gram, m.gram, rtol=1e-12)
    with pytest.raises(ValueError, match="different numbers of rows"):
        Moments().update(Xd, Y[:999])


def test_gram_product_dask(client):
    X = features(n=500, p=9, dtype=np.float32)
    Q = np.random.default_rng(2).normal(size=(9, 4))
    Z, _ = gram_product(da.from_array(X, chunks=(70, 9)), Q)
    np.testing.assert_allclose(Z, gram_product(X, Q.astype(np.float32))[0], rtol=1e-5)


@pytest.mark.parametrize("solver", ["gram", "dual", "svd"])
def test_fit_transform_equal_numpy(client, solver):
    X = features(n=300, p=10) if solver != "dual" else features(n=40, p=60)
    Xd = da.from_array(X, chunks=(45, 5))  # column chunks get merged
    ref = FeatureSpectrum(solver=solver).fit(X)
    est = FeatureSpectrum(solver=solver).fit(Xd)
    assert isinstance(est.eigenvalues_, np.ndarray)
    # Same sums in another order: equal to float64 rounding of lambda_1.
    np.testing.assert_allclose(
        est.eigenvalues_, ref.eigenvalues_, rtol=1e-10, atol=1e-14
    )
    # Eigenvectors of the smallest eigenvalues (~1e-8 lambda_1, close to each
    # other) move by eps * lambda_1 / gap when the sums are reordered.
    np.testing.assert_allclose(est.components_, ref.components_, atol=1e-7)
    E = est.transform(Xd)
    assert isinstance(E, da.Array) and E.chunks[0] == Xd.chunks[0]
    np.testing.assert_allclose(E.compute(), ref.transform(X), atol=1e-6)
    assert est.n_samples_seen_ == len(X) and est.n_features_in_ == X.shape[1]


def test_randomized_on_dask(client):
    X = features(n=400, p=80, seed=3)
    Xd = da.from_array(X, chunks=(64, 80))
    kw = {"solver": "randomized", "random_state": 0}
    ref = FeatureSpectrum(4, **kw).fit(X)
    est = FeatureSpectrum(4, **kw).fit(Xd)
    np.testing.assert_allclose(est.eigenvalues_, ref.eigenvalues_, rtol=1e-12)
    np.testing.assert_allclose(est.components_, ref.components_, atol=1e-10)


def test_float32_and_partial_fit(client):
    X = features(n=400, p=8, dtype=np.float32)
    Xd = da.from_array(X, chunks=(50, 8))
    est = FeatureSpectrum().partial_fit(Xd[:150]).partial_fit(Xd[150:])
    ref = FeatureSpectrum().fit(X)
    assert est.eigenvalues_.dtype == np.float32
    assert est.transform(Xd).dtype == np.float32
    np.testing.assert_allclose(est.eigenvalues_, ref.eigenvalues_, rtol=1e-5)
    streamed = fit_from_batches([Xd[:200], Xd[200:]])
    np.testing.assert_allclose(streamed.eigenvalues_, ref.eigenvalues_, rtol=1e-5)


def test_integer_dask_is_cast(client):
    X = np.random.default_rng(4).integers(-3, 4, size=(100, 5))
    est = FeatureSpectrum().fit(da.from_array(X, chunks=30))
    ref = FeatureSpectrum().fit(X.astype(np.float64))
    np.testing.assert_allclose(est.eigenvalues_, ref.eigenvalues_, rtol=1e-12)


def test_dask_bad_input(client):
    X = features(n=100, p=5)
    bad = X.copy()
    bad[57, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        FeatureSpectrum().fit(da.from_array(bad, chunks=20))
    est = FeatureSpectrum().fit(X)
    with pytest.raises(ValueError, match="NaN or infinity"):
        est.transform(da.from_array(bad, chunks=20)).compute()
    with pytest.raises(ValueError, match="5 features"):
        est.transform(da.from_array(X[:, :4], chunks=20))
    with pytest.raises(ValueError, match="at least 2"):
        FeatureSpectrum().fit(da.from_array(X[:1], chunks=1))
    with pytest.raises(ValueError, match="2-D"):
        FeatureSpectrum().fit(da.from_array(X[:, 0], chunks=20))
    with pytest.raises(TypeError, match="Complex"):
        FeatureSpectrum().fit(da.from_array(X.astype(complex), chunks=20))
    unknown = da.from_array(X, chunks=20)
    unknown = unknown[unknown[:, 0] > -10]
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        FeatureSpectrum().fit(unknown)
