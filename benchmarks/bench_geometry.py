"""Time skfeat's one-pass neural-collapse measures against a textbook version.

The peer is the usual reference-code recipe (per-class loops over boolean
masks, a dense ``p x p`` pseudo-inverse of Sigma_B, a ``np.cov`` per class),
run in the same process on the same data; ratios are peer / skfeat, so a
ratio above 1 means skfeat is faster.  The machine is noisy: compare ratios,
not absolute times.

    python benchmarks/bench_geometry.py [--n 20000] [--p 512] [--classes 10]
"""

import argparse
import time

import numpy as np

from skfeat.metrics import ClassMoments, neural_collapse, within_class_compression


def textbook(H, y):
    """NC1, compression and CDNV as reference code usually writes them."""
    classes = np.unique(y)
    K, (n, p) = classes.size, H.shape
    mu_g = H.mean(axis=0)
    means, sigma_w, variances = [], np.zeros((p, p)), []
    for c in classes:
        Hc = H[y == c]
        mu = Hc.mean(axis=0)
        means.append(mu)
        d = Hc - mu
        sigma_w += d.T @ d
        variances.append(np.trace(np.cov(Hc.T, bias=True)))
    sigma_w /= n
    M = np.array(means) - mu_g
    sigma_b = M.T @ M / K
    nc1 = np.trace(sigma_w @ np.linalg.pinv(sigma_b)) / K
    compression = np.trace(sigma_w) / np.trace(sigma_b)
    means = np.array(means)
    cdnv = np.mean(
        [
            (variances[i] + variances[j]) / (2 * np.sum((means[i] - means[j]) ** 2))
            for i in range(K)
            for j in range(i + 1, K)
        ]
    )
    return nc1, compression, cdnv


def best_of(f, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - start)
    return min(times), out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--p", type=int, default=512)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    y = rng.integers(0, args.classes, args.n)
    H = rng.normal(size=(args.classes, args.p))[y] + rng.normal(size=(args.n, args.p))
    print(f"n={args.n} p={args.p} K={args.classes}, best of {args.repeat}")
    reference = None  # float64 textbook values: the accuracy yardstick
    for dtype in (np.float64, np.float32):
        X = H.astype(dtype)
        t_peer, ref = best_of(lambda: textbook(X, y), args.repeat)

        def ours(X=X):
            acc = ClassMoments().update(X, y)
            return acc.neural_collapse(), acc.within_class_compression()

        t_ours, (nc, comp) = best_of(ours, args.repeat)
        t_nc, _ = best_of(lambda: neural_collapse(X, y), args.repeat)
        t_comp, _ = best_of(lambda: within_class_compression(X, y), args.repeat)
        reference = ref if reference is None else reference
        ours_values = [nc.nc1, comp, nc.cdnv]
        assert np.allclose(ours_values, reference, rtol=1e-3), (ours_values, reference)
        name = np.dtype(dtype).name
        errors = np.abs(np.array([ref, ours_values]) / reference - 1).max(axis=1)
        print(
            f"{name}  max relative error vs float64 textbook: "
            f"textbook {errors[0]:.1e}, skfeat {errors[1]:.1e}"
        )
        print(f"{name}  textbook (NC1+compression+CDNV)  {t_peer:8.3f} s  ratio 1.00")
        print(
            f"{name}  skfeat ClassMoments (all NC)       {t_ours:8.3f} s  "
            f"ratio {t_peer / t_ours:5.2f}"
        )
        print(
            f"{name}  skfeat neural_collapse             {t_nc:8.3f} s  "
            f"ratio {t_peer / t_nc:5.2f}"
        )
        print(
            f"{name}  skfeat within_class_compression    {t_comp:8.3f} s  "
            f"ratio {t_peer / t_comp:5.2f}"
        )


if __name__ == "__main__":
    main()
