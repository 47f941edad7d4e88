"""FeatureSpectrum on a GPU (torch CUDA, CuPy) against one GEMM on the same device.

Run by hand on a machine with a GPU: ``python benchmarks/bench_gpu.py``
(defaults n = m = 10^6, p = 2048 float32; about a minute on one H200, well
under 3 minutes).  Without a GPU, or with ``--dry-run``, it runs the same
script on torch CPU tensors at a small size, to prove it works.

For each device backend it times, best of ``--repeat`` after one warm-up and
with the device synchronised around every call (``torch.cuda.synchronize`` /
``cupy``'s stream ``synchronize``):

* ``X.T @ X``: one GEMM of the training shape (the reference, ratio 1);
* ``FeatureSpectrum().fit(X)`` under ``array_api_dispatch`` (target <= 1.5x);
* the small eigenproblem alone: float64 ``eigh`` of the ``p x p`` Gram on the
  device, and the no-float64 route (float32 ``eigh`` + one refinement step);
* ``transform`` and ``projection_measures`` (labels and outputs) of an
  evaluation sample of ``m`` rows (target: measures <= 3x one fit);
* the CPU path: numpy ``fit`` of the same data on the host (once).

It prints one table: time, ratio to the device GEMM and to the device fit.
"""

import argparse
import os
import time

os.environ.setdefault("SCIPY_ARRAY_API", "1")

import sklearn  # noqa: E402

from skfeat import FeatureSpectrum  # noqa: E402
from skfeat._eigh import device_eigh, refine_eigenpairs  # noqa: E402
from skfeat.utils._array_api import namespace_and_device  # noqa: E402


def torch_cuda():
    try:
        import torch

        return torch.cuda.is_available() and torch.ones(1, device="cuda").item() == 1
    except Exception:
        return False


def cupy_gpu():
    try:
        import cupy

        return float(cupy.ones(1).sum().get()) == 1.0
    except Exception:
        return False


class TorchBackend:
    def __init__(self, device):
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self.name = f"torch-{self.device.type}"

    def sync(self):
        if self.device.type == "cuda":
            self.torch.cuda.synchronize()

    def features(self, n, p, seed):
        torch = self.torch
        gen = torch.Generator(device=self.device).manual_seed(seed)
        X = torch.randn(n, p, generator=gen, device=self.device, dtype=torch.float32)
        decay = torch.logspace(0, -3, p, device=self.device, dtype=torch.float32)
        return X.mul_(decay).add_(0.1)

    def labels(self, m, classes, seed):
        gen = self.torch.Generator(device=self.device).manual_seed(seed)
        return self.torch.randint(0, classes, (m,), generator=gen, device=self.device)

    def to_numpy(self, X):
        return X.cpu().numpy()

    def free(self):
        if self.device.type == "cuda":
            self.torch.cuda.empty_cache()


class CupyBackend:
    name = "cupy"

    def __init__(self):
        import cupy

        self.cupy = cupy

    def sync(self):
        self.cupy.cuda.get_current_stream().synchronize()

    def features(self, n, p, seed):
        cp = self.cupy
        rng = cp.random.default_rng(seed)
        X = rng.standard_normal((n, p), dtype=cp.float32)
        X *= cp.logspace(0, -3, p, dtype=cp.float32)
        X += 0.1
        return X

    def labels(self, m, classes, seed):
        return self.cupy.random.default_rng(seed).integers(0, classes, m)

    def to_numpy(self, X):
        return X.get()

    def free(self):
        self.cupy.get_default_memory_pool().free_all_blocks()


def timed(backend, fn, repeat, warmup=1):
    """Best wall time of ``fn`` over ``repeat`` runs, the device synchronised."""
    for _ in range(warmup):
        fn()
    backend.sync()
    best = float("inf")
    for _ in range(repeat):
        backend.sync()
        start = time.perf_counter()
        fn()
        backend.sync()
        best = min(best, time.perf_counter() - start)
    return best


def bench_backend(backend, args):
    X = backend.features(args.n, args.p, 0)
    Y = backend.features(args.m, args.p, 1)
    y = backend.labels(args.m, args.classes, 2)
    outputs = backend.features(args.m, args.classes, 3)
    rows = {}
    with sklearn.config_context(array_api_dispatch=True):
        rows["X.T @ X (one GEMM)"] = timed(backend, lambda: X.T @ X, args.repeat)
        rows["fit"] = timed(backend, lambda: FeatureSpectrum().fit(X), args.repeat)
        spectrum = FeatureSpectrum().fit(X)
        G = (X.T @ X) / args.n
        xp, _ = namespace_and_device(G)
        G64 = xp.astype(G, xp.float64)
        rows["  eigh float64 p x p"] = timed(
            backend, lambda: device_eigh(G64), args.repeat
        )

        def float32_route():
            _, V = xp.linalg.eigh(G)
            refine_eigenpairs(G64, xp.astype(V, xp.float64))

        rows["  eigh float32 + refine"] = timed(backend, float32_route, args.repeat)
        rows["transform (m rows)"] = timed(
            backend, lambda: spectrum.transform(Y), args.repeat
        )
        rows["projection_measures (m)"] = timed(
            backend,
            lambda: spectrum.projection_measures(Y, y, outputs),
            args.repeat,
        )
    rows["transform + measures"] = (
        rows["transform (m rows)"] + rows["projection_measures (m)"]
    )
    if not args.skip_cpu:
        X_host = backend.to_numpy(X)
        del X, Y, y, outputs
        backend.free()
        start = time.perf_counter()
        FeatureSpectrum().fit(X_host)
        rows["CPU fit (numpy, host)"] = time.perf_counter() - start
    return rows


TARGETS = {"fit": ("/ GEMM", 1.5), "transform + measures": ("/ fit", 3.0)}


def print_table(name, rows):
    gemm = rows["X.T @ X (one GEMM)"]
    fit = rows["fit"]
    print(f"\n{name}")
    print(f"{'':28s} {'time [s]':>9s} {'/ GEMM':>8s} {'/ fit':>8s}  target")
    for label, t in rows.items():
        target = ""
        if label in TARGETS:
            unit, bound = TARGETS[label]
            ratio = t / gemm if unit == "/ GEMM" else t / fit
            verdict = "ok" if ratio <= bound else "MISSED"
            target = f"{unit} <= {bound} {verdict}"
        print(f"{label:28s} {t:9.4f} {t / gemm:8.2f} {t / fit:8.2f}  {target}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--p", type=int, default=2048)
    parser.add_argument("--m", type=int, default=1_000_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-cpu", action="store_true", help="no host fit")
    parser.add_argument(
        "--dry-run", action="store_true", help="torch CPU at a small size"
    )
    args = parser.parse_args()

    backends = []
    if not args.dry_run:
        if torch_cuda():
            backends.append(TorchBackend("cuda"))
        if cupy_gpu():
            backends.append(CupyBackend())
    if not backends:
        print("dry run: no GPU (or --dry-run); torch CPU tensors at a small size")
        args.n, args.p, args.m = min(args.n, 20_000), min(args.p, 256), 20_000
        backends.append(TorchBackend("cpu"))
    print(
        f"n={args.n} p={args.p} m={args.m} float32, best of {args.repeat} "
        "after a warm-up, device synchronised"
    )
    for backend in backends:
        rows = bench_backend(backend, args)
        backend.free()
        print_table(backend.name, rows)


if __name__ == "__main__":
    main()
