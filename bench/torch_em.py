#!/usr/bin/python3
"""PyTorch side of e2ebench: the Euler–Maruyama posterior loop of lenscore.

Loads the files e2ebench writes into --dir: e2e.json (parameter shapes, data
sizes, σ_n, the VE schedule), params.bin (lenscore's network parameters,
float32, in score.Net.Params() order), problem.bin (the lensing matrix A as
CSR: int64 row pointers, int32 column indices, float64 values; then y). The
network is torch_ncsnpp.NCSNpp with those weights. With
torch.set_num_threads(2) it times, at --batch B:

  * em: --steps steps of Euler–Maruyama on the uniform t grid of the VE SDE
    σ(t) = σ_min (σ_max/σ_min)^t, t from 1 to eps, as lenscore's sampler:
    s = ε_θ(x, σ)/σ + Aᵀ(y − A x)/(σ_n² + σ²), x ← x + g²Δt s + g√Δt z
    (no noise on the last step), the network in float32 and the likelihood
    in float64 with sparse CSR products, under torch.inference_mode; in the
    eager and eager channels_last execution variants (the faster is
    reported: at batch ≥ 16 they were PyTorch's fastest forward in netbench);
  * fwd: one forward pass of the batch (inference mode);
  * fwd_vjp: a forward pass with x requiring a gradient and
    torch.autograd.grad(ε, x, v) — the input-gradient back-propagation of
    lenscore's projected-jacobian likelihood (no parameter gradients).

Times are medians over --reps repetitions after one warm-up; the result is
one JSON object on stdout, progress on stderr.
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_ncsnpp import NCSNpp, go_order  # noqa: E402


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def load(d):
    hdr = json.load(open(os.path.join(d, "e2e.json")))
    raw = np.fromfile(os.path.join(d, "params.bin"), dtype="<f4")
    model = NCSNpp()
    ps = go_order(model)
    if len(ps) != len(hdr["params"]):
        sys.exit(f"torch_em: {len(ps)} parameter tensors, lenscore has {len(hdr['params'])}")
    off = 0
    with torch.no_grad():
        for p, info in zip(ps, hdr["params"]):
            n = int(np.prod(info["shape"]))
            if p.numel() != n:
                sys.exit(f"torch_em: {info['name']} has {n} values in lenscore, {p.numel()} here")
            p.copy_(torch.from_numpy(raw[off:off + n].copy()).reshape(p.shape))
            off += n
    if off != raw.size:
        sys.exit(f"torch_em: params.bin has {raw.size} values, the network {off}")
    dim, nnz = hdr["dim"], hdr["nnz"]
    b = open(os.path.join(d, "problem.bin"), "rb").read()
    o = 0
    indptr = np.frombuffer(b, "<i8", dim + 1, o); o += 8 * (dim + 1)
    indices = np.frombuffer(b, "<i4", nnz, o); o += 4 * nnz
    values = np.frombuffer(b, "<f8", nnz, o); o += 8 * nnz
    y = np.frombuffer(b, "<f8", dim, o); o += 8 * dim
    if o != len(b):
        sys.exit("torch_em: problem.bin has trailing bytes")
    a = torch.sparse_csr_tensor(torch.from_numpy(indptr.copy()), torch.from_numpy(indices.astype(np.int64)),
                                torch.from_numpy(values.copy()), size=(dim, dim))
    at = a.to_sparse_coo().t().coalesce().to_sparse_csr()
    return hdr, model, a, at, torch.from_numpy(y.copy())


def em_loop(model, a, at, y, hdr, batch, steps, channels_last, seed):
    side, dim = hdr["side"], hdr["dim"]
    smin, smax, eps, sn = hdr["sigma_min"], hdr["sigma_max"], hdr["eps"], hdr["sigma_n"]
    g = torch.Generator().manual_seed(seed)
    ts = [1 + (eps - 1) * i / steps for i in range(steps + 1)]
    lr = math.log(smax / smin)
    x = smax * torch.randn(dim, batch, generator=g, dtype=torch.float64)  # columns are chains
    yc = y[:, None]
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    for i in range(steps):
        t, tn = ts[i], ts[i + 1]
        sig = smin * (smax / smin) ** t
        xi = x.t().to(torch.float32).reshape(batch, 1, side, side).contiguous(memory_format=fmt)
        e = model(xi, torch.full((batch,), sig, dtype=torch.float32))
        sp = e.reshape(batch, dim).t().to(torch.float64) / sig
        r = yc - a @ x
        sl = (at @ r) / (sn * sn + sig * sig)
        g2dt = 2 * lr * sig * sig * (t - tn)
        x = x + g2dt * (sp + sl)
        if i < steps - 1:
            x = x + math.sqrt(g2dt) * torch.randn(dim, batch, generator=g, dtype=torch.float64)
    return x


def med(fn, reps):
    fn()  # warm-up
    ts, cs = [], []
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
        cs.append((time.process_time() - c0) * 1e3)
    return statistics.median(ts), statistics.median(cs), ts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True, help="folder with e2e.json, params.bin and problem.bin (written by e2ebench)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    hdr, model, a, at, y = load(args.dir)
    model.eval()
    b, side = args.batch, hdr["side"]
    out = {"torch_version": torch.__version__, "threads": torch.get_num_threads(),
           "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(default)"), "batch": b, "steps": args.steps,
           "reps": args.reps, "em_variants_ms": {}}

    best = None
    for name, cl in (("eager", False), ("eager_channels_last", True)):
        m = model.to(memory_format=torch.channels_last if cl else torch.contiguous_format)
        seed = [0]

        def run():
            seed[0] += 1
            with torch.inference_mode():
                em_loop(m, a, at, y, hdr, b, args.steps, cl, seed[0])
        ms, cpu, samples = med(run, args.reps)
        per, cpu_per = ms / args.steps, cpu / args.steps
        out["em_variants_ms"][name] = per
        log(f"em step b{b} {name:22s} {per:9.1f} ms (cpu {cpu_per:9.1f} ms)")
        if best is None or per < best[1]:
            best = (name, per, cpu_per, [s / args.steps for s in samples])
    model.to(memory_format=torch.contiguous_format)
    out["em_variant"], out["em_step_ms"], out["cpu_em_step_ms"], out["em_step_samples"] = best

    g = torch.Generator().manual_seed(3)
    x = 0.3 + 0.1 * torch.randn(b, 1, side, side, generator=g)
    v = torch.randn(b, 1, side, side, generator=g)
    sig = torch.full((b,), 0.1)
    if best[0] == "eager_channels_last":
        model.to(memory_format=torch.channels_last)
        x, v = x.contiguous(memory_format=torch.channels_last), v.contiguous(memory_format=torch.channels_last)
    for p in model.parameters():
        p.requires_grad_(False)

    def fwd():
        with torch.inference_mode():
            model(x, sig)

    def fwd_vjp():
        xi = x.detach().requires_grad_(True)
        e = model(xi, sig)
        torch.autograd.grad(e, xi, v)
    out["fwd_ms"], out["cpu_fwd_ms"], _ = med(fwd, args.reps)
    out["fwd_vjp_ms"], out["cpu_fwd_vjp_ms"], _ = med(fwd_vjp, args.reps)
    out["fwd_variant"] = best[0]
    log(f"forward b{b} {out['fwd_ms']:9.1f} ms, forward+VJP {out['fwd_vjp_ms']:9.1f} ms ({best[0]})")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
