"""Training throughput of `nn` against a hand-written NumPy loop and PyTorch (CPU), side by side.

    python -m benchmarks.train_throughput [--batches 300] [--rounds 5]

PyTorch gets as many threads as NumPy's BLAS: every core, or OPENBLAS_NUM_THREADS when set
(``OPENBLAS_NUM_THREADS=1 python -m benchmarks.train_throughput`` compares one core with one core).
While other processes keep the machine busy, add ``--clock cpu`` to one thread: each contender is
then timed by the CPU time it used, so waiting for its turn on a core no longer counts (cache and
memory traffic from the others still does).

All three train the same MLP (784-256-128-10, ReLU, He init, Adam lr 1e-3, softmax
cross-entropy, batch 128) on the same batches of the bundled MNIST sample. The contenders run in
interleaved rounds (a, b, c, then b, c, a, ...: each goes first in turn, straight after the
matmul-peak measurement) so that load from other processes on a shared machine hits them alike.
Each contender's best round is reported (the run least disturbed by other processes: on a
shared machine, disturbance only ever slows a run down), with the median beside it, as samples
per second and as ratios. The ratios are also taken round by round (contenders that ran
seconds apart, under much the same load) and their median reported: the steadiest comparison on a
busy machine.
The machine's float32 matrix-multiply peak is measured in the same run, and the fraction of it
that `nn` reaches is reported. PyTorch is optional: it is skipped when not installed.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np

from nn.data import load_mnist_sample
from nn.model import MLP, ModelConfig
from nn.optim import Adam
from nn.train import Trainer, TrainConfig

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = CLOCKS["wall"]          # what every contender (and the matmul peak) is timed with; --clock sets it

SIZES = (784, 256, 128, 10)
BATCH = 128
LR = 1e-3
# multiply-adds per sample, x2 for FLOPs: forward all layers, backward dW all layers,
# backward dx all layers but the first (its input is the data)
MACS = [a * b for a, b in zip(SIZES[:-1], SIZES[1:])]
FLOP_PER_SAMPLE = 2 * (sum(MACS) + sum(MACS) + sum(MACS[1:]))


def batches(x, y, n_batches, seed=0):
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_batches, BATCH))
    return [(x[i], y[i]) for i in idx]


def run_nn_trainer(data, n_batches):
    """`nn` as a user runs it: the Trainer (shuffling, history, gradient norms, divergence checks)."""
    x, y = data
    model = MLP(ModelConfig(784, SIZES[1:-1], 10), seed=0)
    t = Trainer(model, x, y, config=TrainConfig(epochs=10_000, batch_size=BATCH, lr=LR, seed=0))
    t.step(5)                                            # warm-up
    seen = t.samples_seen
    start = clock()
    t.step(n_batches)
    # samples actually trained: the last batch of each epoch is shorter than BATCH
    return (t.samples_seen - seen) / (clock() - start)


def run_nn_bare(batch_list):
    """`nn` without the Trainer: model.train_step + optimizer.step on the given batches."""
    model = MLP(ModelConfig(784, SIZES[1:-1], 10), seed=0)
    opt = Adam(LR)
    params, grads = model.params(), model.grads()
    for xb, yb in batch_list[:5]:
        model.train_step(xb, yb)
        opt.step(params, grads)
    start = clock()
    for xb, yb in batch_list:
        model.train_step(xb, yb)
        opt.step(params, grads)
    return len(batch_list) * BATCH / (clock() - start)


def run_handwritten(batch_list):
    """The smallest honest NumPy loop: no classes, no abstraction, the same maths."""
    rng = np.random.default_rng(0)
    Ws = [(rng.standard_normal((a, b)) * np.sqrt(2 / a)).astype(np.float32)
          for a, b in zip(SIZES[:-1], SIZES[1:])]
    bs = [np.zeros(b, np.float32) for b in SIZES[1:]]
    params = Ws + bs
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2, eps = 0.9, 0.999, 1e-8

    def step(t, xb, yb):
        h1 = np.maximum(xb @ Ws[0] + bs[0], 0)
        h2 = np.maximum(h1 @ Ws[1] + bs[1], 0)
        s = h2 @ Ws[2] + bs[2]
        s -= s.max(axis=1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(yb)), yb] -= 1
        ds = p / len(yb)
        dW3 = h2.T @ ds
        dh2 = (ds @ Ws[2].T) * (h2 > 0)
        dW2 = h1.T @ dh2
        dh1 = (dh2 @ Ws[1].T) * (h1 > 0)
        dW1 = xb.T @ dh1
        grads = [dW1, dW2, dW3, dh1.sum(0), dh2.sum(0), ds.sum(0)]
        lr_t = LR * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        for i, g in enumerate(grads):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            params[i] -= (lr_t * m[i] / (np.sqrt(v[i]) + eps)).astype(np.float32)
            # keep the lists pointing at the updated arrays
        Ws[:], bs[:] = params[:3], params[3:]

    for t, (xb, yb) in enumerate(batch_list[:5], 1):
        step(t, xb, yb)
    start = clock()
    for t, (xb, yb) in enumerate(batch_list, 6):
        step(t, xb, yb)
    return len(batch_list) * BATCH / (clock() - start)


def run_torch(batch_list):
    import torch
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                              torch.nn.ReLU(), torch.nn.Linear(128, 10))
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    tb = [(torch.from_numpy(xb), torch.from_numpy(yb)) for xb, yb in batch_list]

    def step(xb, yb):
        opt.zero_grad(set_to_none=True)
        loss_fn(net(xb), yb).backward()
        opt.step()

    for xb, yb in tb[:5]:
        step(xb, yb)
    start = clock()
    for xb, yb in tb:
        step(xb, yb)
    return len(tb) * BATCH / (clock() - start)


def blas_threads() -> int:
    """The threads NumPy's OpenBLAS uses: OPENBLAS_NUM_THREADS when set, else one per core."""
    return int(os.environ.get("OPENBLAS_NUM_THREADS") or os.cpu_count())


def matmul_peak(n=1024, repeats=20):
    """Best float32 GFLOP/s of a square matrix multiply: this machine's practical peak."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        a @ b
        best = min(best, clock() - start)
    return 2 * n ** 3 / best / 1e9


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batches", type=int, default=300)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--clock", choices=CLOCKS, default="wall",
                   help="wall time, or this process's CPU time (meant for OPENBLAS_NUM_THREADS=1)")
    args = p.parse_args()
    global clock
    clock = CLOCKS[args.clock]
    data = load_mnist_sample()
    x, y = data.x_train, data.y_train
    batch_list = batches(x, y, args.batches)
    try:
        import torch
        torch.set_num_threads(blas_threads())
        contenders = {"torch": lambda: run_torch(batch_list)}
    except ImportError:
        torch, contenders = None, {}
    contenders = {"nn_trainer": lambda: run_nn_trainer((x, y), args.batches),
                  "nn_bare": lambda: run_nn_bare(batch_list),
                  "handwritten": lambda: run_handwritten(batch_list), **contenders}
    results = {name: [] for name in contenders}
    peaks = []
    for r in range(args.rounds):
        peaks.append(matmul_peak())
        names = list(contenders)
        for name in names[r % len(names):] + names[:r % len(names)]:   # each goes first in turn
            results[name].append(contenders[name]())
        print(f"round {r + 1}/{args.rounds}: " +
              ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in results.items()), flush=True)
    best = {k: max(v) for k, v in results.items()}
    med = {k: statistics.median(v) for k, v in results.items()}
    peak = max(peaks)

    def paired(a, b):
        """The median over rounds of a's rate over b's in the same round."""
        return round(statistics.median(x / y for x, y in zip(results[a], results[b])), 3)

    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {blas_threads()} threads, {platform.python_version()}, numpy {np.__version__}"
                   + (f", torch {torch.__version__}" if torch else ""),
        "model": "784-256-128-10 ReLU, Adam, batch 128", "batches_per_round": args.batches,
        "clock": args.clock,
        "samples_per_sec_best": {k: round(v) for k, v in best.items()},
        "samples_per_sec_median": {k: round(v) for k, v in med.items()},
        "ratio_nn_trainer_vs_handwritten": round(best["nn_trainer"] / best["handwritten"], 3),
        "ratio_nn_bare_vs_handwritten": round(best["nn_bare"] / best["handwritten"], 3),
        "ratio_nn_trainer_vs_nn_bare": round(best["nn_trainer"] / best["nn_bare"], 3),
        "ratio_nn_trainer_vs_nn_bare_median_of_rounds": paired("nn_trainer", "nn_bare"),
        "matmul_peak_gflops": round(peak, 1),
        "flop_per_sample": FLOP_PER_SAMPLE,
        "nn_gflops": round(best["nn_trainer"] * FLOP_PER_SAMPLE / 1e9, 1),
        "nn_fraction_of_peak": round(best["nn_trainer"] * FLOP_PER_SAMPLE / 1e9 / peak, 3),
        "nn_fraction_of_peak_median": round(med["nn_trainer"] * FLOP_PER_SAMPLE / 1e9 / statistics.median(peaks), 3),
    }
    if "torch" in best:
        report["ratio_nn_trainer_vs_torch"] = round(best["nn_trainer"] / best["torch"], 3)
        report["ratio_nn_bare_vs_torch"] = round(best["nn_bare"] / best["torch"], 3)
        report["ratio_nn_trainer_vs_torch_median_of_rounds"] = paired("nn_trainer", "torch")
        report["ratio_nn_bare_vs_torch_median_of_rounds"] = paired("nn_bare", "torch")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
