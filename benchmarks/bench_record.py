"""feature_record (the tracker's and report's record) against its former path.

Run by hand: ``python benchmarks/bench_summary.py [--n 20000] [--m 5000] [--p 256]``.

``feature_record`` fits the spectrum on ``n x p`` float32 training features
and makes one held-out pass over ``[Phi | Y | F]`` (``FeatureSpectrum.measures``:
quality, utility and CKA-MF from one Gram, the eigenfunctions never evaluated).
The peer is the path that ``FeatureTracker`` and ``skfeat report`` each took
before they shared it: ``transform`` (an ``m x p`` product), a pass over
``[E | Y | F]``, a ``cka_mf`` pass over ``[Phi | F]`` and a second one inside
``feature_regime``.  Both are timed in the same run, against one
``FeatureSpectrum.fit`` (ratios; the machine is shared and noisy), and their
values compared.
"""

import argparse
import time

import numpy as np

from skfeat import FeatureSpectrum
from skfeat.inspection import feature_record
from skfeat.metrics import (
    cka_mf,
    effective_dimension,
    feature_regime,
    projection_measures,
)


def best_time(fn, repeat):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def former_path(Phi_train, Phi_test, y_test, outputs, n_classes):
    """The record as the tracker computed it before feature_record."""
    spectrum = FeatureSpectrum().fit(Phi_train)
    E = spectrum.transform(Phi_test)
    res = projection_measures(E, y_test, outputs=outputs)
    Q = np.asarray(res.cumulative_quality, dtype=np.float64)
    U = np.asarray(res.cumulative_utility, dtype=np.float64)
    at_C = min(n_classes, Q.size) - 1
    return {
        "quality_at_C": float(Q[at_C]),
        "utility_at_C": float(U[at_C]),
        "D_lambda": float(spectrum.effective_dimension_),
        "D_q": float(effective_dimension(res.feature_quality)),
        "D_u": float(effective_dimension(res.feature_utility)),
        "cka_mf": float(cka_mf(Phi_test, outputs)),
        "regime": feature_regime(Phi_test, outputs),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--m", type=int, default=5000)
    parser.add_argument("--p", type=int, default=256)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    C = args.classes
    y = rng.integers(0, C, size=args.n + args.m)
    means = rng.normal(size=(C, args.p))
    Phi = (np.eye(C)[y] @ means + rng.normal(size=(y.size, args.p))).astype(np.float32)
    outputs = (Phi @ rng.normal(size=(args.p, C))).astype(np.float32)
    Phi_train, Phi_test = Phi[: args.n], Phi[args.n :]
    y_test, F = y[args.n :], outputs[args.n :]
    print(f"n={args.n}  m={args.m}  p={args.p}  C={C}  float32, best of {args.repeat}")

    t_fit, _ = best_time(lambda: FeatureSpectrum().fit(Phi_train), args.repeat)
    t_new, new = best_time(
        lambda: feature_record(Phi_train, Phi_test, y_test, F), args.repeat
    )
    t_old, old = best_time(
        lambda: former_path(Phi_train, Phi_test, y_test, F, C), args.repeat
    )
    print(f"{'':34}{'seconds':>10}{'/ fit':>8}{'/ former':>10}")
    for label, t in (
        ("FeatureSpectrum.fit (train)", t_fit),
        ("feature_record", t_new),
        ("former path (transform + 3 passes)", t_old),
    ):
        print(f"{label:34}{t:>10.3f}{t / t_fit:>8.2f}{t / t_old:>10.2f}")
    differences = {
        key: abs(new[key] - old[key]) for key in old if not isinstance(old[key], str)
    }
    worst = max(differences, key=differences.get)
    print(
        f"largest difference of a scalar: {worst} {differences[worst]:.2e}; "
        f"regime {new['regime']} / {old['regime']}"
    )


if __name__ == "__main__":
    main()
