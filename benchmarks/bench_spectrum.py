"""FeatureSpectrum.fit against one GEMM and scikit-learn / numpy peers.

Run by hand: ``python benchmarks/bench_spectrum.py [--n 50000] [--p 512]``.
Prints each time (best of ``--repeat`` interleaved rounds) and its ratio to one
``X.T @ X`` on the same data in the same run (absolute times on a shared
machine are not stable; the median ratio shows the noise),
then the peak extra memory of ``fit`` measured with tracemalloc against the size
of X (numpy reports its allocations to tracemalloc).
"""

import argparse
import time
import tracemalloc

import numpy as np
from sklearn.decomposition import PCA

from skfeat import FeatureSpectrum


def interleaved_times(funcs, repeat):
    """Times of each function over ``repeat`` interleaved rounds.

    Interleaving spreads the load of a busy machine over the contenders, so
    that ratios of their best (and median) times stay meaningful.
    """
    times = {name: [] for name in funcs}
    for _ in range(repeat):
        for name, fn in funcs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


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
        "FeatureSpectrum(32).fit": lambda: FeatureSpectrum(32).fit(X),
        "PCA(32, covariance_eigh)": lambda: PCA(32, svd_solver="covariance_eigh").fit(
            X
        ),
    }
    times = interleaved_times(peers, args.repeat)
    if not args.skip_svd:
        slow = {
            "PCA(full)": lambda: PCA(svd_solver="full").fit(X),
            "np.linalg.svd": lambda: np.linalg.svd(X, full_matrices=False),
        }
        times.update(interleaved_times(slow, 1))
    best = {name: min(t) for name, t in times.items()}
    median = {name: float(np.median(t)) for name, t in times.items()}
    gemm = best["X.T @ X (one GEMM/syrk)"]
    fit = best["FeatureSpectrum().fit"]
    gemm_med = median["X.T @ X (one GEMM/syrk)"]
    print(
        f"{'method':28s} {'best [s]':>9s} {'/ GEMM':>8s} {'/ fit':>8s} "
        f"{'median/GEMM':>12s}"
    )
    for name, t in best.items():
        print(
            f"{name:28s} {t:9.4f} {t / gemm:8.2f} {t / fit:8.2f} "
            f"{median[name] / gemm_med:12.2f}"
        )
    print(
        "targets: fit <= 1.35x GEMM "
        f"({fit / gemm:.2f}), PCA(covariance_eigh) / fit >= 1.10 "
        f"({best['PCA(covariance_eigh)'] / fit:.2f})"
    )

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
