#!/usr/bin/env python3
"""Decomposes the lens-recovery probe's z into the model's own offset, the
correction's error and the noise part (docs/lens-fitting.md, *Why θ_E picks up
a bias and e1, γ1 stay wide*). Run from the repository root:

    python3 results/lens-recovery/debias-s14/decompose.py

Reads the probe parts of debias-s13/score4 (noisy, K = 4 score-prior sources),
debias-s14/truth (noisy, the true source: the oracle), debias-s14/noise-free
(z = the true source's own offset b/σ) and debias-s14/noise-seed1 (a second
noise realisation of every lens, uncorrected)."""
import glob, json, math, os

R = 'results/lens-recovery'
NAMES = ['theta_e', 'e1', 'e2', 'center_x', 'center_y', 'gamma1', 'gamma2']


def load(d):
    out = {}
    for f in glob.glob(os.path.join(R, d, 'lens_probe_parts', 'lens-*.json')):
        l = json.load(open(f))
        out[l['index']] = l
    return out


def mean(v):
    return sum(v) / len(v)


def std(v):
    m = mean(v)
    return math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))


def rms(v):
    return math.sqrt(sum(x * x for x in v) / len(v))


S, T, NF, Z1 = load('debias-s13/score4'), load('debias-s14/truth'), load('debias-s14/noise-free'), load('debias-s14/noise-seed1')
idx = sorted(set(S) & set(T) & set(NF))
print(f'{len(idx)} lenses; z = (MAP − truth)/σ_Laplace of the noisy probe (failures included)')
print('| parameter | z uncorrected | z score-corrected | z oracle-corrected | b_true/σ (noise-free) | b̄_score/σ | b_oracle/σ | '
      'e = (b̄_score − b_oracle)/σ: mean, RMS | its sampling part s_b/√K/σ (RMS) | noise part n = z − b_true/σ |')
print('|---|---|---|---|---|---|---|---|---|---|')
for k, nm in enumerate(NAMES):
    zp = [S[j]['z'][k] for j in idx]
    zs = [S[j]['z_debiased'][k] for j in idx]
    zo = [T[j]['z_debiased'][k] for j in idx]
    e, samp, bs, bo, bn, n = [], [], [], [], [], []
    for j in idx:
        sd = S[j]['sd'][k]
        assert S[j]['map'][k] == T[j]['map'][k], 'the score and oracle probes must share the MAP'
        offs = [o[k] for o in S[j]['debias_offsets']]
        K = len(offs)
        bm = mean(offs)
        sb = std(offs)
        bt = T[j]['debias_offsets'][0][k]
        b0 = NF[j]['map'][k] - NF[j]['truth'][k]
        e.append((bm - bt) / sd)
        samp.append(sb / math.sqrt(K) / sd)
        bs.append(bm / sd)
        bo.append(bt / sd)
        bn.append(b0 / sd)
        n.append(S[j]['z'][k] - b0 / sd)
    f = lambda v: f'{mean(v):+.2f} / {std(v):.2f}'
    print(f'| {nm} | {f(zp)} | {f(zs)} | {f(zo)} | {mean(bn):+.2f} | {mean(bs):+.2f} | {mean(bo):+.2f} | '
          f'{mean(e):+.2f}, {rms(e):.2f} | {rms(samp):.2f} | {f(n)} |')
print('(cells "a / b": mean / standard deviation over the lenses)')

idx = sorted(set(S) & set(Z1) & set(NF))
if idx:
    print(f'\nsecond noise realisation: {len(idx)} lenses')
    print('| parameter | std of (z₀ − z₁)/√2 | mean z₀, z₁ | n over both realisations: mean ± s.e., std |')
    print('|---|---|---|---|')
    for k, nm in enumerate(NAMES):
        d = [(S[j]['z'][k] - Z1[j]['z'][k]) / math.sqrt(2) for j in idx]
        n, per = [], []
        for j in idx:
            b0 = NF[j]['map'][k] - NF[j]['truth'][k]
            a, b = S[j]['z'][k] - b0 / S[j]['sd'][k], Z1[j]['z'][k] - b0 / Z1[j]['sd'][k]
            n += [a, b]
            per.append((a + b) / 2)
        print(f'| {nm} | {rms(d):.2f} | {mean([S[j]["z"][k] for j in idx]):+.2f}, {mean([Z1[j]["z"][k] for j in idx]):+.2f} | '
              f'{mean(n):+.2f} ± {std(per) / math.sqrt(len(idx)):.2f}, {std(n):.2f} |')
