#!/usr/bin/python3
"""PyTorch reference for svdd_bench: one workload in one process, one JSON line on stdout.

svdd_bench starts this script once per configuration (workload x threads x BLAS library), so that
the peak resident memory it reports belongs to that configuration alone, and so that the BLAS
library can be chosen with LD_LIBRARY_PATH before torch is imported.

The networks are the LeNet-type networks of Ruff et al. (ICML 2018) exactly as the Deep SVDD
reference implementation writes them, and the timing protocol is the same as svdd_bench's
(bench/bench_child.c): warm-up steps, then `repeats` timed runs of a fixed number of steps, the
median and the best images per second of those runs.

Usage (normally through svdd_bench):
    /usr/bin/python3 bench/torch_bench.py --task train-mnist-enc --threads 2 --seconds 4 --repeats 5
"""
import argparse
import json
import math
import os
import resource
import sys
import time


def proc_status_kb(field):
    """A 'VmRSS:'-style field of /proc/self/status in KiB (the same source svdd_bench reads)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def loaded_openblas():
    """The libopenblas file this process really mapped (LD_LIBRARY_PATH may or may not win)."""
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and "libopenblas" in parts[5]:
                return parts[5]
    return ""


def openblas_core(path):
    """OpenBLAS's own name for the kernel set it picked (OPENBLAS_CORETYPE can override it)."""
    if not path:
        return ""
    try:
        import ctypes

        lib = ctypes.CDLL(path)
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return ""


def build_networks(torch, nn, F, dataset):
    """Encoder and decoder modules of the reference networks (all layers without bias)."""

    class MnistEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 8, 5, bias=False, padding=2)
            self.bn1 = nn.BatchNorm2d(8, eps=1e-04, affine=False)
            self.conv2 = nn.Conv2d(8, 4, 5, bias=False, padding=2)
            self.bn2 = nn.BatchNorm2d(4, eps=1e-04, affine=False)
            self.pool = nn.MaxPool2d(2, 2)
            self.fc1 = nn.Linear(4 * 7 * 7, 32, bias=False)

        def forward(self, x):
            x = self.pool(F.leaky_relu(self.bn1(self.conv1(x))))
            x = self.pool(F.leaky_relu(self.bn2(self.conv2(x))))
            return self.fc1(x.view(x.size(0), -1))

    class MnistDecoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.deconv1 = nn.ConvTranspose2d(2, 4, 5, bias=False, padding=2)
            self.bn3 = nn.BatchNorm2d(4, eps=1e-04, affine=False)
            self.deconv2 = nn.ConvTranspose2d(4, 8, 5, bias=False, padding=3)
            self.bn4 = nn.BatchNorm2d(8, eps=1e-04, affine=False)
            self.deconv3 = nn.ConvTranspose2d(8, 1, 5, bias=False, padding=2)

        def forward(self, z):
            x = z.view(z.size(0), 2, 4, 4)
            x = F.interpolate(F.leaky_relu(x), scale_factor=2)
            x = F.interpolate(F.leaky_relu(self.bn3(self.deconv1(x))), scale_factor=2)
            x = F.interpolate(F.leaky_relu(self.bn4(self.deconv2(x))), scale_factor=2)
            return torch.sigmoid(self.deconv3(x))

    class CifarEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 32, 5, bias=False, padding=2)
            self.bn2d1 = nn.BatchNorm2d(32, eps=1e-04, affine=False)
            self.conv2 = nn.Conv2d(32, 64, 5, bias=False, padding=2)
            self.bn2d2 = nn.BatchNorm2d(64, eps=1e-04, affine=False)
            self.conv3 = nn.Conv2d(64, 128, 5, bias=False, padding=2)
            self.bn2d3 = nn.BatchNorm2d(128, eps=1e-04, affine=False)
            self.pool = nn.MaxPool2d(2, 2)
            self.fc1 = nn.Linear(128 * 4 * 4, 128, bias=False)

        def forward(self, x):
            x = self.pool(F.leaky_relu(self.bn2d1(self.conv1(x))))
            x = self.pool(F.leaky_relu(self.bn2d2(self.conv2(x))))
            x = self.pool(F.leaky_relu(self.bn2d3(self.conv3(x))))
            return self.fc1(x.view(x.size(0), -1))

    class CifarDecoder(nn.Module):
        # The reference autoencoder's BatchNorm1d on the code sits at the end of its encoder;
        # svdd's spec opens the decoder with it. The computation is the same.
        def __init__(self):
            super().__init__()
            self.bn1d = nn.BatchNorm1d(128, eps=1e-04, affine=False)
            self.deconv1 = nn.ConvTranspose2d(8, 128, 5, bias=False, padding=2)
            self.bn2d4 = nn.BatchNorm2d(128, eps=1e-04, affine=False)
            self.deconv2 = nn.ConvTranspose2d(128, 64, 5, bias=False, padding=2)
            self.bn2d5 = nn.BatchNorm2d(64, eps=1e-04, affine=False)
            self.deconv3 = nn.ConvTranspose2d(64, 32, 5, bias=False, padding=2)
            self.bn2d6 = nn.BatchNorm2d(32, eps=1e-04, affine=False)
            self.deconv4 = nn.ConvTranspose2d(32, 3, 5, bias=False, padding=2)

        def forward(self, z):
            x = self.bn1d(z).view(z.size(0), 8, 4, 4)
            x = F.leaky_relu(x)
            x = F.interpolate(F.leaky_relu(self.bn2d4(self.deconv1(x))), scale_factor=2)
            x = F.interpolate(F.leaky_relu(self.bn2d5(self.deconv2(x))), scale_factor=2)
            x = F.interpolate(F.leaky_relu(self.bn2d6(self.deconv3(x))), scale_factor=2)
            return torch.sigmoid(self.deconv4(x))

    if dataset == "mnist":
        return MnistEncoder(), MnistDecoder(), (1, 28, 28), 32
    return CifarEncoder(), CifarDecoder(), (3, 32, 32), 128


def measure(step, batch, seconds, repeats, warmup):
    """The protocol of bench_child.c's measure(): warm up for `warmup` seconds (at least two
    steps: the first allocates), size the timed runs from the fastest warm-up step, then time
    `repeats` runs of that many steps."""
    t_start = time.perf_counter()
    fastest = math.inf
    n_warm = 0
    while n_warm < 2 or time.perf_counter() - t_start < warmup:
        t = time.perf_counter()
        step()
        fastest = min(fastest, time.perf_counter() - t)
        n_warm += 1
    warm_seconds = time.perf_counter() - t_start
    steps = max(1, int(math.ceil(seconds / repeats / max(fastest, 1e-9))))
    rates = []
    cpu0 = time.process_time()  # CPU time of all threads, as bench_child.c's CLOCK_PROCESS_CPUTIME_ID
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(steps * batch / (time.perf_counter() - t))
    cpu = time.process_time() - cpu0
    ordered = sorted(rates)
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])
    return {"rate_median": median, "rate_best": max(rates), "rates": rates, "steps_per_repeat": steps,
            "warmup_steps": n_warm, "warmup_seconds": warm_seconds,
            "cpu_seconds_per_unit": cpu / (steps * repeats * batch)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", required=True,
                    help="train-{mnist,cifar}-{enc,ae}, score-mnist-b200, score-mnist-b1, score-cifar-b200")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=4.0, help="timed seconds, split over the repeats")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    parts = args.task.split("-")
    if len(parts) != 3 or parts[0] not in ("train", "score") or parts[1] not in ("mnist", "cifar"):
        ap.error("unknown task " + args.task)
    mode, dataset, what = parts
    if mode == "train" and what not in ("enc", "ae"):
        ap.error("unknown task " + args.task)
    if mode == "score" and not (what.startswith("b") and what[1:].isdigit() and int(what[1:]) >= 1):
        ap.error("unknown task " + args.task)
    batch = 200 if mode == "train" else int(what[1:])

    t_import = time.perf_counter()
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    t_import = time.perf_counter() - t_import
    # svdd_bench also sets OMP_NUM_THREADS and OPENBLAS_NUM_THREADS for this process, because
    # torch.set_num_threads does not reach a pthread OpenBLAS's own thread pool.
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    base_rss = proc_status_kb("VmRSS")

    enc, dec, shape, latent = build_networks(torch, nn, F, dataset)
    x = torch.rand((batch,) + shape)
    # A fixed centre with no coordinate near 0, as Deep SVDD's initialisation guarantees.
    c = torch.tensor([0.1 if j % 2 == 0 else -0.1 for j in range(latent)])
    losses = []

    if mode == "train" and what == "enc":
        enc.train()
        opt = torch.optim.Adam(enc.parameters(), lr=1e-4, weight_decay=0.5e-6)

        def step():
            z = enc(x)
            loss = torch.mean(torch.sum((z - c) ** 2, dim=1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    elif mode == "train":
        enc.train()
        dec.train()
        opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-4, weight_decay=0.5e-3)

        def step():
            y = dec(enc(x))
            loss = torch.mean(torch.sum((y - x) ** 2, dim=tuple(range(1, y.dim()))))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    else:
        enc.eval()

        def step():
            with torch.inference_mode():
                z = enc(x)
                dist = torch.sum((z - c) ** 2, dim=1)
            losses.append(float(dist[0]))

    res = measure(step, batch, args.seconds, args.repeats, args.warmup)
    blas = loaded_openblas()
    out = {
        "side": "torch",
        "task": args.task,
        "threads": args.threads,
        "batch": batch,
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        "blas": blas,
        "blas_core": openblas_core(blas),
        "import_seconds": t_import,
        "base_rss_kb": base_rss,
        "peak_rss_kb": proc_status_kb("VmHWM"),
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "first_value": losses[0],
        "last_value": losses[-1],
    }
    out.update(res)
    if not all(math.isfinite(v) for v in (losses[0], losses[-1])):
        print("torch_bench: non-finite loss", file=sys.stderr)
        return 1
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
