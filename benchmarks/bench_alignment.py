"""AGOP cost against one forward+backward pass over the same data.

Target (issue 7): the AGOP of the first layer of a 3-layer MLP (width 512) on
10 000 samples with 10 outputs costs at most 12x one forward+backward pass
(about one backward per output unit).  Peers measured in the same run:

* ``forward+backward``: the reference, ``model(X).sum().backward()`` per batch;
* ``skfeat.agop``: one ``autograd.grad`` per output per batch, ``K += g^T g``;
* ``skfeat.alignment_per_layer`` (3 layers at once, NFA + C-NFA);
* ``vmap(jacrev)``: per-sample input Jacobians with ``torch.func`` (the way the
  RFM / NFA reference code computes the AGOP), then ``J^T J``.

Run by hand: ``python benchmarks/bench_alignment.py [--n 10000] [--threads 1]``.
Each time is the best of ``--repeat`` runs (the machine is shared and noisy).
"""

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from skfeat.torch import agop, alignment_per_layer  # noqa: E402


def best_time(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def forward_backward(model, X, batch_size):
    for start in range(0, X.shape[0], batch_size):
        model.zero_grad(set_to_none=True)
        model(X[start : start + batch_size]).sum().backward()


def agop_vmap_jacrev(model, X, batch_size):
    """Per-sample Jacobians w.r.t. the input, batched with torch.func."""
    params = dict(model.named_parameters())

    def f(x):
        return torch.func.functional_call(model, params, (x[None],))[0]

    jacobian = torch.func.vmap(torch.func.jacrev(f))
    total = torch.zeros(X.shape[1], X.shape[1], dtype=torch.float64)
    for start in range(0, X.shape[0], batch_size):
        J = jacobian(X[start : start + batch_size])  # (b, C, d)
        J = J.reshape(-1, J.shape[-1])
        total += (J.T @ J).double()
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--d", type=int, default=784)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--outputs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(args.d, args.width),
        torch.nn.ReLU(),
        torch.nn.Linear(args.width, args.width),
        torch.nn.ReLU(),
        torch.nn.Linear(args.width, args.outputs),
    )
    init = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():  # stands for training, so that the C-NFA is defined
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    X = torch.randn(args.n, args.d)
    bs = args.batch_size
    print(
        f"MLP {args.d}-{args.width}-{args.width}-{args.outputs}, n={args.n}, "
        f"batch {bs}, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )

    t_ref, _ = best_time(lambda: forward_backward(model, X, bs), args.repeat)
    rows = [("forward+backward (reference)", t_ref)]
    t_agop, G = best_time(lambda: agop(model, X, "0", batch_size=bs), args.repeat)
    rows.append(("skfeat.agop, first layer", t_agop))
    t_all, _ = best_time(
        lambda: alignment_per_layer(
            model, X, ["0", "2", "4"], init_state=init, batch_size=bs
        ),
        args.repeat,
    )
    rows.append(("skfeat.alignment_per_layer, 3 layers", t_all))
    t_jac, G_jac = best_time(lambda: agop_vmap_jacrev(model, X, bs), args.repeat)
    rows.append(("vmap(jacrev) input Jacobians", t_jac))
    error = (torch.from_numpy(G) - G_jac).abs().max() / G_jac.abs().max()

    print(f"{'method':<40}{'seconds':>10}{'x fwd+bwd':>12}")
    for name, seconds in rows:
        print(f"{name:<40}{seconds:>10.3f}{seconds / t_ref:>12.2f}")
    print(f"agop vs vmap(jacrev): max relative difference {error:.1e}")
    ratio = t_agop / t_ref
    verdict = "meets" if ratio <= 12 else "misses"
    print(f"AGOP / forward+backward = {ratio:.2f} ({verdict} the <= 12x target)")


if __name__ == "__main__":
    main()
