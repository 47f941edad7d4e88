"""Wide-layer benchmark (p >> m): fit, measures, dual route, streamed sketch.

Run by hand from the repository root::

    python benchmarks/bench_wide.py                 # n=2000, m=400, p=65536
    python benchmarks/bench_wide.py --p 16384       # a reduced size
    python benchmarks/bench_wide.py --sections 1    # only the measures

Every ratio compares timings measured in this same run (the machine may be
noisy); peak extra memory is the largest traced allocation (``tracemalloc``,
which sees numpy's buffers) above what was allocated before the step:

1. ``FeatureSpectrum(n_components=20, solver="randomized")`` fit on the
   training features, then ``score``, ``projection_measures(X, y, F)`` and
   ``skfeat.metrics.cka_mf`` on the evaluation sample (targets: fit + all
   measures <= 3x the fit, peak extra memory <= 1 GiB, no ``p x p`` matrix);
2. the exact dual route (``FeatureSpectrum()``, ``p > n``) at n=1000,
   p=8192 (``--dual-n``, ``--dual-p``) against a dense float64 SVD;
3. the streamed randomized sketch: ``fit_from_batches`` over an
   ``np.memmap`` (5 passes) and a ``partial_fit`` loop (one pass) against
   the in-memory randomized fit.
"""

import argparse
import os
import sys
import tempfile
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from skfeat import FeatureSpectrum, fit_from_batches  # noqa: E402
from skfeat.metrics import cka_mf  # noqa: E402

GIB = 2**30


def measured(function):
    """``(result, seconds, peak extra bytes)`` of one call."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    result = function()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return result, seconds, peak


def row(name, seconds, peak=None, extra=""):
    memory = "" if peak is None else f"  peak +{peak / 2**20:8.1f} MiB"
    print(f"  {name:<46s} {seconds:8.3f} s{memory}  {extra}")


def wide_layer(n, p, seed=0):
    """float32 features with eigenvalues ~ j^-1, labels and outputs."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p), dtype=np.float32)
    X *= np.arange(1, p + 1, dtype=np.float32) ** np.float32(-0.5)
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    F = X @ rng.standard_normal((p, 10), dtype=np.float32)
    return X, y, F


def bench_measures(n, m, p, k):
    print(f"\n[1] randomized fit + measures  (n={n}, m={m}, p={p}, k={k}, float32)")
    X, y, F = wide_layer(n + m, p)
    train, test, y_test, F_test = X[:n], X[n:], y[n:], F[n:]
    template = FeatureSpectrum(n_components=k, solver="randomized", random_state=0)
    template.fit(train[:200])  # warm-up: imports, BLAS threads
    est, fit_s, fit_peak = measured(lambda: template.fit(train))
    row("fit", fit_s, fit_peak)
    total = fit_s
    peaks = [fit_peak]
    steps = {
        "score(X, y)": lambda: est.score(test, y_test),
        "projection_measures(X, y, F)": lambda: est.projection_measures(
            test, y_test, outputs=F_test
        ),
        "cka_mf(X, F)": lambda: cka_mf(test, F_test),
    }
    for name, step in steps.items():
        _, seconds, peak = measured(step)
        row(name, seconds, peak)
        total += seconds
        peaks.append(peak)
    ratio = total / fit_s
    print(
        f"  fit + all measures = {ratio:.2f}x the fit (target <= 3x); peak "
        f"extra memory {max(peaks) / GIB:.3f} GiB (target <= 1 GiB; one p x p "
        f"float64 would be {8 * p * p / GIB:.1f} GiB)"
    )


def bench_dual(n, p):
    print(f"\n[2] exact dual route  (n={n}, p={p}, float32)")
    X, _, _ = wide_layer(n, p, seed=1)
    FeatureSpectrum().fit(X[:100, :200])  # warm-up
    est, dual_s, dual_peak = measured(lambda: FeatureSpectrum().fit(X))
    row(f"FeatureSpectrum().fit -> {est.solver_}", dual_s, dual_peak)
    kept, kept_s, kept_peak = measured(
        lambda: FeatureSpectrum(20, solver="dual").fit(X)
    )
    row("FeatureSpectrum(20, solver='dual').fit", kept_s, kept_peak)
    (_, s, _), svd_s, svd_peak = measured(
        lambda: np.linalg.svd(X.astype(np.float64), full_matrices=False)
    )
    row("naive: float64 np.linalg.svd", svd_s, svd_peak)
    lam = s[:20] ** 2 / n
    error = np.max(np.abs(kept.eigenvalues_ / lam - 1))
    print(
        f"  dual {svd_s / dual_s:.1f}x faster than the SVD (all eigenpairs), "
        f"{svd_s / kept_s:.1f}x for 20; top-20 relative error {error:.1e}"
    )


def bench_streaming(n, p, k, tmp):
    print(f"\n[3] streamed randomized sketch  (n={n}, p={p}, k={k}, float32)")
    X, _, _ = wide_layer(n, p, seed=2)
    path = os.path.join(tmp, "wide.npy")
    np.save(path, X)
    Xm = np.load(path, mmap_mode="r")
    template = FeatureSpectrum(n_components=k, solver="randomized", random_state=0)
    ref, ref_s, ref_peak = measured(lambda: template.fit(X))
    row("in memory: fit", ref_s, ref_peak)
    got, s, peak = measured(lambda: fit_from_batches(Xm, template, batch_size=256))
    error = np.max(np.abs(got.eigenvalues_ / ref.eigenvalues_ - 1))
    row("fit_from_batches(memmap), 5 passes", s, peak, f"rel. diff {error:.1e}")

    def partial():
        est = FeatureSpectrum(k, solver="randomized", n_oversamples=30, random_state=0)
        for start in range(0, n, 256):
            est.partial_fit(Xm[start : start + 256])
        return est

    est, s, peak = measured(partial)
    error = np.max(np.abs(est.eigenvalues_ / ref.eigenvalues_ - 1))
    row("partial_fit loop (one-pass sketch, l=k+30)", s, peak, f"rel. err {error:.1e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--m", type=int, default=400)
    parser.add_argument("--p", type=int, default=65536)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--dual-n", type=int, default=1000)
    parser.add_argument("--dual-p", type=int, default=8192)
    parser.add_argument(
        "--sections", default="123", help="which sections to run, e.g. 1 or 13"
    )
    args = parser.parse_args()
    if "1" in args.sections:
        bench_measures(args.n, args.m, args.p, args.k)
    if "2" in args.sections:
        bench_dual(args.dual_n, args.dual_p)
    if "3" in args.sections:
        with tempfile.TemporaryDirectory() as tmp:
            bench_streaming(args.n, args.p, args.k, tmp)


if __name__ == "__main__":
    main()
