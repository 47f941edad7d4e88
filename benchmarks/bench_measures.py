"""Feature-learning measures against one FeatureSpectrum.fit, and CKA peers.

Run by hand: ``python benchmarks/bench_measures.py [--m 50000] [--p 512]``.

1. On ``m x p`` float32 features with ``C`` classes and ``C`` outputs: the
   measures (``transform`` + q, Q, U, u + CKA-MF; and the one-pass
   ``FeatureSpectrum.measures``) timed against one ``FeatureSpectrum.fit`` on
   the same data in the same run (ratios; the machine is shared and noisy).
2. ``linear_cka`` (feature space) against the ``m x m`` Gram formulation used
   by peers (Kornblith et al.'s reference code: ``K = X X^T``, centred by row
   and column means; torch_cka / anatome do the same with more copies) at
   ``--m-cka`` rows: time and peak memory (tracemalloc; numpy reports its
   allocations to it).
3. Peak memory of ``cka_mf`` on ``--m-big x 128`` float32 features.
"""

import argparse
import time
import tracemalloc

import numpy as np

from skfeat import FeatureSpectrum
from skfeat.metrics import cka_mf, linear_cka, projection_measures


def best_time(fn, repeat):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def peak_memory(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def peer_cka_mxm(X, Y):
    """Kornblith et al.'s formulation: m x m Grams centred by their means."""

    def centred_gram(A):
        gram = A @ A.T
        means = gram.mean(axis=0, dtype=np.float64).astype(gram.dtype)
        means -= means.mean() / 2
        gram -= means[:, None]
        gram -= means[None, :]
        return gram

    K, L = centred_gram(X), centred_gram(Y)
    hsic = float(np.vdot(K.ravel(), L.ravel()))
    return hsic / (np.linalg.norm(K) * np.linalg.norm(L))


def planted(m, p, C, rng):
    y = rng.integers(0, C, size=m)
    codes = np.eye(C, dtype=np.float32)[y]
    Phi = codes @ rng.standard_normal((C, p), dtype=np.float32)
    Phi += 0.5 * rng.standard_normal((m, p), dtype=np.float32)
    F = Phi @ (rng.standard_normal((p, C), dtype=np.float32) / np.float32(p**0.5))
    return Phi, y, F


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=50_000)
    parser.add_argument("--p", type=int, default=512)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--m-cka", type=int, default=10_000)
    parser.add_argument("--p-cka", type=int, default=None, help="default: --p")
    parser.add_argument("--m-big", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)

    print(f"== measures vs fit: m={args.m}, p={args.p}, C={args.classes}, float32")
    Phi, y, F = planted(args.m, args.p, args.classes, rng)
    t_fit, spectrum = best_time(lambda: FeatureSpectrum().fit(Phi), args.repeat)

    def separate():
        E = spectrum.transform(Phi)
        res = projection_measures(E, y, outputs=F)
        res.cka_mf = cka_mf(Phi, F)
        return res

    t_sep, res_sep = best_time(separate, args.repeat)
    t_one, res_one = best_time(
        lambda: spectrum.projection_measures(Phi, y, outputs=F), args.repeat
    )
    gap = max(
        np.abs(res_sep[k] - res_one[k]).max()
        for k in ("cumulative_quality", "cumulative_utility", "feature_quality")
    )
    print(f"FeatureSpectrum.fit                       {t_fit:8.3f} s  1.00x")
    print(
        f"transform + projection_measures + cka_mf  {t_sep:8.3f} s  "
        f"{t_sep / t_fit:.2f}x"
    )
    print(
        f"FeatureSpectrum.projection_measures (one pass){t_one:8.3f} s  "
        f"{t_one / t_fit:.2f}x"
    )
    print(
        f"  Q(C)={res_one.cumulative_quality[args.classes - 1]:.4f}  "
        f"U(C)={res_one.cumulative_utility[args.classes - 1]:.4f}  "
        f"CKA-MF={res_one.cka_mf:.4f} (separate: {res_sep.cka_mf:.4f}); "
        f"max |separate - one pass| over q, Q, U = {gap:.2e}"
    )

    m, p = args.m_cka, args.p_cka or args.p
    print(f"\n== linear_cka vs m x m Gram peer: m={m}, p={p}, q={args.classes}")
    X, _, Y = planted(m, p, args.classes, rng)
    t_ours, ours = best_time(lambda: linear_cka(X, Y), args.repeat)
    t_peer, peer = best_time(lambda: peer_cka_mxm(X, Y), 1)
    mem_ours = peak_memory(lambda: linear_cka(X, Y))
    mem_peer = peak_memory(lambda: peer_cka_mxm(X, Y))
    print(f"linear_cka (feature space)  {t_ours:8.3f} s  {mem_ours / 2**20:8.1f} MiB")
    print(f"m x m Gram peer             {t_peer:8.3f} s  {mem_peer / 2**20:8.1f} MiB")
    reference = peer_cka_mxm(X.astype(np.float64), Y.astype(np.float64))
    print(
        f"ratio peer/ours: time {t_peer / t_ours:.1f}x, peak memory "
        f"{mem_peer / mem_ours:.1f}x; error vs float64 m x m: ours "
        f"{abs(ours - reference):.1e}, peer {abs(peer - reference):.1e}"
    )

    m = args.m_big
    print(f"\n== cka_mf peak memory: m={m}, p=128, C={args.classes}, float32")
    Phi_big, _, F_big = planted(m, 128, args.classes, rng)
    mem = peak_memory(lambda: cka_mf(Phi_big, F_big))
    print(
        f"cka_mf peak extra memory {mem / 2**20:.1f} MiB "
        f"(input {Phi_big.nbytes / 2**20:.1f} MiB; one m x m float32 array "
        f"would be {m * m * 4 / 2**30:.0f} GiB)"
    )


if __name__ == "__main__":
    main()
