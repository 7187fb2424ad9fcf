"""The VM-DDPM paper's comparison at a size this machine can run: VM-DDPM with and without Sequence Regeneration
against a DDPM U-Net, matched parameter counts, equal training steps, FID against held-out real slices.

    python benchmarks/reproduce.py                      # CPU default: 32x32, VM-DDPM 'tiny' (0.56 M), 600 steps (~30 min, 2 cores)
    python benchmarks/reproduce.py --quick              # smoke run: a few steps, a few samples (a minute or two)
    python benchmarks/reproduce.py --device cuda --size 64 --arch tiny --steps 3000 --bs 32 --n 1000
    python benchmarks/reproduce.py --eval-only DIR      # FID for a run whose samples were made without FID weights
    python benchmarks/reproduce.py --arch tiny-every --models vmddpm vmddpm-noregen vmddpm-block --seeds 0 1 2
                                                        # the regeneration ablation on the paper's every-stage layout
    python benchmarks/reproduce.py --arch tiny --fusion cascade --scan-init scan   # the MSSBlock / SS2D-init variants

What is held fixed across the three models: the data (nilearn's MNI152 T1 template slices, split by slabs into
training and held-out slices, `vmddpm_nb.data.demo_brain_slices` + `split_slabs`), the batches (same seed, same
flips), the optimiser and one-cycle schedule (fastai `fit_one_cycle`, same peak lr), the number of optimiser steps,
the EMA, the sampler (DDIM, `--sample-steps`, `--eta`) and its seed. What differs: the network.
  vmddpm          VM-DDPM (`--arch`), Sequence Regeneration on (a fresh scan order per call, also while sampling)
  vmddpm-noregen  the same network, same initial weights, regeneration off (the ablation of Table II)
  vmddpm-block    the same network, same initial weights, patch-block regeneration (`--regen-block` p×p blocks shuffled,
                  the order inside each kept): the second reading of the paper's "shuffled in the patch dimension"
  unet            MONAI's DiffusionModelUNet sized by `unet_matching` to the VM-DDPM's parameter count
`--fusion` (cascade | parallel MSSBlock), `--scan-init` (mamba | scan) and `--zero-init` override the architecture's own choice;
`--regen-eval` sets what regeneration does while sampling ('random': a fresh order per call, as in training, so
even eta = 0 DDIM is stochastic; 'fixed': one seeded order, deterministic; 'off').
Measured: held-out L_simple on fixed (x0, t, noise) triples (EMA weights), FID of `--n` DDIM samples against the
held-out slices and against the training slices, and, as the floor these sets allow, FID of the training slices
against the held-out ones. For every VM-DDPM, at initialisation and after training (EMA weights), on `--scan-n`
held-out slices noised at t = 100, 500, 900, `vmddpm_nb.ss2d.scan_shares`: the RMS of the scan's order-dependent
part C·h against its skip D·u and its share of the SS2D output (medians over SS2Ds), the change of the noise
prediction when each MSSBlock path, or every SS2D, is switched off (medians over blocks), and its spread over
regeneration orders. The demo set is ONE template brain, ~100 training and ~30 held-out slices: FIDs from
30 real images are a smoke test of relative quality, not comparable with the paper's 50 000-sample numbers.

Writes benchmarks/results/reproduce_<device>_<size>.md (table), a picture of samples beside it, and keeps the
checkpoints (`state_dict`s) and samples in --work (default: reproduce_runs/<device>_<size>, not in git).
"""
import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _bench import machine, write_table  # noqa: E402
MODELS = ('vmddpm', 'vmddpm-noregen', 'unet')
ALL_MODELS = ('vmddpm', 'vmddpm-noregen', 'vmddpm-block', 'unet')


def arch_kwargs(arch, fusion=None, scan_init=None, zero_init=None):
    "(config name, overrides) of a VM-DDPM architecture: 'demo' (the `vmddpm demo` network) or a VMDDPM_CONFIGS name."
    from vmddpm_nb.cli import DEMO_MODEL
    from vmddpm_nb.model import VMDDPM_CONFIGS
    if arch == 'demo': cfg, over = 'tiny', dict(DEMO_MODEL)
    elif arch in VMDDPM_CONFIGS: cfg, over = arch, {}
    else: raise SystemExit(f"--arch: expected 'demo' or one of {tuple(VMDDPM_CONFIGS)}, got {arch!r}")
    if fusion: over['fusion'] = fusion
    if scan_init: over['scan_init'] = scan_init
    if zero_init: over['zero_init'] = zero_init == 'yes'
    return cfg, over


def build(name, a, seed):
    "The network `name` for the VM-DDPM architecture of the arguments `a`, initialised under `seed`."
    import torch
    from vmddpm_nb.learner import vmddpm_model
    from vmddpm_nb.model import vmddpm_config
    from vmddpm_nb.baselines import unet_baseline, unet_matching
    cfg, over = arch_kwargs(a.arch, a.fusion, a.scan_init, a.zero_init)
    torch.manual_seed(seed)
    if name == 'vmddpm': return vmddpm_model(cfg, **over, regen=True)
    if name == 'vmddpm-noregen': return vmddpm_model(cfg, **over, regen=False)
    if name == 'vmddpm-block': return vmddpm_model(cfg, **over, regen=True, regen_kind='block', regen_block=a.regen_block)
    if name == 'unet': return unet_baseline(**unet_matching(vmddpm_config(cfg, **over), tol=0.2)['kwargs'])   # nearest width
    raise ValueError(name)


SCAN_TS = (100, 500, 900)


def scan_numbers(model, xva, a):
    "scan_shares of a VM-DDPM on the first `--scan-n` held-out slices: the summary's 'all' row and its per-t rows."
    from vmddpm_nb.ss2d import scan_shares, scan_summary
    s = scan_summary(scan_shares(model, xva[:a.scan_n].to(a.device), ts=(500,) if a.quick else SCAN_TS, n_draws=2 if a.quick else 3))
    return {str(k): {c: float(v) for c, v in row.items()} for k, row in s.iterrows()}


def regen_spread(model, size, sched, n=16, steps=25, device='cpu'):
    """How much regeneration alone changes a sample: η = 0 DDIM from one fixed x_T under two regeneration draws
    (`regen_eval='random'`, two global seeds), RMS of the difference over the RMS of the samples. 0 without
    regeneration; the model's own `regen_eval` and the global RNG are restored."""
    import torch
    from vmddpm_nb.diffusion import ddim_sample
    from vmddpm_nb.ss2d import SS2D, set_regen
    old = [(m, m.regen_eval) for m in model.modules() if isinstance(m, SS2D)]
    xT = torch.randn(n, 1, size, size, generator=torch.Generator().manual_seed(0)).to(device)
    outs, was_training = [], model.training
    try:
        model.eval(); set_regen(model, eval_mode='random')
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            for gs in (1, 2):
                torch.manual_seed(gs)
                outs.append(ddim_sample(model, xT.shape, sched, steps=steps, eta=0.0, x_T=xT, device=device).float().cpu())
    finally:
        for m, e in old: m.regen_eval = e
        model.train(was_training)
    a, b = outs
    return ((a - b).pow(2).mean() / a.pow(2).mean()).sqrt().item()


def load_data(size, quick):
    "(train, held-out) demo slices in [-1, 1]."
    from vmddpm_nb.data import demo_brain_slices, split_slabs
    x, z = demo_brain_slices(size, return_z=True)
    tr, va = split_slabs(z)
    xtr, xva = x[tr], x[va]
    if quick: xtr, xva = xtr[::3], xva[:12]
    return xtr, xva


def train_one(name, a, xtr, xva, seed):
    "Train one model; return (summary dict, EMA model, samples uint8 tensor)."
    import torch
    from fastai.torch_core import set_seed
    from vmddpm_nb.data import image_dataloaders
    from vmddpm_nb.diffusion import NoiseSchedule
    from vmddpm_nb.learner import diffusion_learner, fixed_noise_loss, sample_images, save_checkpoint
    set_seed(seed)
    sched = NoiseSchedule.from_name('linear_beta', 1000)
    dls = image_dataloaders(xtr.repeat(a.repeat, 1, 1, 1), xva, bs=a.bs, flip_lr=True, seed=seed, device=a.device)
    per_epoch = len(dls.train)
    epochs = max(1, math.ceil(a.steps / per_epoch))
    model = build(name, a, seed)
    params = sum(p.numel() for p in model.parameters())
    is_vm = name.startswith('vmddpm')
    scan0 = scan_numbers(model.to(a.device), xva, a) if is_vm and a.scan_n else None
    learn = diffusion_learner(dls, model, sched, lr=a.lr, ema_decay=a.ema, seed=seed, mixed_precision=a.mixed_precision)
    print(f'[{name} seed {seed}] {params:,} parameters; {epochs} epochs × {per_epoch} batches of {a.bs}', flush=True)
    t0 = time.time()
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(epochs, a.lr)
    if a.device == 'cuda': torch.cuda.synchronize()
    t_train = time.time() - t0
    ema = learn.ema.ema_model if getattr(learn, 'ema', None) is not None else learn.model
    held = fixed_noise_loss(ema, xva.to(a.device), sched, reps=4, seed=0)
    scan1 = scan_numbers(ema, xva, a) if is_vm and a.scan_n else None
    if scan1:
        print(f'[{name} seed {seed}] scan shares (medians; init → trained): ' + ', '.join(
            f"{k} {scan0['all'][k]:.4f} → {scan1['all'][k]:.4f}" for k in scan1['all']), flush=True)
    spread = regen_spread(ema, a.size, sched, n=4 if a.quick else 16, steps=3 if a.quick else 25, device=a.device) if is_vm else None
    if is_vm:
        from vmddpm_nb.ss2d import set_regen
        set_regen(ema, eval_mode=a.regen_eval)
    t1 = time.time()
    s = sample_images(ema, sched, a.n, (1, a.size, a.size), 'ddim', a.sample_steps, a.eta, seed=seed, bs=a.sample_bs,
                      device=a.device)
    t_sample = time.time() - t1
    ck = save_checkpoint(learn, Path(a.work) / f'{name}_seed{seed}.pt', with_opt=False,
                         extra=dict(benchmark='reproduce', model=name, arch=a.arch, seed=seed, size=a.size,
                                    fusion=a.fusion, scan_init=a.scan_init, zero_init=a.zero_init, regen_block=a.regen_block))
    tl = [float(v[0]) for v in learn.recorder.values]
    res = dict(model=name, seed=seed, params=params, steps=learn.diffusion.n_batches, epochs=epochs,
               train_s=round(t_train, 1), sample_s=round(t_sample, 1), heldout_loss=held,
               final_train_loss=tl[-1] if tl else None, checkpoint=ck.name, scan_init=scan0, scan_trained=scan1,
               regen_spread=spread)
    print(f'[{name} seed {seed}] {res["steps"]} steps in {t_train:.0f} s; held-out L_simple {held:.4f}; '
          f'{a.n} samples in {t_sample:.0f} s', flush=True)
    return res, ((s.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def fill_regen_spread(meta, work, device):
    "`regen_spread` of every VM-DDPM run that lacks it (runs made before it was measured), from its checkpoint's EMA weights."
    from vmddpm_nb.learner import model_from_checkpoint
    for r in meta['runs']:
        if r['model'].startswith('vmddpm') and r.get('regen_spread') is None and (work / r['checkpoint']).exists():
            m, sched, _ = model_from_checkpoint(work / r['checkpoint'], device=device)
            r['regen_spread'] = regen_spread(m, meta['size'], sched, n=4 if meta.get('quick') else 16,
                                             steps=3 if meta.get('quick') else 25, device=device)
            print(f"[{r['model']} seed {r['seed']}] η = 0 sample spread over regeneration draws {r['regen_spread']:.4f}", flush=True)


def fid_table(work, xtr, xva, device):
    "FID of every saved sample set against the held-out and the training slices, and the real-vs-real floor."
    import torch
    from vmddpm_nb.metrics import InceptionFeatures, ensure_fid_weights, fid_from_features, inception_stats
    ensure_fid_weights()
    ext = InceptionFeatures(device)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')   # the small-n bias is stated in the table's caption
        s_va, s_tr = inception_stats(xva, ext, value_range=(-1, 1)), inception_stats(xtr, ext, value_range=(-1, 1))
        out = {'real-train vs held-out': dict(heldout=fid_from_features(s_tr, s_va), train=0.0)}
        for f in sorted(Path(work).glob('samples_*.pt')):
            u8 = torch.load(f, weights_only=True)
            st = inception_stats(u8, ext)
            out[f.stem[len('samples_'):]] = dict(heldout=fid_from_features(s_va, st), train=fid_from_features(s_tr, st))
    return out


def write_report(a, meta, fids, t_all):
    "Markdown table (+ picture) from the run's meta.json and the FIDs."
    import statistics
    runs = meta['runs']
    lines = [f"VM-DDPM ± Sequence Regeneration vs a DDPM U-Net on the demo brain slices ({a.size}×{a.size}), "
             f"device `{meta['device']}` ({meta['machine']}), torch {meta['torch']}. Each model: "
             f"{runs[0]['steps']} optimiser steps, batch {meta['bs']}, one-cycle lr {meta['lr']:g}, EMA {meta['ema']}, "
             f"{meta['n_train']} training / {meta['n_heldout']} held-out slices (random left-right flips), VM-DDPM "
             f"architecture `{meta['arch']}`{_variant(meta)}; {meta['n']} DDIM samples ({meta['sample_steps']} steps, "
             f"η = {meta['eta']:g}, regeneration while sampling: `{meta.get('regen_eval', 'random')}`) "
             f"per model; seeds {meta['seeds']}. Command: `{meta['command']}`; measured {meta['date']}, "
             f"{t_all / 60:.0f} min in all.", '',
             f"FID from {meta['n_heldout']} held-out real slices is a smoke test (rank-deficient covariance, one template "
             f"brain), not comparable with the paper's numbers; the first row is the floor these real sets allow. "
             f"η = 0 spread: {4 if meta.get('quick') else 16} η = 0 DDIM samples ({3 if meta.get('quick') else 25} steps) "
             "from one fixed x_T, drawn twice with regeneration orders from two seeds; RMS of the difference over RMS of "
             "the samples (`regen_spread`, EMA weights); 0 by construction without regeneration.", '',
             '| model | params | seed | train (s) | held-out L_simple | FID vs held-out | FID vs train | sampling (s) | η = 0 spread over regeneration draws |',
             '|---|---:|---:|---:|---:|---:|---:|---:|---:|']
    fl = fids.get('real-train vs held-out') if fids else None
    if fl: lines.append(f"| real training slices | — | — | — | — | {fl['heldout']:.1f} | — | — | — |")
    for r in runs:
        f = (fids or {}).get(f"{r['model']}_seed{r['seed']}")
        fs = (f"{f['heldout']:.1f}", f"{f['train']:.1f}") if f else ('not computed', 'not computed')
        lines.append(f"| {r['model']} | {r['params']:,} | {r['seed']} | {r['train_s']:.0f} | {r['heldout_loss']:.4f} | "
                     f"{fs[0]} | {fs[1]} | {r['sample_s']:.0f} | "
                     f"{'—' if r.get('regen_spread') is None else format(r['regen_spread'], '.3g')} |")
    if len(meta['seeds']) > 1:
        lines += ['', '| model | mean held-out L_simple | mean FID vs held-out | spread (max − min) of FID | mean η = 0 spread over regeneration draws |',
                  '|---|---:|---:|---:|---:|']
        for m in meta['models']:
            rs = [r for r in runs if r['model'] == m]
            fv = [(fids or {}).get(f"{m}_seed{r['seed']}", {}).get('heldout') for r in rs]
            fv = [v for v in fv if v is not None]
            lines.append(f"| {m} | {statistics.mean(r['heldout_loss'] for r in rs):.4f} | "
                         f"{statistics.mean(fv) if fv else float('nan'):.1f} | {max(fv) - min(fv) if fv else float('nan'):.1f} | "
                         + (f"{statistics.mean(sp):.3g} |" if (sp := [r['regen_spread'] for r in rs if r.get('regen_spread') is not None]) else '— |'))
    scan_rows = [r for r in runs if r.get('scan_trained')]
    if scan_rows:
        cols = list(scan_rows[0]['scan_trained']['all'])
        lines += ['', f"Where the scan matters (`vmddpm_nb.ss2d.scan_shares` on {meta.get('scan_n', '?')} held-out slices at "
                      f"t = {', '.join(map(str, meta.get('scan_ts', SCAN_TS)))}; medians over SS2Ds / blocks / t; EMA weights; init → trained). "
                      "C·h/D·u: RMS of the scan's order-dependent part over its skip; share: of the SS2D output; "
                      "ε̂ Δ w/o X: RMS change of the noise prediction with path X switched off, over RMS(ε̂); "
                      f"spread: RMS of ε̂'s standard deviation over {2 if meta.get('quick') else 3} regeneration orders, over RMS(ε̂).", '',
                  '| model (seed) | ' + ' | '.join(cols) + ' |', '|---|' + '---:|' * len(cols)]
        for r in scan_rows:
            lines.append(f"| {r['model']} (seed {r['seed']}) | " + ' | '.join(
                f"{r['scan_init']['all'][c]:.4f} → {r['scan_trained']['all'][c]:.4f}" for c in cols) + ' |')
    _, out = write_table(lines, a.out, HERE / 'results' / f"reproduce_{meta['device']}_{a.size}{'_quick' if a.quick else ''}.md")
    try: _picture(Path(a.work), out.with_suffix('.png'), meta)
    except Exception as e: print(f'(no picture: {e})', file=sys.stderr)


def _variant(meta):
    "The MSSBlock / SS2D-init / block-regeneration options of a run, as a caption fragment."
    bits = [f"{k} `{meta[k]}`" for k in ('fusion', 'scan_init') if meta.get(k)]
    if meta.get('zero_init'): bits.append('zero merge')
    if meta.get('ssm_stages') is not None: bits.append(f"SSM in stages {tuple(meta['ssm_stages'])}")
    if 'vmddpm-block' in meta['models']: bits.append(f"block regeneration p = {meta.get('regen_block')}")
    return f" ({', '.join(bits)})" if bits else ''


def _picture(work, path, meta):
    "Eight samples per model (first seed) beside eight held-out slices."
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import torch
    real = torch.load(work / 'heldout.pt', weights_only=True)
    rows = [('held-out real (spread over the slabs)', real[torch.linspace(0, len(real) - 1, 8).round().long()])]
    s0 = meta['seeds'][0]
    rows += [(m, torch.load(work / f'samples_{m}_seed{s0}.pt', weights_only=True)) for m in meta['models']
             if (work / f'samples_{m}_seed{s0}.pt').exists()]
    fig, axs = plt.subplots(len(rows), 8, figsize=(8, len(rows) * 1.1))
    for i, (name, x) in enumerate(rows):
        for j in range(8):
            ax = axs[i, j]; ax.axis('off')
            if j < len(x): ax.imshow(x[j, 0].numpy(), cmap='gray', vmin=0, vmax=255)
        axs[i, 0].set_title(name, fontsize=7, loc='left')
    fig.savefig(path, dpi=90, bbox_inches='tight'); plt.close(fig)


SETTINGS = ('size', 'arch', 'fusion', 'scan_init', 'zero_init', 'ssm_stages', 'regen_block', 'regen_eval', 'scan_n',
            'steps', 'bs', 'lr', 'ema', 'n', 'sample_steps', 'eta', 'repeat', 'quick', 'device')


def _finished_runs(work, meta):
    "{(model, seed): run record} of an earlier run in `work` whose settings equal `meta`'s and whose samples exist."
    f = work / 'meta.json'
    if not f.exists(): return {}
    old = json.loads(f.read_text())
    diff = [k for k in SETTINGS if old.get(k) != meta.get(k)]
    if diff: raise SystemExit(f'--resume: {f} was made with other settings ({", ".join(f"{k}: {old.get(k)!r} vs {meta.get(k)!r}" for k in diff)}); '
                              'use another --work or the same options')
    return {(r['model'], r['seed']): r for r in old.get('runs', [])
            if (work / f"samples_{r['model']}_seed{r['seed']}.pt").exists() and (work / r['checkpoint']).exists()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--size', type=int, default=32, help='image height = width (a multiple of 16)')
    p.add_argument('--arch', default='tiny', help="VM-DDPM architecture: 'demo' (the `vmddpm demo` network) or a VMDDPM_CONFIGS "
                   "name: 'tiny', 'small', 'paper128', 'tiny-every', 'small-every', 'paper128-every'")
    p.add_argument('--models', nargs='*', default=list(MODELS), choices=ALL_MODELS)
    p.add_argument('--fusion', default=None, choices=['cascade', 'parallel'], help="MSSBlock reading (default: the architecture's)")
    p.add_argument('--scan-init', default=None, choices=['mamba', 'scan'], help="SS2D initialisation (default: the architecture's)")
    p.add_argument('--zero-init', default=None, choices=['yes', 'no'],
                   help="zero-initialise each MSSBlock's merge of the SS2D output (default: the architecture's)")
    p.add_argument('--regen-block', type=int, default=2, help='block side p of the vmddpm-block model')
    p.add_argument('--regen-eval', default='random', choices=['random', 'fixed', 'off'],
                   help="regeneration while sampling: 'random' (as trained; eta=0 is then stochastic), 'fixed' (deterministic), 'off'")
    p.add_argument('--scan-n', type=int, default=8, help='held-out slices for the scan-share measurement (0: skip it)')
    p.add_argument('--steps', type=int, default=600, help='optimiser steps per model (rounded up to whole epochs)')
    p.add_argument('--bs', type=int, default=16)
    p.add_argument('--repeat', type=int, default=10, help='passes over the training slices per epoch')
    p.add_argument('--lr', type=float, default=3e-3, help='peak lr of the one-cycle schedule')
    p.add_argument('--ema', type=float, default=0.995)
    p.add_argument('--mixed-precision', default=None, choices=['bf16', 'fp16'], help='default: float32')
    p.add_argument('--n', type=int, default=256, help='DDIM samples per model')
    p.add_argument('--sample-steps', type=int, default=50)
    p.add_argument('--eta', type=float, default=1.0)
    p.add_argument('--sample-bs', type=int, default=64)
    p.add_argument('--seeds', type=int, nargs='*', default=[0])
    p.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    p.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch\'s)')
    p.add_argument('--fid', default='auto', choices=['auto', 'skip'], help="'skip': save samples only (then --eval-only)")
    p.add_argument('--eval-only', default=None, metavar='WORK', help='compute FIDs and the table for a finished run')
    p.add_argument('--work', default=None, help='folder for checkpoints and samples')
    p.add_argument('--out', default=None, help='markdown file (default benchmarks/results/reproduce_<device>_<size>.md)')
    p.add_argument('--resume', action='store_true',
                   help='keep the (model, seed) runs already finished in --work under the same settings; train the rest')
    p.add_argument('--quick', action='store_true')
    a = p.parse_args(argv)
    import torch
    if a.threads: torch.set_num_threads(a.threads)
    t0 = time.time()
    if a.eval_only:
        a.work = a.eval_only
        meta = json.loads((Path(a.work) / 'meta.json').read_text())
        a.size, a.quick = meta['size'], meta.get('quick', False)
        xtr, xva = load_data(a.size, a.quick)
        dev = 'cuda' if torch.cuda.is_available() else 'cpu'
        fids = fid_table(a.work, xtr, xva, dev)
        fill_regen_spread(meta, Path(a.work), dev)
        meta['fid'] = fids; (Path(a.work) / 'meta.json').write_text(json.dumps(meta, indent=1))
        write_report(a, meta, fids, meta['seconds'])
        return
    if a.size < 16 or a.size % 16: raise SystemExit(f'--size: expected a multiple of 16, got {a.size}')
    if a.device == 'cuda' and not torch.cuda.is_available(): raise SystemExit('--device cuda: no GPU visible')
    if a.quick: a.steps, a.n, a.repeat, a.sample_steps, a.bs, a.scan_n = 6, 8, 1, 4, min(a.bs, 8), min(a.scan_n, 1)
    if a.regen_block < 1: raise SystemExit(f'--regen-block: expected a positive int, got {a.regen_block}')
    if a.scan_n < 0: raise SystemExit(f'--scan-n: expected an int >= 0, got {a.scan_n}')
    a.work = a.work or str(Path('reproduce_runs') / f"{a.device}_{a.size}{'_quick' if a.quick else ''}")
    work = Path(a.work); work.mkdir(parents=True, exist_ok=True)
    xtr, xva = load_data(a.size, a.quick)
    torch.save(((xva.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8), work / 'heldout.pt')
    m = machine()
    from vmddpm_nb.model import vmddpm_config
    cfg_name, over = arch_kwargs(a.arch, a.fusion, a.scan_init, a.zero_init)
    eff = vmddpm_config(cfg_name, **over)                       # the VM-DDPM's effective options, for the caption
    meta = dict(size=a.size, arch=a.arch, fusion=eff.get('fusion', 'parallel'), scan_init=eff.get('scan_init', 'mamba'),
                zero_init=bool(eff.get('zero_init', False)),
                ssm_stages=list(eff['ssm_stages']), regen_block=a.regen_block,
                regen_eval=a.regen_eval, scan_n=a.scan_n, steps=a.steps, scan_ts=[500] if a.quick else list(SCAN_TS), models=a.models, seeds=a.seeds, bs=a.bs, lr=a.lr, ema=a.ema, n=a.n,
                sample_steps=a.sample_steps, eta=a.eta, repeat=a.repeat, quick=a.quick, device=a.device,
                n_train=len(xtr), n_heldout=len(xva), torch=torch.__version__, machine=f"{m['gpu'] or m['cpu']}, {m['cores']} cores, {m['threads']} threads",
                command='python benchmarks/reproduce.py ' + ' '.join(sys.argv[1:] if argv is None else argv),
                date=time.strftime('%Y-%m-%d'), runs=[])
    done = _finished_runs(work, meta) if a.resume else {}
    for seed in a.seeds:
        for name in a.models:
            if (name, seed) in done:
                print(f'[{name} seed {seed}] finished earlier in {work}: kept', flush=True)
                meta['runs'].append(done[name, seed]); continue
            r, u8 = train_one(name, a, xtr, xva, seed)
            torch.save(u8, work / f'samples_{name}_seed{seed}.pt')
            meta['runs'].append(r)
            (work / 'meta.json').write_text(json.dumps(meta, indent=1))
    meta['seconds'] = time.time() - t0
    fids = None
    if a.fid == 'auto':
        try: fids = fid_table(work, xtr, xva, a.device)
        except Exception as e: print(f'FID not computed here ({type(e).__name__}: {e}); run --eval-only {work}', file=sys.stderr)
    meta['fid'] = fids
    (work / 'meta.json').write_text(json.dumps(meta, indent=1))
    write_report(a, meta, fids, time.time() - t0)


if __name__ == '__main__':
    main()
