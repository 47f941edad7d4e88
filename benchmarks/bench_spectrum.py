"""FeatureSpectrum.fit against one GEMM and scikit-learn / numpy peers.

Run by hand: ``python benchmarks/bench_spectrum.py [--n 50000] [--p 512]``.
Prints each time (best of ``--repeat``) and its ratio to one ``X.T @ X`` on the
same data in the same run (absolute times on a shared machine are not stable),
then the peak extra memory of ``fit`` measured with tracemalloc against the size
of X (numpy reports its allocations to tracemalloc).
"""

import argparse
import time
import tracemalloc

import numpy as np
from sklearn.decomposition import PCA

from skfeat import FeatureSpectrum


def best_time(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--p", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-svd", action="store_true", help="skip the slow SVDs")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    X = (
        rng.standard_normal((args.n, args.p), dtype=np.float32)
        * np.geomspace(1, 1e-3, args.p, dtype=np.float32)
        + 0.1
    )
    print(f"n={args.n} p={args.p} float32, best of {args.repeat}")

    peers = {
        "X.T @ X (one GEMM/syrk)": lambda: X.T @ X,
        "FeatureSpectrum().fit": lambda: FeatureSpectrum().fit(X),
        "PCA(covariance_eigh)": lambda: PCA(svd_solver="covariance_eigh").fit(X),
    }
    if not args.skip_svd:
        peers["PCA(full)"] = lambda: PCA(svd_solver="full").fit(X)
        peers["np.linalg.svd"] = lambda: np.linalg.svd(X, full_matrices=False)
    times = {}
    for name, fn in peers.items():
        repeat = args.repeat if "svd" not in name.lower() and "full" not in name else 1
        times[name] = best_time(fn, repeat)
    gemm = times["X.T @ X (one GEMM/syrk)"]
    fit = times["FeatureSpectrum().fit"]
    print(f"{'method':28s} {'time [s]':>9s} {'/ GEMM':>8s} {'/ fit':>8s}")
    for name, t in times.items():
        print(f"{name:28s} {t:9.4f} {t / gemm:8.2f} {t / fit:8.2f}")

    tracemalloc.start()
    FeatureSpectrum().fit(X)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    p2 = args.p * args.p * 8
    print(
        f"peak extra memory of fit: {peak / 2**20:.1f} MiB "
        f"(X is {X.nbytes / 2**20:.1f} MiB; one float64 p x p is {p2 / 2**20:.1f} MiB;"
        f" ratio to X {peak / X.nbytes:.3f})"
    )


if __name__ == "__main__":
    main()
