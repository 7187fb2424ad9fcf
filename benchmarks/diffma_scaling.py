"""Cost against token count: DiffMa vs single-Mamba comparison blocks (ViM, ZigMa) vs a DiT, at matched parameter counts.

    python benchmarks/diffma_scaling.py                  # CPU: 8², 16², 32², 64² tokens, hidden 128, DiffMa depth 4
    python benchmarks/diffma_scaling.py --quick          # 4², 8², 16² tokens, 2 runs each (a smoke test)
    python benchmarks/diffma_scaling.py --device cuda --config DiffMa-B/2 --grids 8 16 32 64 128 --max-attn-gb 40

The DiffMa paper claims "input scaling efficiency": its cost grows about linearly with the number of tokens, where a
transformer's grows quadratically. For each model and each token grid (`--grids`, tokens per side; latent side =
grid · patch, `--channels` latent channels) this measures forward + backward of a batch (`--bs`) with an MSE loss
against a random target of the output's shape (DiffMa's learn_sigma output has twice the channels: it costs what it
costs), median of `--repeats` runs after one warm-up, each (model, grid) in a fresh process (peak memory: resident
set above the start on the CPU, `max_memory_allocated` on CUDA; the parent never loads torch itself, since a worker's
`ru_maxrss` starts from the peak of the process that spawned it). `--threads N` fixes torch's threads in every worker
(on a busy machine, `--threads 1` avoids OpenMP threads waiting on each other).

Models (all lesson 12's `DiffMa` backbone, `vmddpm_nb.diffma`, except the DiT):
  DiffMa  scheme 'diffma': DiffMaBlock (two 3-route Mambas, the second on the soft-masked tokens, a token-wise gate)
  ViM     scheme 'vim':    the released single-Mamba adaLN block over (row, row reversed), outputs averaged
  ZigMa   scheme 'zigma':  the released single-Mamba adaLN block over one zigzag route per block
  VMamba, EMamba           (optional, `--models`): the released VMamba 4-route and EfficientVMamba atrous schemes
  DiT     lesson 10's `DiTDenoiser` (global attention, adaLN-Zero), conditioned on t only: lesson 12 has no DiT in
          DiffMa's skeleton, and the conditioning vector is a per-sample cost that does not grow with the tokens.
DiffMa gets `--hidden`/`--depth`/`--d-state` (or those of a `--config` such as DiffMa-B/2). The single-Mamba models
keep its width and get the depth whose parameter count is closest to DiffMa's (the released ViM-*/ZigMa-* configs use
DiffMa's depth, i.e. about 60 % of its parameters); the DiT gets DiffMa's depth and the width `dit_matching` finds.
Counts are of trainable parameters (DiffMa's frozen position table, which grows with the grid, is left out) and must
agree within `--tol`. The conditioning inputs have the shapes `DiffMa.forward` checks: y (B, D), y2 (B, T, D) embedder
tokens, w (B, T, 1) soft mask in (0, 1). A DiT size is skipped when its attention matrices alone (float32, all heads,
one block) would need more than `--max-attn-gb`. The slope column is the least-squares log-log slope of time against
the number of tokens over the largest three grids each model ran: about 1 for linear cost, 2 for quadratic. The table
goes to stdout and benchmarks/results/diffma_scaling_<device>.md, a log-log plot (time and memory) beside it.
"""
import argparse
import json
import math
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _bench import machine, measure, run_worker, write_table  # noqa: E402

SCHEMES = {'DiffMa': 'diffma', 'ViM': 'vim', 'ZigMa': 'zigma', 'VMamba': 'vmamba_released', 'EMamba': 'efficientvmamba',
           'DiT': None}
DEFAULT_MODELS = ['DiffMa', 'ViM', 'ZigMa', 'DiT']
GRIDS, QUICK_GRIDS = [8, 16, 32, 64], [4, 8, 16]
SMALL = dict(hidden_size=128, depth=4, d_state=16, patch_size=2)   # the default (CPU) budget


def build(spec, name, grid):
    "The model `name` of the matched `spec` (from `match`), built for a grid × grid token map."
    side = grid * spec['patch_size']
    if name == 'DiT':
        from vmddpm_nb.baselines import DiTDenoiser
        return DiTDenoiser(img_size=side, patch_size=spec['patch_size'], in_ch=spec['channels'], dim=spec['dit_dim'],
                           depth=spec['dit_depth'], heads=spec['dit_heads'])
    from vmddpm_nb.diffma import DiffMa
    return DiffMa(input_size=side, patch_size=spec['patch_size'], in_channels=spec['channels'],
                  hidden_size=spec['hidden_size'], depth=spec['depths'][name], learn_sigma=True,
                  scheme=SCHEMES[name], d_state=spec['d_state'])


def trainable(model):
    "Trainable parameters of a module (frozen position tables left out)."
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count(builder):
    "Trainable parameters of `builder()`, built on the meta device when it can be (no memory, no init cost)."
    import torch
    try:
        with torch.device('meta'): return trainable(builder())
    except (RuntimeError, NotImplementedError):
        return trainable(builder())


def match(spec, models, tol):
    """Fill `spec` with the single-Mamba depths and the DiT width that match DiffMa's trainable parameter count within
    `tol`; return {model: count}. Counted at the smallest grid (trainable counts do not depend on the grid)."""
    from vmddpm_nb.baselines import dit_matching
    spec['depths'] = {'DiffMa': spec['depth']}
    g = spec['grids'][0]
    target = count(lambda: build(spec, 'DiffMa', g))
    counts = {'DiffMa': target}
    for name in models:
        if name in ('DiffMa', 'DiT'): continue
        best = None
        for d in range(1, 16 * spec['depth'] + 1):
            spec['depths'][name] = d
            n = count(lambda: build(spec, name, g))
            if best is None or abs(n / target - 1) < abs(best[1] / target - 1): best = (d, n)
            if n > target: break                         # counts grow with the depth: the next ones are further off
        spec['depths'][name], counts[name] = best
        if abs(best[1] / target - 1) > tol:
            raise ValueError(f"--tol: no depth of {name} at width {spec['hidden_size']} has {target:,} trainable parameters "
                             f"within ±{tol:.0%}; the closest is depth {best[0]} with {best[1]:,}")
    if 'DiT' in models:
        side = g * spec['patch_size']
        r = dit_matching(target, tol=tol, depth=spec['dit_depth'], heads=spec['dit_heads'], patch_size=spec['patch_size'],
                         img_size=side, in_ch=spec['channels'])
        spec['dit_dim'] = r['dim']
        counts['DiT'] = count(lambda: build(spec, 'DiT', g))
    return counts


def attn_gb(spec, grid, bs):
    "Memory of one DiT block's attention scores (float32, all heads) at a grid × grid token map."
    n = grid * grid
    return bs * spec['dit_heads'] * n * n * 4 / 2**30


def worker(spec, name, grid, bs, repeats, device, threads):
    "Measure one (model, grid) in this fresh process; print one JSON line."
    import torch
    if threads: torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build(spec, name, grid).to(device)
    params = trainable(model)
    g = torch.Generator().manual_seed(1)
    side, T = grid * spec['patch_size'], grid * grid
    rnd = lambda *s: torch.randn(*s, generator=g).to(device)
    x = rnd(bs, spec['channels'], side, side)
    t = torch.randint(0, 1000, (bs,), generator=g).to(device)
    if name == 'DiT':
        target = rnd(bs, spec['channels'], side, side)
        call = lambda: model(x, t)
    else:
        D = spec['hidden_size']
        y, y2, w = rnd(bs, D), rnd(bs, T, D), torch.sigmoid(rnd(bs, T, 1))   # encoder vector, embedder tokens, soft mask
        target = rnd(bs, model.out_channels, side, side)                      # learn_sigma: 2 × channels
        call = lambda: model(x, t, y, y2, w)

    def step():
        model.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(call(), target).backward()
    print(json.dumps(dict(available=True, params=params, **measure(step, repeats, 1, device))))


def slope(grids, times):
    "Least-squares slope of log(time) against log(tokens)."
    xs, ys = [math.log(g * g) for g in grids], [math.log(t) for t in times]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def _pos(s):
    "argparse type: a positive int (argparse names the option in its message)."
    try: v = int(s)
    except ValueError: raise argparse.ArgumentTypeError(f'expected a positive int, got {s!r}') from None
    if v < 1: raise argparse.ArgumentTypeError(f'expected a positive int, got {v}')
    return v


def resolve(o):
    "The model spec from the options dict `o` (config, hidden, depth, d_state, patch, ...); ValueError names the bad option."
    from vmddpm_nb.diffma import DIFFMA_CONFIGS
    base = dict(SMALL)
    if o['config'] is not None:
        cfg = DIFFMA_CONFIGS.get(o['config'])
        if cfg is None or cfg['scheme'] != 'diffma':
            raise ValueError(f"--config: expected a DiffMa configuration "
                             f"({', '.join(k for k, v in DIFFMA_CONFIGS.items() if v['scheme'] == 'diffma')}), got {o['config']!r}")
        base = {k: cfg.get(k, SMALL[k]) for k in SMALL}
    for k, v in (('hidden_size', o['hidden']), ('depth', o['depth']), ('d_state', o['d_state']), ('patch_size', o['patch'])):
        if v is not None: base[k] = v
    if base['hidden_size'] % 4: raise ValueError(f"--hidden: expected a multiple of 4 (2-D sin-cos positions), got {base['hidden_size']}")
    heads = o['dit_heads'] or max(2, base['hidden_size'] // 64)
    return dict(base, channels=o['channels'], grids=list(o['grids']), dit_depth=o['dit_depth'] or base['depth'], dit_heads=heads)


def match_worker(o):
    """In a fresh process (so that the parent, whose peak resident set every worker it spawns inherits as the floor of
    its `ru_maxrss`, never loads torch): resolve the spec, match the parameter counts, print one JSON line."""
    import torch
    try:
        if o['device'] == 'cuda' and not torch.cuda.is_available():
            raise ValueError('--device: cuda requested but torch sees no GPU')
        spec = resolve(o)
        counts = match(spec, o['models'], o['tol'])
    except ValueError as e:
        msg = str(e)
        print(json.dumps(dict(error='--' + msg if msg.startswith('tol:') else msg))); return   # dit_matching's 'tol: ...'
    print(json.dumps(dict(spec=spec, counts=counts)))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--worker', nargs=2, help=argparse.SUPPRESS)
    p.add_argument('--spec', help=argparse.SUPPRESS)
    p.add_argument('--match', help=argparse.SUPPRESS)
    p.add_argument('--config', default=None, help="take DiffMa's hidden/depth/d_state/patch from this DIFFMA_CONFIGS name "
                   "(e.g. DiffMa-B/2: hidden 512, depth 8); default: hidden 128, depth 4, d_state 16, patch 2")
    p.add_argument('--hidden', type=_pos, default=None, help="DiffMa's (and the Mamba baselines') width")
    p.add_argument('--depth', type=_pos, default=None, help="DiffMa's number of blocks")
    p.add_argument('--d-state', type=_pos, default=None, help='Mamba state size N')
    p.add_argument('--patch', type=_pos, default=None, help='patch size p (latent side = grid · p)')
    p.add_argument('--channels', type=_pos, default=4, help='latent channels (4: SD-VAE)')
    p.add_argument('--dit-depth', type=_pos, default=None, help="DiT blocks (default DiffMa's depth)")
    p.add_argument('--dit-heads', type=_pos, default=None, help='DiT heads (default max(2, hidden // 64))')
    p.add_argument('--models', nargs='+', default=DEFAULT_MODELS, choices=list(SCHEMES))
    p.add_argument('--grids', nargs='+', type=_pos, default=GRIDS, help='token grid sides (tokens = grid²)')
    p.add_argument('--tol', type=float, default=0.15, help='accepted relative parameter mismatch against DiffMa')
    p.add_argument('--bs', type=_pos, default=2)
    p.add_argument('--repeats', type=_pos, default=5, help='timed runs per measurement (median reported)')
    p.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    p.add_argument('--threads', type=_pos, default=None, help="torch threads in every worker (default: torch's)")
    p.add_argument('--max-attn-gb', type=float, default=4.0, help="skip a DiT size whose attention scores exceed this")
    p.add_argument('--quick', action='store_true', help=f'grids {QUICK_GRIDS}, 2 runs each: a smoke test')
    p.add_argument('--out', default=None, help='markdown file (default benchmarks/results/diffma_scaling_<device>.md)')
    a = p.parse_args()
    if a.worker:
        return worker(json.loads(a.spec), a.worker[0], int(a.worker[1]), a.bs, a.repeats, a.device, a.threads)
    if a.match: return match_worker(json.loads(a.match))
    if not 0 <= a.tol < 1: p.error(f'--tol: expected a fraction in [0, 1), got {a.tol}')
    if not a.max_attn_gb > 0: p.error(f'--max-attn-gb: expected a positive number, got {a.max_attn_gb}')
    if a.quick: a.grids, a.repeats = QUICK_GRIDS, 2
    a.grids = sorted(set(a.grids))
    models = list(dict.fromkeys(a.models))
    if 'DiffMa' not in models: models.insert(0, 'DiffMa')        # the parameter budget every other model matches
    if 'EMamba' in models and any(g % 2 for g in a.grids): p.error('--grids: EMamba (atrous route) needs even grids')
    t0 = time.time()
    opts = dict(config=a.config, hidden=a.hidden, depth=a.depth, d_state=a.d_state, patch=a.patch, channels=a.channels,
                dit_depth=a.dit_depth, dit_heads=a.dit_heads, grids=a.grids, models=models, tol=a.tol, device=a.device)
    r = subprocess.run([sys.executable, __file__, '--match', json.dumps(opts)], capture_output=True, text=True)
    got = [json.loads(l) for l in r.stdout.splitlines() if l.startswith('{')]
    if r.returncode or not got:
        print(r.stderr[-3000:], file=sys.stderr); p.error('parameter matching failed (see above)')
    if 'error' in got[-1]: p.error(got[-1]['error'])
    spec, counts = got[-1]['spec'], got[-1]['counts']
    print('matched trainable parameters: ' + ', '.join(
        f"{n} {counts[n]:,} ({'depth ' + str(spec['depths'][n]) if n != 'DiT' else 'width ' + str(spec['dit_dim'])})"
        for n in models), flush=True)
    res = {}
    for name in models:
        for g in a.grids:
            if name == 'DiT' and attn_gb(spec, g, a.bs) > a.max_attn_gb:
                res[name, g] = dict(available=False, reason=f'skipped: attention needs {attn_gb(spec, g, a.bs):.1f} GB')
                print(f'  {name:7s} {g:3d}²: {res[name, g]["reason"]} > --max-attn-gb {a.max_attn_gb}', flush=True)
                continue
            args = ['--worker', name, str(g), '--spec', json.dumps(spec), '--bs', str(a.bs), '--repeats', str(a.repeats),
                    '--device', a.device] + (['--threads', str(a.threads)] if a.threads else [])
            res[name, g] = run_worker(__file__, args, f'{name:7s} {g:3d}² = {g * g:5d} tokens')
            if res[name, g].get('available') and res[name, g]['params'] != counts[name]:
                raise RuntimeError(f"{name}: the worker built {res[name, g]['params']:,} trainable parameters, "
                                   f"the match counted {counts[name]:,}")
    m = machine()
    if a.threads: m['threads'] = a.threads
    slopes = {}
    for n in models:
        ok = [g for g in a.grids if res[n, g].get('available')]
        slopes[n] = slope(ok[-3:], [res[n, g]['median_s'] for g in ok[-3:]]) if len(ok) >= 2 else float('nan')
    argv = sys.argv[1:]
    if '--out' in argv: i = argv.index('--out'); argv = argv[:i] + argv[i + 2:]
    argv = [x for x in argv if not x.startswith('--out=')]
    cmd = ' '.join(['python benchmarks/diffma_scaling.py'] + [shlex.quote(x) for x in argv])
    budget = (f"`{a.config}` sizes: " if a.config else '') + \
        f"DiffMa width {spec['hidden_size']}, depth {spec['depth']}, d_state {spec['d_state']}, patch {spec['patch_size']}"
    lines = [f"Forward+backward of a batch of {a.bs} {spec['channels']}-channel latents (MSE against a random target) against "
             f"the number of tokens, device `{a.device}` ({m['gpu'] or m['cpu']}, {m['cores']} cores, torch {m['torch']}, "
             f"{m['threads']} threads); {budget}; the single-Mamba models at DiffMa's width and the depth that matches its "
             f"parameters, the DiT (lesson 10's DiTDenoiser, {spec['dit_heads']} heads) at DiffMa's depth and the width that "
             f"matches. Trainable parameters, matched within ±{a.tol:.0%}. Median of {a.repeats} runs after a warm-up, each "
             f"size in a fresh process; seconds (peak MB above the start); '—' = skipped (DiT attention over "
             f"{a.max_attn_gb:g} GB). Slope: log-log slope of time against tokens over the largest three sizes (1 linear, "
             f"2 quadratic). Command: `{cmd}`; measured {time.strftime('%Y-%m-%d')}, {time.time() - t0:.0f} s in all.", '',
             '| model | params | vs DiffMa | depth | width | ' +
             ' | '.join(f"{g}² = {g * g} tok (latent {g * spec['patch_size']})" for g in a.grids) + ' | slope vs tokens (largest 3) |',
             '|---|---:|---:|---:|---:|' + '---:|' * (len(a.grids) + 1)]
    for n in models:
        cells = [f"{res[n, g]['median_s']:.3g} ({res[n, g]['peak_mb']:.0f})" if res[n, g].get('available') else '—'
                 for g in a.grids]
        depth, width = (spec['dit_depth'], spec['dit_dim']) if n == 'DiT' else (spec['depths'][n], spec['hidden_size'])
        lines.append(f"| {n} | {counts[n]:,} | {counts[n] / counts['DiffMa']:.3f}× | {depth} | {width} | " + ' | '.join(cells) +
                     f' | {slopes[n]:.2f} |')
    default = HERE / 'results' / f'diffma_scaling_{a.device}{"_quick" if a.quick else ""}.md'
    _, out = write_table(lines, a.out, default)
    try:
        import matplotlib; matplotlib.use('Agg')
        import matplotlib.ticker
        import matplotlib.pyplot as plt
        fig, axs = plt.subplots(1, 2, figsize=(10, 3.6))
        for n in models:
            ok = [g for g in a.grids if res[n, g].get('available')]
            axs[0].loglog([g * g for g in ok], [res[n, g]['median_s'] for g in ok], 'o-', label=f'{n} (slope {slopes[n]:.2f})')
            axs[1].loglog([g * g for g in ok], [max(res[n, g]['peak_mb'], 1e-3) for g in ok], 'o-', label=n)
        g0 = a.grids[-3:][0]                             # guides over the span the slopes are fitted on
        at0 = [res[n, g0]['median_s'] for n in models if res[n, g0].get('available')]
        if at0 and g0 != a.grids[-1]:                    # slope 1 and slope 2 from the geometric mean of the times there
            x0, y0, x1 = g0 * g0, math.exp(sum(map(math.log, at0)) / len(at0)), a.grids[-1] ** 2
            for k, ls in ((1, ':'), (2, '--')):
                axs[0].loglog([x0, x1], [y0, y0 * (x1 / x0) ** k], 'k' + ls, lw=0.8, alpha=0.5, label=f'slope {k}')
        axs[0].set_ylabel('fwd+bwd seconds'); axs[1].set_ylabel('peak MB above the start')
        for ax in axs:
            ax.set_xlabel('tokens'); ax.legend(fontsize=8)
            ax.set_xticks([g * g for g in a.grids]); ax.set_xticklabels([str(g * g) for g in a.grids])
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        fig.suptitle(f"cost against tokens at ~{counts['DiffMa'] / 1e6:.2f} M parameters, {a.device}", fontsize=9)
        fig.tight_layout()
        fig.savefig(out.with_suffix('.png'), dpi=100, bbox_inches='tight')
    except Exception as e:  # the table is the result; a missing plot is not fatal
        print(f'(no plot: {e})', file=sys.stderr)


if __name__ == '__main__':
    main()
