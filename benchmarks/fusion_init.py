"""Which MSSBlock reading and which SS2D initialisation: short trainings of the same every-stage VM-DDPM with
`fusion` = parallel | cascade and `scan_init` = mamba | scan (and the cascade with a zero-initialised CSM output).

    python benchmarks/fusion_init.py                 # CPU: 32x32 demo slices, 300 steps each, seeds 0 1 (about an hour on 2 busy cores)
    python benchmarks/fusion_init.py --quick         # smoke run: a few steps, one seed

Held fixed: the data (the demo brain slices of `benchmarks/reproduce.py`, same split, flips and batches), the
network's widths (`--arch`, default the `vmddpm demo` network, MSSBlocks in every stage), the optimiser (fastai
one-cycle, peak lr 3e-3, batch 16, EMA 0.995, the demo's recipe), the number of steps and the seeds. Measured per
variant and seed: parameters, seconds per step (on a shared machine a rough figure), held-out L_simple on fixed
(x0, t, noise) triples (EMA weights), and `vmddpm_nb.ss2d.scan_shares` on 8 held-out slices at t = 100, 500, 900,
before and after training: C·h/D·u and the C·h share of the SS2D output (medians over SS2Ds), the change of ε̂ with
every SS2D switched off, and ε̂'s spread over regeneration orders. A few hundred steps say which variant starts
learning faster and whether the scan keeps a share; they do not say which samples better after a long run (that is
`benchmarks/reproduce.py`'s job).

Writes benchmarks/results/fusion_init_<device>_<size>.md and a .json of the same numbers beside it.
"""
import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _bench import machine, write_table  # noqa: E402

VARIANTS = {'parallel / mamba': dict(fusion='parallel', scan_init='mamba'),
            'cascade / mamba': dict(fusion='cascade', scan_init='mamba'),
            'parallel / scan': dict(fusion='parallel', scan_init='scan'),
            'cascade / scan': dict(fusion='cascade', scan_init='scan'),
            'cascade / scan / zero merge': dict(fusion='cascade', scan_init='scan', zero_init=True)}
ARCHS = ('demo', 'tiny-every')


def widths(arch):
    "VMDDPM keyword arguments (on top of 'tiny') of `arch` without its fusion / init: the `vmddpm demo` network or tiny-every."
    from vmddpm_nb.cli import DEMO_MODEL
    from vmddpm_nb.model import vmddpm_config
    kw = dict(DEMO_MODEL) if arch == 'demo' else vmddpm_config(arch)
    return {k: v for k, v in kw.items() if k not in ('fusion', 'scan_init', 'zero_init')}
COLS = ('C·h/D·u', 'C·h share of SS2D out', 'ε̂ Δ w/o all SS2D', 'ε̂ spread over orders')


def run_one(name, kw, a, xtr, xva, seed):
    import torch
    from fastai.torch_core import set_seed
    from vmddpm_nb.data import image_dataloaders
    from vmddpm_nb.diffusion import NoiseSchedule
    from vmddpm_nb.learner import vmddpm_model, diffusion_learner, fixed_noise_loss
    from vmddpm_nb.ss2d import scan_shares, scan_summary
    set_seed(seed)
    sched = NoiseSchedule.from_name('linear_beta', 1000)
    dls = image_dataloaders(xtr.repeat(a.repeat, 1, 1, 1), xva, bs=a.bs, flip_lr=True, seed=seed, device='cpu')
    torch.manual_seed(seed)
    model = vmddpm_model('tiny', **widths(a.arch), **kw)
    scan = lambda m: scan_summary(scan_shares(m, xva[:a.scan_n], ts=(100, 500, 900), n_draws=3)).loc['all']
    s0 = scan(model)
    learn = diffusion_learner(dls, model, sched, lr=a.lr, ema_decay=0.995, seed=seed)
    t0 = time.time()
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(max(1, math.ceil(a.steps / len(dls.train))), a.lr)
    dt = time.time() - t0
    ema = learn.ema.ema_model
    r = dict(variant=name, seed=seed, params=sum(p.numel() for p in model.parameters()), steps=learn.diffusion.n_batches,
             s_per_step=dt / learn.diffusion.n_batches, heldout=fixed_noise_loss(ema, xva, sched, reps=4, seed=0),
             init={c: float(s0[c]) for c in COLS}, trained={c: float(v) for c, v in scan(ema)[list(COLS)].items()})
    print(json.dumps(r), flush=True)
    return r


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--arch', default='demo', choices=ARCHS, help="widths: 'demo' (the `vmddpm demo` network, SSM in every stage) or 'tiny-every'")
    p.add_argument('--steps', type=int, default=300, help='optimiser steps per run (rounded up to whole epochs)')
    p.add_argument('--seeds', type=int, nargs='*', default=[0, 1])
    p.add_argument('--variants', nargs='*', default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument('--bs', type=int, default=16)
    p.add_argument('--repeat', type=int, default=10)
    p.add_argument('--lr', type=float, default=3e-3)
    p.add_argument('--scan-n', type=int, default=8)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--out', default=None)
    p.add_argument('--quick', action='store_true')
    a = p.parse_args(argv)
    import torch
    from vmddpm_nb.data import demo_brain_slices, split_slabs
    torch.set_num_threads(a.threads)
    if a.quick: a.steps, a.seeds, a.repeat, a.scan_n, a.bs = 4, a.seeds[:1], 1, 2, min(a.bs, 8)
    x, z = demo_brain_slices(32, return_z=True)
    tr, va = split_slabs(z)
    xtr, xva = x[tr], x[va]
    if a.quick: xtr, xva = xtr[::3], xva[:8]
    t_all = time.time()
    runs = [run_one(n, VARIANTS[n], a, xtr, xva, s) for s in a.seeds for n in a.variants]
    m = machine()
    lines = [f"MSSBlock reading × SS2D initialisation, short trainings on the demo brain slices (32×32): widths "
             f"`{a.arch}` ({widths(a.arch)}), {runs[0]['steps']} optimiser steps of batch {a.bs}, one-cycle lr {a.lr:g}, EMA 0.995, "
             f"seeds {a.seeds}; {m['cpu']}, {a.threads} thread(s), torch {m['torch']}; "
             f"`{('python benchmarks/fusion_init.py ' + ' '.join(sys.argv[1:] if argv is None else argv)).strip()}`, {time.strftime('%Y-%m-%d')}, "
             f"{(time.time() - t_all) / 60:.0f} min. Scan numbers: `scan_shares` on {a.scan_n} held-out slices at t = 100, 500, 900 "
             "(medians), at initialisation → after training (EMA weights). s/step was measured on a shared machine: rough.", '',
             '| variant | params | s/step | held-out L_simple (mean over seeds) | per seed | ' + ' | '.join(COLS) + ' |',
             '|---|---:|---:|---:|---|' + '---:|' * len(COLS)]
    for n in a.variants:
        rs = [r for r in runs if r['variant'] == n]
        mean = lambda f: statistics.mean(f(r) for r in rs)
        lines.append(f"| {n} | {rs[0]['params']:,} | {mean(lambda r: r['s_per_step']):.2f} | {mean(lambda r: r['heldout']):.4f} | "
                     f"{', '.join('{:.4f}'.format(r['heldout']) for r in rs)} | " +
                     ' | '.join(f"{mean(lambda r: r['init'][c]):.4f} → {mean(lambda r: r['trained'][c]):.4f}" for c in COLS) + ' |')
    _, out = write_table(lines, a.out, HERE / 'results' / f"fusion_init_cpu_32{'_quick' if a.quick else ''}.md")
    out.with_suffix('.json').write_text(json.dumps(dict(args=vars(a), runs=runs), indent=1))


if __name__ == '__main__':
    main()
