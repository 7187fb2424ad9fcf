"""CT→MR latent translation on the offline demo pairs: DiffMa against the released single-Mamba comparison blocks in
DiffMa's skeleton, a MONAI U-Net on concatenated latents, and three ablations of DiffMa, at matched parameter counts.

    python benchmarks/translate.py                         # CPU default: 64² slices (16² latents), 600 steps, 100 sampling steps
    python benchmarks/translate.py --quick                 # smoke run: 32² slices, a few steps, 2 validation slices
    python benchmarks/translate.py --seeds 3 --steps 2000 --device cuda

What is held fixed across the models: the data (`vmddpm_nb.data.demo_pairs`: the real MNI152 T1 template as MR and a
SYNTHETIC pseudo-CT from its tissue maps, split by slabs with `split_slabs`), ONE frozen autoencoder (lesson 13's MONAI
`AutoencoderKL`, 'tiny', ×4; trained once, seed 0, and cached beside the output), ONE Vision Embedder pre-trained once
with InfoNCE (`pretrain_embedder`, seed 0; shared by every model that takes one), the loss (`HybridLoss`: ε MSE + L_vb,
learned variance), the optimiser (fastai Adam, `--lr`, no weight decay), the EMA (`--ema`, no warm-up), the number of
optimiser steps (`--steps`, exactly: the fit is cancelled at the step), the batches, t, ε and latent samples (one
`--seeds` seed), and the sampler (`translate`: DDPM with the learned variance on `--sample-steps` re-spaced steps, EMA
weights, the same seed). Scores: `translation_metrics` of the generated against the real validation MR, on 8-bit
levels over the whole slice and on [-1, 1] intensities inside the head mask.

Models (all but the U-Net are lesson 12's `DiffMa` backbone in `diffma_translator`, trained with `translation_learner`):
  DiffMa           scheme 'diffma', convention 'path': DiffMaBlock (a plain and a soft-masked Mamba over row, spiral,
                   reversed spiral; a token-wise gate between them)
  ZigMa            scheme 'zigma': the released single-Mamba adaLN block, one zigzag route per block
  ViM              scheme 'vim': the released single-Mamba adaLN block over (row, row reversed), averaged
  VMamba           scheme 'vmamba_released': the released single-Mamba adaLN block over four snake routes, summed
  UNet             MONAI's DiffusionModelUNet (`unet_baseline`) on [x_t ; CT latent] (8 channels in, 8 out: ε̂ and
                   v_raw, the same hybrid loss); the CT reaches it only as its latent (no image encoder, no embedder)
  DiffMa-nomask    DiffMa with w = 1 everywhere in the blocks (the embedder's tokens y2, hence c, unchanged)
  DiffMa-released  DiffMa with convention 'diffma_released' (the released gather of the spiral routes, lesson 12 "Spiral scan orders")
  DiffMa-raster    DiffMa whose two Mambas per block read only the raster route ('row'; DiffMa has no `routes`
                   argument: the benchmark sets each block's routes after building it; parameters unchanged)
There is no DiT-style attention block in DiffMa's skeleton in this repository (lesson 10's `DiTDenoiser` is conditioned
on t only), so no DiT row: the output says so. The three ablations are DiffMa's network with DiffMa's initial weights.

Parameter matching (trainable parameters: backbone + CT image encoder; the frozen embedder and position table are left
out): the single-Mamba models keep DiffMa's width and state size and get the depth whose count is closest to DiffMa's,
which must lie within ±`--tol` (15 %); the U-Net gets, over a few level layouts, the base width (a multiple of 4) whose
count is closest, flagged in the table when it misses the tolerance. The U-Net is `vmddpm_nb.translate.ConcatTranslator`
around the U-Net; it trains and samples through the same `translation_learner` and `translate` as DiffMa.

Writes benchmarks/results/translate_<size>.md and .json (`--out`), and caches the shared autoencoder and embedder in
translate_<size>_shared.pt beside them (not in git; reused only when every setting that made them matches).
"""
import argparse
import hashlib
import json
import math
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _bench import machine, write_table  # noqa: E402

VARIANTS = {   # name: (scheme, convention, ablation)
    'DiffMa': ('diffma', 'path', None),
    'ZigMa': ('zigma', 'path', None),
    'ViM': ('vim', 'path', None),
    'VMamba': ('vmamba_released', 'path', None),
    'UNet': (None, None, None),
    'DiffMa-nomask': ('diffma', 'path', 'nomask'),
    'DiffMa-released': ('diffma', 'diffma_released', None),
    'DiffMa-raster': ('diffma', 'path', 'raster'),
}
SINGLE_MAMBA = ('ZigMa', 'ViM', 'VMamba')
UNET_LAYOUTS = (((1, 2, 2), 1), ((1, 2, 2), 2), ((1, 1, 2), 1), ((1, 1, 2), 2), ((1, 2), 1), ((1, 2), 2))   # (ch_mult, res blocks)
AE_CONFIG = dict(size='tiny', down=4)
CEILING = 'AE reconstruction (ceiling)'


# ---------------------------------------------------------------------------------------------------------- models
def trainable(model):
    "Trainable parameters (the frozen embedder and DiffMa's frozen position table left out)."
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def build(name, spec, embedder_state=None):
    "The model `name` under `spec` (initialised from torch's global RNG: seed it first)."
    from vmddpm_nb.baselines import unet_baseline
    from vmddpm_nb.translate import ConcatTranslator, diffma_translator
    if name == 'UNet': return ConcatTranslator(unet_baseline(**spec['unet']))
    scheme, convention, ablation = VARIANTS[name]
    m = diffma_translator('tiny', latent_size=spec['latent_size'], latent_channels=spec['channels'],
                          hidden_size=spec['hidden'], depth=spec['depths'][name], d_state=spec['d_state'],
                          patch_size=spec['patch'], scheme=scheme, convention=convention,
                          soft_mask=ablation != 'nomask')                    # nomask: w = 1 in every block; y2 unchanged
    if embedder_state is not None: m.embedder.load_state_dict(embedder_state)
    if ablation == 'raster':
        for blk in m.backbone.blocks:
            for mamba in (blk.mamba1, blk.mamba2): mamba.routes, mamba._paths = ('row',), {}
    return m


def count(name, spec):
    "Trainable parameters of `build(name, spec)`, built on the meta device."
    import torch
    with torch.device('meta'): return trainable(build(name, spec))


def match(spec, names, tol):
    "Fill spec['depths'] and spec['unet'] so the counts match DiffMa's; return ({name: count}, {name: note})."
    from vmddpm_nb.baselines import unet_matching
    spec['depths'] = {n: spec['depth'] for n in VARIANTS if n != 'UNet'}
    target = count('DiffMa', spec)
    counts, notes = {}, {}
    for name in names:
        if name in SINGLE_MAMBA:
            best = None
            for d in range(1, 8 * spec['depth'] + 1):
                spec['depths'][name] = d
                n = count(name, spec)
                if best is None or abs(n / target - 1) < abs(best[1] / target - 1): best = (d, n)
                if n > target: break
            spec['depths'][name] = best[0]
            if abs(best[1] / target - 1) > tol:
                raise ValueError(f"--tol: no depth of {name} at width {spec['hidden']} has {target:,} trainable parameters "
                                 f"within ±{tol:.0%}; the closest is depth {best[0]} with {best[1]:,}")
        elif name == 'UNet':
            best = None
            for ch_mult, nrb in UNET_LAYOUTS:
                if spec['latent_size'] % 2 ** (len(ch_mult) - 1): continue
                try: r = unet_matching(target, tol=10.0, ch_mult=ch_mult, num_res_blocks=nrb, in_ch=2 * spec['channels'],
                                       align=4, max_base=512)
                except ValueError: continue
                if best is None or abs(r['ratio'] - 1) < abs(best['ratio'] - 1): best = r
            if best is None: raise ValueError('--size: no U-Net layout fits this latent size')
            spec['unet'] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in best['kwargs'].items()}
            if abs(best['ratio'] - 1) > tol:
                notes[name] = f"outside ±{tol:.0%}: the nearest U-Net width"
        counts[name] = count(name, spec)
    return counts, notes


def describe(name, spec):
    "Depth × width (or the U-Net's levels) for the table."
    if name == 'UNet':
        u = spec['unet']
        return f"levels {tuple(u['channels'])}, {u['num_res_blocks']} res"
    return f"{spec['depths'][name]} × {spec['hidden']}"


# -------------------------------------------------------------------------------------- training and sampling paths
def _stop_after(n):
    "A callback that ends the fit after exactly `n` optimiser steps (before any validation of that epoch)."
    from fastai.callback.core import Callback, CancelFitException

    class StopAfter(Callback):
        run_valid, order = False, 0      # after TrainEvalCallback (-10) has counted the step
        def after_batch(self):
            if self.learn.train_iter >= n: raise CancelFitException()
    return StopAfter()


def loaders(train, valid, bs, seed, device):
    "Paired loaders; the validation loader holds one pair (the fit is cancelled before any validation pass)."
    from vmddpm_nb.data import paired_dataloaders
    return paired_dataloaders(train, {k: v[:1] for k, v in valid.items()}, bs=bs, seed=seed, device=device)


def fit(model, dls, ae, scale, schedule, a, seed, steps):
    "Train for exactly `steps` optimiser steps; return (learner, seconds)."
    import torch
    from vmddpm_nb.translate import translation_learner
    learn = translation_learner(dls, model, ae, scale, schedule=schedule, lr=a.lr, ema_decay=a.ema, seed=seed, cbs=[_stop_after(steps)])
    sync = torch.cuda.synchronize if a.device == 'cuda' else (lambda: None)
    with learn.no_bar(), learn.no_logging():
        sync(); t0 = time.perf_counter()
        learn.fit(math.ceil(steps / len(dls.train)))
        sync(); dt = time.perf_counter() - t0
    if learn.train_iter != steps: raise RuntimeError(f'trained {learn.train_iter} steps, expected {steps}')
    return learn, dt


def sample(model, ae, scale, ct, schedule, steps, seed, device):
    "Translate the CT slices with the EMA model; return (images, seconds)."
    import torch
    from vmddpm_nb.translate import translate
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)
    sync(); t0 = time.perf_counter()
    mr = translate(model, ae, scale, ct, schedule, steps=steps, seed=seed)['mr']
    sync()
    return mr, time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------------- shared parts
def _digest(*ts):
    h = hashlib.sha1()
    for t in ts: h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def shared_parts(train, spec, a, cache, fresh=False):
    """The autoencoder (+ its latent scale) and the pre-trained Vision Embedder every model shares: read from `cache`
    when it was made with the same settings and data (and not `fresh`), else trained now (seed 0) and written there."""
    import torch
    from vmddpm_nb.autoencoder import autoencoder_kl, encode, latent_scale, train_autoencoder
    from vmddpm_nb.diffma import VisionEmbedder
    from vmddpm_nb.translate import pretrain_embedder
    key = dict(ae=AE_CONFIG, ae_steps=a.ae_steps, ae_lr=2e-3, ae_bs=16, emb_steps=a.embedder_steps, emb_lr=1e-3, emb_bs=32,
               latent_size=spec['latent_size'], channels=spec['channels'], patch=spec['patch'], hidden=spec['hidden'],
               seed=0, data=_digest(train['ct'], train['mr']), torch=torch.__version__)
    key = json.dumps(key, sort_keys=True)
    ae = autoencoder_kl(**AE_CONFIG)
    emb = VisionEmbedder(spec['latent_size'], spec['patch'], spec['channels'], spec['hidden'])
    if not fresh and cache.is_file():
        try:
            d = torch.load(cache, weights_only=True)
            if d.get('key') == key:
                ae.load_state_dict(d['ae']); emb.load_state_dict(d['embedder'])
                print(f'shared autoencoder and embedder: reused {cache}', flush=True)
                return ae.eval().requires_grad_(False), float(d['scale']), emb.eval().requires_grad_(False), True
            print(f'shared autoencoder and embedder: {cache} was made with other settings; training again', flush=True)
        except Exception as e:  # a broken cache is rebuilt, never trusted
            print(f'shared autoencoder and embedder: unreadable {cache} ({e}); training again', flush=True)
    both = torch.cat([train['ct'], train['mr']])
    torch.manual_seed(0)
    ae = autoencoder_kl(**AE_CONFIG)
    train_autoencoder(ae, both, steps=a.ae_steps, bs=16, lr=2e-3, seed=0, device=a.device)
    scale = latent_scale(ae, both)
    ae.eval().requires_grad_(False)
    with torch.no_grad(): ct_lat = encode(ae, train['ct'], scale)
    torch.manual_seed(0)
    emb = VisionEmbedder(spec['latent_size'], spec['patch'], spec['channels'], spec['hidden'])
    pretrain_embedder(emb, ct_lat, steps=a.embedder_steps, bs=32, lr=1e-3, ema_decay=None, seed=0, device=a.device)
    ae, emb = ae.cpu(), emb.cpu()
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f'{cache.stem}.{os.getpid()}.tmp.pt')   # *.pt: ignored by git even if left behind
    torch.save({'key': key, 'ae': ae.state_dict(), 'scale': scale, 'embedder': emb.state_dict()}, tmp)
    tmp.replace(cache)                                   # atomic: never a half-written cache
    return ae, scale, emb, False


# ------------------------------------------------------------------------------------------------------------ table
METRICS = (('uint8', 'whole', 'ssim'), ('uint8', 'whole', 'psnr'), ('uint8', 'whole', 'mse'),
           ('intensity', 'mask', 'ssim'), ('intensity', 'mask', 'psnr'), ('intensity', 'mask', 'mse'))
FMT = {'ssim': '.4f', 'psnr': '.2f', 'uint8/mse': '.1f', 'intensity/mse': '.5f'}   # plain decimals: no exponents in a table


def fmt(conv, metric): return FMT.get(metric) or FMT[f'{conv}/{metric}']


def cell(vals, f):
    "One value, or mean ± sample standard deviation over seeds."
    if len(vals) == 1: return format(vals[0], f)
    return f"{format(statistics.mean(vals), f)} ± {format(statistics.stdev(vals), f)}"


def _pos(s):
    "argparse type: a positive int."
    try: v = int(s)
    except ValueError: raise argparse.ArgumentTypeError(f'expected a positive int, got {s!r}') from None
    if v < 1: raise argparse.ArgumentTypeError(f'expected a positive int, got {v}')
    return v


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--size', type=_pos, default=None, help='slice side in pixels (default 64; --quick: 32); latents are size/4')
    p.add_argument('--steps', type=_pos, default=None, help='optimiser steps per model (default 600; --quick: 3)')
    p.add_argument('--sample-steps', type=_pos, default=None,
                   help='re-spaced DDPM sampling steps (default 100; --quick: 3; DiffMa: 250)')
    p.add_argument('--seeds', type=_pos, default=1, help='seeds 0..N-1 per model (init, batches, noise, sampling)')
    p.add_argument('--models', nargs='+', default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument('--hidden', type=_pos, default=32, help="DiffMa's width (the 'tiny' configuration: 32)")
    p.add_argument('--depth', type=_pos, default=4, help="DiffMa's number of blocks ('tiny': 4)")
    p.add_argument('--d-state', type=_pos, default=8, help="Mamba state size ('tiny': 8)")
    p.add_argument('--patch', type=_pos, default=2, help='patch size on the latent')
    p.add_argument('--tol', type=float, default=0.15, help='accepted relative parameter mismatch against DiffMa')
    p.add_argument('--bs', type=_pos, default=16)
    p.add_argument('--lr', type=float, default=1e-3, help="Adam learning rate (lesson 14's demo; DiffMa: 1e-4)")
    p.add_argument('--ema', type=float, default=0.99, help="EMA decay (lesson 14's demo; DiffMa: 0.999)")
    p.add_argument('--ae-steps', type=_pos, default=None, help='autoencoder training steps (default 400; --quick: 20)')
    p.add_argument('--embedder-steps', type=_pos, default=None, help='InfoNCE steps of the embedder (default 300; --quick: 5)')
    p.add_argument('--n-valid', type=_pos, default=None, help='validation slices translated (default all; --quick: 2)')
    p.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    p.add_argument('--threads', type=_pos, default=None, help="torch threads (default: torch's)")
    p.add_argument('--fresh', action='store_true', help='retrain the shared autoencoder and embedder even if cached')
    p.add_argument('--quick', action='store_true', help='smoke run: 32² slices, 3 steps, 3 sampling steps, 2 slices')
    p.add_argument('--out', default=None, help='markdown file (default benchmarks/results/translate_<size>.md); '
                   'the JSON and the shared-parts cache go beside it')
    a = p.parse_args()
    cmd = ' '.join(['python benchmarks/translate.py'] + [shlex.quote(x) for x in sys.argv[1:]])
    print(f'command: {cmd}', flush=True)
    if not 0 <= a.tol < 1: p.error(f'--tol: expected a fraction in [0, 1), got {a.tol}')
    if not 0 <= a.ema < 1: p.error(f'--ema: expected a decay in [0, 1), got {a.ema}')
    if not (math.isfinite(a.lr) and a.lr > 0): p.error(f'--lr: expected a positive number, got {a.lr}')
    if a.hidden % 4: p.error(f'--hidden: expected a multiple of 4 (2-D sin-cos positions), got {a.hidden}')
    a.size = a.size or (32 if a.quick else 64)
    a.steps = a.steps or (3 if a.quick else 600)
    a.sample_steps = a.sample_steps or (3 if a.quick else 100)
    if a.sample_steps < 2: p.error('--sample-steps: expected at least 2')
    a.ae_steps = a.ae_steps or (20 if a.quick else 400)
    a.embedder_steps = a.embedder_steps or (5 if a.quick else 300)
    a.n_valid = a.n_valid or (2 if a.quick else None)
    if a.size % 4 or (a.size // 4) % a.patch: p.error(f'--size: {a.size}/4 must be a multiple of --patch {a.patch}')
    names = list(dict.fromkeys(['DiffMa'] + a.models))          # DiffMa: the budget every other model matches

    import torch
    from vmddpm_nb.data import demo_pairs, split_slabs
    from vmddpm_nb.diffma import ROUTE_SCHEMES
    from vmddpm_nb.diffusion import NoiseSchedule
    from vmddpm_nb.metrics import translation_metrics
    from vmddpm_nb.autoencoder import decode, encode
    if a.threads: torch.set_num_threads(a.threads)
    if a.device == 'cuda' and not torch.cuda.is_available(): p.error('--device: cuda requested but torch sees no GPU')
    t_all = time.time()
    default = HERE / 'results' / f"translate_{a.size}{'_quick' if a.quick else ''}.md"
    out = Path(a.out) if a.out else default
    cache = out.parent / f"translate_{a.size}{'_quick' if a.quick else ''}_shared.pt"

    pairs = demo_pairs(a.size)
    tr, va = split_slabs(pairs['z'])
    train = {k: pairs[k][tr] for k in ('ct', 'mr', 'mask')}
    valid = {k: pairs[k][va][:a.n_valid] for k in ('ct', 'mr', 'mask')}
    print(f'{len(tr)} training and {len(valid["ct"])} validation pairs of {a.size}² slices (SYNTHETIC CT)', flush=True)

    spec = dict(latent_size=a.size // 4, channels=4, hidden=a.hidden, depth=a.depth, d_state=a.d_state, patch=a.patch)
    try: counts, notes = match(spec, names, a.tol)
    except ValueError as e: p.error(str(e))
    print('trainable parameters: ' + ', '.join(f'{n} {counts[n]:,} ({describe(n, spec)})' for n in names), flush=True)

    ae, scale, emb, reused = shared_parts(train, spec, a, cache, fresh=a.fresh)
    ae = ae.to(a.device)
    emb_state = emb.state_dict()
    schedule = NoiseSchedule.from_name('linear_beta', 1000)
    with torch.no_grad(): rec = decode(ae, encode(ae, valid['mr'], scale), scale).float().clamp(-1, 1).cpu()
    ceiling = translation_metrics(rec, valid['mr'], valid['mask']).mean

    seeds = list(range(a.seeds))
    runs = {n: [] for n in names}
    for name in names:
        for s in seeds:
            torch.manual_seed(s)
            m = build(name, spec, emb_state)
            if trainable(m) != counts[name]:
                raise RuntimeError(f'{name}: built {trainable(m):,} trainable parameters, matched {counts[name]:,}')
            learn, t_train = fit(m, loaders(train, valid, a.bs, s, a.device), ae, scale, schedule, a, s, a.steps)
            losses = [float(v) for v in learn.recorder.losses]
            mr, t_sample = sample(learn.ema.ema_model, ae, scale, valid['ct'], schedule, a.sample_steps, s, a.device)
            sc = translation_metrics(mr, valid['mr'], valid['mask'])
            r = dict(seed=s, train_s=t_train, sample_s=t_sample, metrics=sc.flat(),
                     loss_last=statistics.mean(losses[-max(1, len(losses) // 10):]))
            runs[name].append(r)
            print(f"  {name:16s} seed {s}: SSIM {sc.mean['uint8']['whole']['ssim']:.4f} (uint8, whole), "
                  f"{sc.mean['intensity']['mask']['ssim']:.4f} (intensity, mask); train {t_train:.1f} s, "
                  f"sample {t_sample:.1f} s", flush=True)

    m = machine()
    if a.threads: m['threads'] = a.threads
    dit = [s for s in ROUTE_SCHEMES if 'dit' in s]
    dit_note = ("DiT: skipped. This repository has no DiT-style attention block in DiffMa's skeleton (the route schemes of "
                f"`vmddpm_nb.diffma` are {', '.join(ROUTE_SCHEMES)}: Mamba blocks only; lesson 10's `DiTDenoiser` is "
                "conditioned on t only, with no CT input). The released code's DiT baseline is not rebuilt here."
                if not dit else f"DiT: route scheme(s) {dit} exist but this benchmark does not build them yet.")
    spread = 'one seed' if len(seeds) == 1 else f'mean ± sample standard deviation over seeds {seeds}; times: median'
    lines = [f"CT→MR translation on the demo pairs ({a.size}² slices, {len(tr)} training / {len(valid['ct'])} validation "
             f"pairs split by slabs; the MR is the real MNI152 T1, the CT is SYNTHETIC), device `{a.device}` "
             f"({m['gpu'] or m['cpu']}, {m['cores']} cores, torch {m['torch']}, {m['threads']} threads). One frozen "
             f"autoencoder ({AE_CONFIG['size']}, ×4, {a.ae_steps} steps, latent scale {scale:.3f}) and one Vision Embedder "
             f"({a.embedder_steps} InfoNCE steps) shared by all models{' (reused from the cache)' if reused else ''}. "
             f"Every model: {a.steps} Adam steps (lr {a.lr:g}, batch {a.bs}), hybrid loss, EMA {a.ema:g}; sampled with the "
             f"EMA weights, {a.sample_steps} re-spaced DDPM steps. Trainable parameters matched to DiffMa's within "
             f"±{a.tol:.0%} (rule below). Scores: SSIM / PSNR (dB) / MSE on 8-bit levels over the whole slice (MSE in "
             f"levels²), and on [-1, 1] intensities inside the head mask; {spread}. Train s: the fit ({a.steps} steps, "
             f"including the autoencoder's encoding of each batch); sample s: translating all validation slices.",
             '', f'Command: `{cmd}`; measured {time.strftime("%Y-%m-%d")}, {time.time() - t_all:.0f} s in all.', '',
             '| model | params | vs DiffMa | blocks × width | SSIM uint8 whole | PSNR uint8 whole | MSE uint8 whole | '
             'SSIM intensity mask | PSNR intensity mask | MSE intensity mask | train s | sample s |',
             '|---|---:|---:|---|' + '---:|' * 8]
    for n in names:
        vals = [cell([r['metrics']['/'.join(k)] for r in runs[n]], fmt(k[0], k[2])) for k in METRICS]
        ts = [statistics.median(r[k] for r in runs[n]) for k in ('train_s', 'sample_s')]
        flag = f' ({notes[n]})' if n in notes else ''
        lines.append(f"| {n} | {counts[n]:,}{flag} | {counts[n] / counts['DiffMa']:.3f}× | {describe(n, spec)} | "
                     + ' | '.join(vals) + f' | {ts[0]:.3g} | {ts[1]:.3g} |')
    lines.append(f"| {CEILING} | — | — | — | " + ' | '.join(format(ceiling[c][r][k], fmt(c, k)) for c, r, k in METRICS) + ' | — | — |')
    lines += ['', "Models: DiffMa = DiffMaBlock (plain + soft-masked Mamba over row, spiral, reversed spiral; token gate), "
              "convention 'path'; ZigMa / ViM / VMamba = the released single-Mamba adaLN block with the 'zigma' / 'vim' / "
              "'vmamba_released' routes in the same skeleton (same conditioning c, long skips, final layer); UNet = MONAI's "
              "DiffusionModelUNet on [x_t ; CT latent] (8 → 8 channels: ε̂ and v_raw) in `ConcatTranslator`, trained and sampled "
              "through the same translation_learner/translate; DiffMa-nomask = w = 1 in every block "
              "(y2 unchanged); DiffMa-released = convention 'diffma_released'; DiffMa-raster = both Mambas of every block "
              "on the raster route only. The ablations keep DiffMa's network and initial weights.",
              '', "Parameter rule: trainable parameters = backbone + CT image encoder (the frozen embedder and position "
              "table excluded). ZigMa, ViM and VMamba keep DiffMa's width and state size and take the depth whose count is "
              f"closest to DiffMa's (required within ±{a.tol:.0%}); the U-Net takes, over the layouts (ch_mult, res blocks) "
              f"{[(list(c), r) for c, r in UNET_LAYOUTS]}, the base width (a multiple of 4) whose count is closest.",
              '', dit_note,
              '', "The last row scores the autoencoder's reconstruction of the real validation MR (the decoded latent of the "
              "real slice, the best any model's latent can hope to decode to): the ceiling the autoencoder sets.",
              'The demo set is ONE template brain with a synthetic CT: a smoke comparison of relative quality at a CPU size, '
              "not DiffMa's SynthRAD2023 numbers."]
    _, path = write_table(lines, a.out, default)
    summary = {n: {'params': counts[n], 'config': describe(n, spec), 'note': notes.get(n),
                   'mean': {k: statistics.mean(r['metrics'][k] for r in runs[n]) for k in runs[n][0]['metrics']},
                   'std': ({k: statistics.stdev(r['metrics'][k] for r in runs[n]) for k in runs[n][0]['metrics']}
                           if len(seeds) > 1 else None),
                   'train_s_median': statistics.median(r['train_s'] for r in runs[n]),
                   'sample_s_median': statistics.median(r['sample_s'] for r in runs[n]), 'runs': runs[n]} for n in names}
    res = dict(command=cmd, date=time.strftime('%Y-%m-%d %H:%M'), machine=m, options=vars(a), spec=spec,
               n_train=len(tr), n_valid=len(valid['ct']), latent_scale=scale, shared_reused=reused,
               models=summary,
               ceiling={f'{c}/{r}/{k}': v for c, rs in ceiling.items() for r, ks in rs.items() for k, v in ks.items()},
               dit=dit_note, seconds=time.time() - t_all)
    path.with_suffix('.json').write_text(json.dumps(res, indent=1))
    print(f"written to {path.with_suffix('.json')}")


if __name__ == '__main__':
    main()
