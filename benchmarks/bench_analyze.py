"""Whole-network analysis next to the forward pass it is built on.

``skfeat.torch.analyze`` of torchvision's ResNet-18 (random init, 10 classes)
on 2 000 images of 3x32x32 -- by default 1 600 for the training pass, 400
for the held-out pass (``--train-share``) -- with the default reductions and
layers (every leaf module that runs once: 44 layers), against one bare
``torch.no_grad`` forward in eval mode over the same 2 000 images (target: at
most 2x).  Peak memory is measured in child processes, each from its own
baseline after loading the model and the data: the extra resident memory of
the bare forward and of the analysis, beside the size of the analysis'
accumulators.

Needs torchvision (``pip install ".[test-vision]"``).  Run by hand:
``python benchmarks/bench_analyze.py [--n 2000] [--repeat 3] [--threads 1]``.
Timings are the best of ``--repeat`` interleaved runs; ratios compare timings
of this run.
"""

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits


def setup(n):
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    rng = np.random.default_rng(0)
    y = np.arange(n) % 10
    X = rng.normal(size=(n, 3, 32, 32)).astype(np.float32)
    X[:, 0, :8, :8] += y[:, None, None] / 3.0  # a little class signal
    return model, X, y


def bare(model, X, batch_size=256):
    tensor = torch.from_numpy(X)
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            model(tensor[start : start + batch_size])


TRAIN_SHARE = [0.8]


def run_analysis(model, X, y, **params):
    from skfeat.torch import analyze

    n_train = int(TRAIN_SHARE[0] * len(X))
    return analyze(
        model,
        X[:n_train],
        X[n_train:],
        y_train=y[:n_train],
        y_test=y[n_train:],
        as_frame=False,
        **params,
    )


def reset_peak():
    """Reset the kernel's peak resident size of this process (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def rss_bytes(field):
    """``VmRSS`` (now) or ``VmHWM`` (peak since the reset) of this process."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(kind, n):
    """Measure one contender's extra peak memory in a fresh process."""
    model, X, y = setup(n)
    bare(model, X[:256])  # warm-up: the allocator's and torch's first costs
    if kind == "analyze":
        run_analysis(model, X[:300], y[:300])  # imports and first calls
    reset_peak()
    baseline = rss_bytes("VmRSS")
    table = run_analysis(model, X, y) if kind == "analyze" else bare(model, X)
    extra = rss_bytes("VmHWM") - baseline
    report = {"extra": extra}
    if table is not None:
        # Spectrum (p^2) and geometry (p^2) accumulators, held-out (p+C+d)^2.
        report["accumulators"] = sum(
            8 * (2 * r["n_features"] ** 2 + (r["n_features"] + 20) ** 2) for r in table
        )
        report["layers"] = len(table)
        report["routes"] = sorted({r["route"] for r in table})
    print(json.dumps(report))


def measure_memory(kind, n, threads):
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            kind,
            "--n",
            str(n),
            "--threads",
            str(threads),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--train-share",
        type=float,
        default=0.8,
        help="share of the images in the training pass (the rest held out)",
    )
    parser.add_argument("--child", choices=["bare", "analyze"], default=None)
    args = parser.parse_args()
    TRAIN_SHARE[0] = args.train_share
    # One thread for torch and for numpy's BLAS alike (as bench_extractor):
    # the ratio then measures work, not two thread pools contending.
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        if args.child:
            child(args.child, args.n)
        else:
            compare(args)


def compare(args):
    model, X, y = setup(args.n)
    bare(model, X[:256])  # warm-up
    times = {"bare": [], "analyze": [], "spectrum only": []}
    for _ in range(args.repeat):
        for name, func in (
            ("bare", lambda: bare(model, X)),
            ("analyze", lambda: run_analysis(model, X, y)),
            ("spectrum only", lambda: run_analysis(model, X, y, geometry=False)),
        ):
            start = time.perf_counter()
            func()
            times[name].append(time.perf_counter() - start)
    t_bare, t_analyze = min(times["bare"]), min(times["analyze"])
    t_spectrum = min(times["spectrum only"])
    mem_bare = measure_memory("bare", args.n, args.threads)
    mem_analyze = measure_memory("analyze", args.n, args.threads)
    mib = 2.0**20
    print(
        f"torch {torch.__version__}, {args.threads} thread(s); "
        f"ResNet-18 on {args.n} images 3x32x32 ({args.train_share:.0%} in the "
        f"training pass), best of {args.repeat}"
    )
    print(f"  {'bare no_grad forward':40}{t_bare:8.2f} s   1.00x")
    print(
        f"  {'analyze, ' + str(mem_analyze['layers']) + ' layers (train+test)':40}"
        f"{t_analyze:8.2f} s   {t_analyze / t_bare:.2f}x   (target <= 2x)"
    )
    print(
        f"  {'analyze, geometry=False':40}{t_spectrum:8.2f} s   "
        f"{t_spectrum / t_bare:.2f}x"
    )
    print("peak extra resident memory (each in a fresh process)")
    print(f"  {'bare no_grad forward':40}{mem_bare['extra'] / mib:8.0f} MiB")
    print(f"  {'analyze':40}{mem_analyze['extra'] / mib:8.0f} MiB")
    print(
        f"  {'  of which the accumulators (sum p^2)':40}"
        f"{mem_analyze['accumulators'] / mib:8.0f} MiB   routes "
        f"{', '.join(mem_analyze['routes'])}"
    )
    features = 4 * args.n * 64 * 16 * 16  # conv1 alone, stored flattened
    print(f"  {'(storing conv1 flattened would take)':40}{features / mib:8.0f} MiB")


if __name__ == "__main__":
    main()
