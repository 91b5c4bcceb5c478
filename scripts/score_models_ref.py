#!/usr/bin/python3
"""Reference computations with the score_models package, for lenscore's tests.

score_models (a public MIT-licensed repository) is imported from the path
given with --score-models; nothing of it is copied here. Debian's
python3-torch 1.13 lacks a few things the package imports (torch.func,
torch.vmap, torch_ema, scipy, tqdm); minimal stand-ins are installed
before the import. None of them is used on the code paths run here
(building NCSNpp, ScoreModel.score, torch.save/torch.load).

Sub-commands:

  fixtures OUT   random-weight NCSNpp networks for several hyper-parameter
                 sets: OUT/<name>/ holds score_models' checkpoint directory
                 (model_hparams.json, checkpoint_*.pt) and cases.json with
                 inputs x.f32 and scores score.f32 (raw little-endian float32)
                 at several t.
  score DIR X T  loads ScoreModel(checkpoints_directory=DIR) and writes the
                 score at times T (a .f32 file of one t per image) for the
                 images of X (a .f32 file; shape from X.json) to stdout as
                 raw float32.
  bench DIR      times ScoreModel.score of the checkpoint directory DIR on
                 the CPU (bench/cmd/smbench runs it beside lenscore).

Usage:
  /usr/bin/python3 scripts/score_models_ref.py --score-models /tmp/score_models fixtures score/testdata/ncsnpp
"""

import argparse
import json
import math
import os
import statistics
import sys
import time
import types


def install_stand_ins():
    import torch
    try:
        import torch.func  # noqa: F401  (torch ≥ 2.0)
    except ImportError:
        import functorch
        m = types.ModuleType("torch.func")
        for name in ("vmap", "grad", "vjp", "jacrev"):
            setattr(m, name, getattr(functorch, name))
        sys.modules["torch.func"] = m
        torch.func = m
    if not hasattr(torch, "vmap"):
        import functorch
        torch.vmap = functorch.vmap
    if "torch_ema" not in sys.modules:
        try:
            import torch_ema  # noqa: F401
        except ImportError:
            m = types.ModuleType("torch_ema")

            class ExponentialMovingAverage:  # only referenced by ScoreModelBase.fit
                def __init__(self, *a, **k):
                    raise RuntimeError("torch_ema stand-in: training is not supported here")
            m.ExponentialMovingAverage = ExponentialMovingAverage
            sys.modules["torch_ema"] = m
    try:
        import scipy.stats  # noqa: F401
    except ImportError:
        sc = types.ModuleType("scipy")
        st = types.ModuleType("scipy.stats")

        class norm:
            @staticmethod
            def cdf(x):
                return 0.5 * math.erfc(-x / math.sqrt(2))
        st.norm = norm
        sc.stats = st
        sys.modules["scipy"], sys.modules["scipy.stats"] = sc, st
    try:
        import tqdm  # noqa: F401
    except ImportError:
        m = types.ModuleType("tqdm")
        m.tqdm = lambda it=None, *a, **k: it
        sys.modules["tqdm"] = m


# Hyper-parameter sets of the fixtures: (name, NCSNpp kwargs, image side,
# batch, sigma_min, sigma_max, times per case).
SETS = [
    ("nf16_122_attn", dict(channels=1, nf=16, ch_mult=(1, 2, 2), num_res_blocks=2, attention=True,
                           fourier_scale=16.0), 16, 2, 1e-3, 50.0, [[0.01, 0.9], [0.3, 0.5], [1.0, 0.0]]),
    ("nf8_12_noattn_c2", dict(channels=2, nf=8, ch_mult=(1, 2), num_res_blocks=1, attention=False,
                              skip_rescale=False, fir_kernel=(1, 2, 1), fourier_scale=4.0), 12, 3, 0.01, 10.0,
     [[0.05, 0.5, 0.95], [0.7, 0.2, 0.4]]),
    ("nf16_1222_64", dict(channels=1, nf=16, ch_mult=(1, 2, 2, 2), num_res_blocks=2, attention=True,
                          fourier_scale=16.0), 64, 1, 1e-4, 20.0, [[0.02], [0.5], [0.97]]),
    ("nf8_12_nofir", dict(channels=1, nf=8, ch_mult=(1, 2), num_res_blocks=1, attention=True, fir=False,
                          dropout=0.1), 8, 2, 0.01, 5.0, [[0.1, 0.6]]),
]


def randomise(model, seed):
    """Draws every trainable parameter at random (score_models' own
    initialisation zeroes biases and scales some layers by 1e-10, which would
    leave most of the network untested)."""
    import torch
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".W"):  # fixed Fourier frequencies: keep
                continue
            if p.dim() == 1:
                if "GroupNorm" in name and name.endswith("weight"):
                    p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
                else:
                    p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(fan_in))


def write_f32(path, t):
    import numpy as np
    np.ascontiguousarray(t.detach().cpu().numpy(), dtype="<f4").tofile(path)


def cmd_fixtures(out):
    import torch
    from score_models import ScoreModel, NCSNpp
    torch.manual_seed(20)
    for k, (name, hp, side, batch, smin, smax, times) in enumerate(SETS):
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        net = NCSNpp(**hp)
        randomise(net, 100 + k)
        net.eval()
        sm = ScoreModel(model=net, sigma_min=smin, sigma_max=smax, device="cpu")
        # score_models' own layout: the hyper-parameters of the ScoreModel and
        # the network's state dict (ScoreModelBase.fit does the same).
        with open(os.path.join(d, "model_hparams.json"), "w") as f:
            json.dump(sm.hyperparameters, f, indent=4)
        torch.save(net.state_dict(), os.path.join(d, "checkpoint_1.2345e+00_001.pt"))
        gx = torch.Generator().manual_seed(7 + k)
        x = torch.randn((batch, hp["channels"], side, side), generator=gx)
        scores = []
        with torch.no_grad():
            for ts in times:
                scores.append(sm.score(torch.tensor(ts, dtype=torch.float32), x))
        write_f32(os.path.join(d, "x.f32"), x)
        write_f32(os.path.join(d, "score.f32"), torch.stack(scores))
        case = {"shape": list(x.shape), "t": times, "x": "x.f32", "score": "score.f32",
                "torch": torch.__version__, "params": sum(p.numel() for p in net.parameters())}
        with open(os.path.join(d, "cases.json"), "w") as f:
            json.dump(case, f, indent=1)
        print(f"{name}: {case['params']} parameters, x {list(x.shape)}, "
              f"|score| max {max(float(s.abs().max()) for s in scores):.3g}", file=sys.stderr)


def cmd_score(ckdir, xpath, tpath):
    import numpy as np
    import torch
    from score_models import ScoreModel
    with open(xpath[:-4] + ".json") as f:
        shape = json.load(f)["shape"]
    x = torch.from_numpy(np.fromfile(xpath, dtype="<f4").reshape(shape))
    t = torch.from_numpy(np.fromfile(tpath, dtype="<f4"))
    import contextlib
    with contextlib.redirect_stdout(sys.stderr):  # score_models prints what it loads
        sm = ScoreModel(checkpoints_directory=ckdir, device="cpu")
    sm.model.eval()
    with torch.no_grad():
        s = sm.score(t, x)
    sys.stdout.buffer.write(np.ascontiguousarray(s.numpy(), dtype="<f4").tobytes())


def cmd_bench(ckdir, side, batch, reps, threads):
    """Median wall time of ScoreModel.score at one batch size for several
    execution variants (eager NCHW, eager channels_last, TorchScript
    trace + freeze), as one JSON object on stdout."""
    import contextlib
    import torch
    from score_models import ScoreModel
    torch.set_num_threads(threads)
    with contextlib.redirect_stdout(sys.stderr):
        sm = ScoreModel(checkpoints_directory=ckdir, device="cpu")
    sm.model.eval()
    c = sm.model.channels
    g = torch.Generator().manual_seed(batch)
    x = torch.randn((batch, c, side, side), generator=g)
    t = torch.full((batch,), 0.5)
    warm = 5 if batch == 1 else 2
    res = {"torch": torch.__version__, "threads": threads, "side": side, "batch": batch,
           "params": sum(p.numel() for p in sm.model.parameters()), "variants": {}}

    def timeit(fn, xin):
        ts = []
        with torch.inference_mode():
            for i in range(reps + warm):
                t0 = time.perf_counter()
                fn(t, xin)
                if i >= warm:
                    ts.append(time.perf_counter() - t0)
        return statistics.median(ts) * 1e3

    res["variants"]["eager"] = timeit(sm.score, x)
    try:
        net = sm.model.to(memory_format=torch.channels_last)
        sig = lambda tt: sm.sde.sigma(tt).view(-1, 1, 1, 1)
        xl = x.contiguous(memory_format=torch.channels_last)
        res["variants"]["channels_last"] = timeit(lambda tt, xx: net(tt, xx) / sig(tt), xl)
        net = sm.model.to(memory_format=torch.contiguous_format)
    except Exception as e:  # a variant that does not run is reported, not fatal
        res["variants"]["channels_last_error"] = str(e)
    try:
        import warnings
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        with torch.no_grad():
            traced = torch.jit.freeze(torch.jit.trace(sm.model, (t, x), check_trace=False))
        sig = lambda tt: sm.sde.sigma(tt).view(-1, 1, 1, 1)
        res["variants"]["trace_freeze"] = timeit(lambda tt, xx: traced(tt, xx) / sig(tt), x)
    except Exception as e:
        res["variants"]["trace_freeze_error"] = str(e)
    best = min((v, k) for k, v in res["variants"].items() if isinstance(v, float))
    res["best_ms"], res["best_variant"] = best
    print(f"torch b={batch}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in res["variants"].items()
                                           if isinstance(v, float)), file=sys.stderr)
    print(json.dumps(res))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--score-models", required=True, help="directory containing the score_models package")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fixtures")
    f.add_argument("out")
    s = sub.add_parser("score")
    s.add_argument("dir")
    s.add_argument("x")
    s.add_argument("t")
    b = sub.add_parser("bench")
    b.add_argument("dir")
    b.add_argument("--side", type=int, default=64)
    b.add_argument("--batch", type=int, default=1)
    b.add_argument("--reps", type=int, default=5)
    b.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    sys.path.insert(0, a.score_models)
    install_stand_ins()
    if a.cmd == "fixtures":
        cmd_fixtures(a.out)
    elif a.cmd == "score":
        cmd_score(a.dir, a.x, a.t)
    else:
        cmd_bench(a.dir, a.side, a.batch, a.reps, a.threads)


if __name__ == "__main__":
    main()
