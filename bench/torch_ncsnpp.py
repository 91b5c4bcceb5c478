#!/usr/bin/python3
"""PyTorch twin of lenscore's score.Net, for the netbench side-by-side benchmark.

The network mirrors package score (score/doc.go, score/net.go, nn/*.go) layer
for layer: Gaussian Fourier features of log σ (NF frequencies, scale 16) →
Dense(2NF→4NF) → SiLU → Dense(4NF→4NF) → SiLU = t; Conv3×3 in; BigGAN-style
residual blocks (GroupNorm+SiLU → Conv3×3 → + Dense(t) per channel →
GroupNorm+SiLU → Conv3×3, 1×1 skip when the width changes, sum/√2);
single-head pixel attention (GroupNorm, one 3C×C projection, softmax(qᵀk/√C),
output projection, residual/√2); 3×3 stride-2 convolutions down, nearest×2 +
Conv3×3 up; every down-path output is a skip concatenated [h; skip] in the up
path; GroupNorm+SiLU → Conv3×3 out. GroupNorm uses min(C/4, 32) groups and
ε = 1e-6. The output is ε_θ(x, σ) (no division by σ).

It times, on the CPU with torch.set_num_threads(2):
  * forward at batch 1 and 32 under torch.inference_mode, for several
    execution variants (eager NCHW, eager channels_last, TorchScript
    trace+freeze, trace+freeze+optimize_for_inference), reporting each and the
    fastest;
  * one training step at batch 16 (zero_grad, forward, DSM loss
    mean((ε+z)²), backward, Adam step), for eager NCHW / channels_last and
    Adam with and without foreach.
Timings are medians over --reps repetitions after warm-up. The result is one
JSON object on stdout; progress goes to stderr.

Run with Debian's interpreter (it has torch 1.13):
  LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 OMP_NUM_THREADS=2 \
      /usr/bin/python3 bench/torch_ncsnpp.py --reps 5
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as tnn
import torch.nn.functional as F


def groups(c):
    return max(1, min(c // 4, 32))


def default_init(w, fan_in, fan_out, scale):
    """NCSN++ default_init: variance scaling, fan_avg, uniform; scale 0 → 1e-10."""
    if scale == 0:
        scale = 1e-10
    a = math.sqrt(3 * scale / ((fan_in + fan_out) / 2))
    with torch.no_grad():
        w.uniform_(-a, a)


def conv(cin, cout, k=3, stride=1, pad=1, scale=1.0):
    c = tnn.Conv2d(cin, cout, k, stride=stride, padding=pad)
    default_init(c.weight, cin * k * k, cout * k * k, scale)
    tnn.init.zeros_(c.bias)
    return c


def linear(cin, cout, scale=1.0):
    l = tnn.Linear(cin, cout)
    default_init(l.weight, cin, cout, scale)
    tnn.init.zeros_(l.bias)
    return l


def gn(c):
    return tnn.GroupNorm(groups(c), c, eps=1e-6)


SQRT1_2 = 1 / math.sqrt(2)


class ResBlock(tnn.Module):
    def __init__(self, cin, cout, tdim):
        super().__init__()
        self.norm0 = gn(cin)
        self.conv0 = conv(cin, cout)
        self.dense = linear(tdim, cout)
        self.norm1 = gn(cout)
        self.conv1 = conv(cout, cout, scale=0)
        self.skip = conv(cin, cout, k=1, pad=0) if cin != cout else None

    def forward(self, x, t):
        h = self.conv0(F.silu(self.norm0(x)))
        h = h + self.dense(t)[:, :, None, None]
        h = self.conv1(F.silu(self.norm1(h)))
        s = x if self.skip is None else self.skip(x)
        return (s + h) * SQRT1_2


class AttnBlock(tnn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.norm = gn(c)
        self.qkv = conv(c, 3 * c, k=1, pad=0)  # [3C, C] weight, one GEMM
        # lenscore initialises q, k, v blocks separately with fan (C, C).
        for p in range(3):
            default_init(self.qkv.weight[p * c:(p + 1) * c], c, c, 1.0)
        self.out = conv(c, c, k=1, pad=0)
        default_init(self.out.weight, c, c, 0)

    def forward(self, x):
        b, c, hh, ww = x.shape
        qkv = self.qkv(self.norm(x)).reshape(b, 3, c, hh * ww)
        q, k, v = qkv[:, 0], qkv[:, 1], qkv[:, 2]
        a = torch.softmax(torch.bmm(q.transpose(1, 2), k) * (c ** -0.5), dim=-1)  # [b, P, P]
        o = torch.bmm(v, a.transpose(1, 2)).reshape(b, c, hh, ww)
        return (x + self.out(o)) * SQRT1_2


class Upsample(tnn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = conv(c, c)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class NCSNpp(tnn.Module):
    def __init__(self, image_size=64, channels=1, nf=32, ch_mult=(1, 2, 2, 2), num_res_blocks=2,
                 attn_resolutions=(16, 8), fourier_scale=16.0):
        super().__init__()
        self.image_size = image_size
        td = 4 * nf
        # Fixed frequencies: a Parameter so it is counted (lenscore counts it),
        # but never trained.
        self.fourier_w = tnn.Parameter(torch.randn(nf) * fourier_scale, requires_grad=False)
        self.dense0 = linear(2 * nf, td)
        self.dense1 = linear(td, td)
        self.conv_in = conv(channels, nf)

        # Down path: a list of units; each unit's output is a skip tensor.
        self.down = tnn.ModuleList()
        self.down_kind = []  # "res", "resattn" or "down"
        hs_c = [nf]
        res, cin = image_size, nf
        for i, m in enumerate(ch_mult):
            for _ in range(num_res_blocks):
                cout = nf * m
                unit = tnn.ModuleList([ResBlock(cin, cout, td)])
                cin = cout
                if res in attn_resolutions:
                    unit.append(AttnBlock(cin))
                self.down.append(unit)
                self.down_kind.append("res")
                hs_c.append(cin)
            if i != len(ch_mult) - 1:
                self.down.append(tnn.ModuleList([conv(cin, cin, stride=2)]))
                self.down_kind.append("down")
                res //= 2
                hs_c.append(cin)
        self.mid0 = ResBlock(cin, cin, td)
        self.mid_attn = AttnBlock(cin)
        self.mid1 = ResBlock(cin, cin, td)

        # Up path: each unit concatenates one skip, runs one ResBlock, and the
        # last unit of a level also runs attention and/or the up-sampler.
        self.up_res = tnn.ModuleList()
        self.up_extra = tnn.ModuleList()  # per unit: attention/upsample modules after the ResBlock
        for i in reversed(range(len(ch_mult))):
            for r in range(num_res_blocks + 1):
                sc = hs_c.pop()
                cout = nf * ch_mult[i]
                self.up_res.append(ResBlock(cin + sc, cout, td))
                cin = cout
                extra = tnn.ModuleList()
                if r == num_res_blocks:
                    if res in attn_resolutions:
                        extra.append(AttnBlock(cin))
                    if i != 0:
                        extra.append(Upsample(cin))
                self.up_extra.append(extra)
            if i != 0:
                res *= 2
        assert not hs_c
        self.out_norm = gn(cin)
        self.out_conv = conv(cin, channels, scale=0)

    def forward(self, x, sigma):
        s = torch.log(sigma)[:, None] * self.fourier_w[None, :] * (2 * math.pi)
        t = torch.cat([torch.sin(s), torch.cos(s)], dim=1)
        t = F.silu(self.dense1(F.silu(self.dense0(t))))
        h = self.conv_in(x)
        hs = [h]
        for unit in self.down:
            for j, b in enumerate(unit):
                h = b(h, t) if isinstance(b, ResBlock) else b(h)
            hs.append(h)
        h = self.mid1(self.mid_attn(self.mid0(h, t)), t)
        for res_block, extra in zip(self.up_res, self.up_extra):
            h = res_block(torch.cat([h, hs.pop()], dim=1), t)
            for b in extra:
                h = b(h)
        return self.out_conv(F.silu(self.out_norm(h)))


def num_params(model):
    return sum(p.numel() for p in model.parameters())


def median_ms(fn, reps, warmup):
    """Median wall-clock and process-CPU milliseconds of fn over reps calls."""
    for _ in range(warmup):
        fn()
    ts, cs = [], []
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
        cs.append((time.process_time() - c0) * 1e3)
    return statistics.median(ts), statistics.median(cs), min(ts)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def forward_variants(model, batch, names):
    """Yields (name, callable) for the forward-pass execution variants."""
    g = torch.Generator().manual_seed(batch)
    sz = model.image_size
    x = torch.randn(batch, 1, sz, sz, generator=g)
    sig = 0.01 + torch.rand(batch, generator=g)
    for name in names:
        if name == "eager":
            yield name, (lambda m=model, x=x: m(x, sig))
        elif name == "eager_channels_last":
            m = model.to(memory_format=torch.channels_last)
            xc = x.contiguous(memory_format=torch.channels_last)
            yield name, (lambda m=m, xc=xc: m(xc, sig))
            model.to(memory_format=torch.contiguous_format)
        elif name in ("jit_freeze", "jit_freeze_ofi", "jit_freeze_ofi_channels_last"):
            cl = name.endswith("channels_last")
            m = model.to(memory_format=torch.channels_last) if cl else model
            xi = x.contiguous(memory_format=torch.channels_last) if cl else x
            with torch.inference_mode(False), torch.no_grad():
                tr = torch.jit.trace(m, (xi, sig), check_trace=False)
                fr = torch.jit.freeze(tr.eval())
                if "ofi" in name:
                    fr = torch.jit.optimize_for_inference(fr)
            yield name, (lambda fr=fr, xi=xi: fr(xi, sig))
            if cl:
                model.to(memory_format=torch.contiguous_format)
        else:
            raise ValueError(name)


def train_step_fn(model, batch, channels_last, foreach):
    g = torch.Generator().manual_seed(100 + batch)
    sz = model.image_size
    x0 = torch.randn(batch, 1, sz, sz, generator=g)
    z = torch.randn(batch, 1, sz, sz, generator=g)
    sig = 0.01 + torch.rand(batch, generator=g)
    x = x0 + sig[:, None, None, None] * z
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-4, foreach=foreach)

    def step():
        opt.zero_grad(set_to_none=False)
        eps = model(x, sig)
        loss = ((eps + z) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    return step


FWD_VARIANTS = ["eager", "eager_channels_last", "jit_freeze", "jit_freeze_ofi", "jit_freeze_ofi_channels_last"]
TRAIN_VARIANTS = [("eager", False, False), ("eager", False, True),
                  ("eager_channels_last", True, False), ("eager_channels_last", True, True)]


def go_order(model):
    """The parameters in the order of lenscore's score.Net.Params()."""
    mods = [model.dense0, model.dense1, model.conv_in, *model.down, model.mid0, model.mid_attn, model.mid1]
    for r, e in zip(model.up_res, model.up_extra):
        mods += [r, e]
    mods += [model.out_norm, model.out_conv]
    return [model.fourier_w] + [p for m in mods for p in m.parameters()]


def check(prefix):
    """Loads lenscore's parameters, input and output written by netbench -check
    (prefix.json, prefix.bin), runs this network in float64 and prints the
    relative error of lenscore's output."""
    import numpy as np
    hdr = json.load(open(prefix + ".json"))
    raw = np.fromfile(prefix + ".bin", dtype="<f4")
    model = NCSNpp().double()
    ps = go_order(model)
    if len(ps) != len(hdr["params"]):
        sys.exit(f"torch_ncsnpp: {len(ps)} parameter tensors, lenscore has {len(hdr['params'])}")
    off = 0
    with torch.no_grad():
        for p, info in zip(ps, hdr["params"]):
            n = int(np.prod(info["shape"]))
            if p.numel() != n:
                sys.exit(f"torch_ncsnpp: {info['name']} has {n} values in lenscore, {p.numel()} here {tuple(p.shape)}")
            p.copy_(torch.from_numpy(raw[off:off + n].astype(np.float64)).reshape(p.shape))
            off += n
    b, sz = hdr["batch"], hdr["size"]
    x = torch.from_numpy(raw[off:off + b * sz * sz].astype(np.float64)).reshape(b, 1, sz, sz)
    off += b * sz * sz
    sig = torch.from_numpy(raw[off:off + b].astype(np.float64))
    off += b
    eps_go = torch.from_numpy(raw[off:off + b * sz * sz].astype(np.float64)).reshape(b, 1, sz, sz)
    with torch.no_grad():
        eps = model(x, sig)
    rel = float((eps - eps_go).norm() / eps.norm())
    mx = float((eps - eps_go).abs().max())
    print(f"max|Δε| {mx:.3g}, ‖Δε‖/‖ε‖ {rel:.3g} over {b} images (PyTorch float64 vs lenscore float32, shared weights)")
    if not rel < 1e-4:
        sys.exit(f"torch_ncsnpp: networks differ: relative error {rel:.3g}")


def measure(fn, reps, warm):
    with torch.inference_mode():
        return median_ms(fn, reps, warm)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=5, help="timed repetitions per measurement (median reported)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed calls before timing")
    ap.add_argument("--quick", action="store_true", help="only the usual winners")
    ap.add_argument("--expect-params", type=int, default=0, help="assert this parameter count (lenscore's)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fwd-variants", default="", help="comma list overriding the forward variants")
    ap.add_argument("--params-only", action="store_true", help="print the parameter count and exit")
    ap.add_argument("--check", default="", help="compare with lenscore's output (prefix of netbench's files)")
    ap.add_argument("--only", default="fwd1,fwd32,train", help="comma list of measurements: fwdB for B in --fwd-batches, train")
    ap.add_argument("--config", default="", help="lenscore network configuration as JSON (score.Config; default: the 64×64 default)")
    ap.add_argument("--fwd-batches", default="1,32", help="comma list of forward batch sizes")
    ap.add_argument("--train-batches", default="16", help="comma list of training-step batch sizes")
    ap.add_argument("--train-variants", default="", help="comma list overriding the training variants (eager, eager_channels_last, with _adam_foreach)")
    ap.add_argument("--exact-reps", action="store_true", help="use --reps and --warmup as given for every measurement")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    if args.check:
        check(args.check)
        return
    cfg = json.loads(args.config) if args.config else {}
    model = NCSNpp(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in cfg.items()
                      if k in ("image_size", "channels", "nf", "ch_mult", "num_res_blocks", "attn_resolutions", "fourier_scale")})
    n = num_params(model)
    if args.params_only:
        print(json.dumps({"params": n}))
        return
    if args.expect_params and n != args.expect_params:
        sys.exit(f"torch_ncsnpp: parameter count {n} != lenscore's {args.expect_params}")

    fwd_names = FWD_VARIANTS
    train_variants = TRAIN_VARIANTS
    if args.quick:
        fwd_names = ["eager", "jit_freeze_ofi"]
        train_variants = [("eager", False, False), ("eager_channels_last", True, False)]
    if args.fwd_variants:
        fwd_names = args.fwd_variants.split(",")
    if args.train_variants:
        train_variants = [(v.replace("_adam_foreach", ""), v.startswith("eager_channels_last"), v.endswith("_adam_foreach"))
                          for v in args.train_variants.split(",")]
    fwd_batches = [int(b) for b in args.fwd_batches.split(",")]
    train_batches = [int(b) for b in args.train_batches.split(",")]

    out = {
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(default)"),
        "ld_preload": os.environ.get("LD_PRELOAD", ""),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "params": n,
        "reps": args.reps,
        "warmup": args.warmup,
        "forward": {},
        "train": {},
    }

    def summary(res, batch):
        best = min(res, key=lambda k: res[k][0])
        ms, cpu, mn = res[best]
        return {"variants_ms": {k: v[0] for k, v in res.items()}, "variants_cpu_ms": {k: v[1] for k, v in res.items()},
                "variants_min_ms": {k: v[2] for k, v in res.items()},
                "best": best, "ms": ms, "ms_per_image": ms / batch, "cpu_ms": cpu, "min_ms": mn}

    only = set(args.only.split(","))
    if not only <= {f"fwd{b}" for b in fwd_batches} | {"train"}:
        sys.exit(f"torch_ncsnpp: --only takes fwdB (B in --fwd-batches) and train; got {args.only}")

    model.eval()
    for batch in fwd_batches:
        if f"fwd{batch}" not in only:
            continue
        # Batch 1 is cheap: more repetitions. Batch 32 costs ~100 GFLOP a call.
        reps, warm = (4 * args.reps, 3 * args.warmup) if batch == 1 else (max(3, args.reps // 2 + 1), 1)
        if args.exact_reps:
            reps, warm = args.reps, args.warmup
        res = {}
        for name, fn in forward_variants(model, batch, fwd_names):
            res[name] = measure(fn, reps, warm)
            log(f"forward b{batch:<2d} {name:30s} {res[name][0]:9.2f} ms  (cpu {res[name][1]:9.2f} ms)")
        out["forward"][f"b{batch}"] = summary(res, batch)

    model.train()
    for batch in (train_batches if "train" in only else []):
        res = {}
        for name, cl, foreach in train_variants:
            step = train_step_fn(model, batch, cl, foreach)
            key = f"{name}{'_adam_foreach' if foreach else ''}"
            res[key] = median_ms(step, *((args.reps, args.warmup) if args.exact_reps else (max(3, args.reps // 2 + 1), 1)))
            log(f"train  b{batch:<2d} {key:30s} {res[key][0]:9.2f} ms  (cpu {res[key][1]:9.2f} ms)")
            model.to(memory_format=torch.contiguous_format)
        out["train"][f"b{batch}"] = summary(res, batch)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
