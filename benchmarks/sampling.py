"""Sampling cost and quality of a trained VM-DDPM: DDPM with all 1000 steps against DDIM with 50 and 100 steps.

    python benchmarks/reproduce.py && python benchmarks/sampling.py          # CPU: the model reproduce.py trained
    python benchmarks/sampling.py --checkpoint run/checkpoint.pt --size 64 --n 512 --device cuda
    python benchmarks/sampling.py --quick                                     # smoke run: untrained model, 4 images

For each sampler the script draws `--n` images in batches of `--bs` (each batch seeded), times every batch (CUDA
synchronised) and reports the median time per batch divided by the batch size as the time per sample, then the FID
of the samples against the held-out demo slices (and, as the floor these sets allow, the training slices against
the held-out ones). The samplers share the trained network, the start noise of each batch (same seed) and the
schedule; only the reverse process differs. FID from ~30 held-out images is a smoke test, not a paper number.
Writes benchmarks/results/sampling_<device>_<size>.md.
"""
import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _bench import machine, write_table  # noqa: E402
SAMPLERS = (('ddpm', 1000), ('ddim', 50), ('ddim', 100))
DEFAULT_CKPT = Path('reproduce_runs') / 'cpu_32' / 'vmddpm_seed0.pt'


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--checkpoint', default=None, help=f'a `save_checkpoint` file of a VM-DDPM (default: {DEFAULT_CKPT})')
    p.add_argument('--size', type=int, default=None, help="image size (default: the checkpoint's, else 32)")
    p.add_argument('--n', type=int, default=128, help='samples per sampler')
    p.add_argument('--bs', type=int, default=32, help='samples per timed batch')
    p.add_argument('--eta', type=float, default=1.0, help='DDIM η (1: as stochastic as DDPM; 0: deterministic)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--fid', default='auto', choices=['auto', 'skip'])
    p.add_argument('--quick', action='store_true')
    p.add_argument('--out', default=None)
    a = p.parse_args(argv)
    import torch
    if a.threads: torch.set_num_threads(a.threads)
    if a.device == 'cuda' and not torch.cuda.is_available(): raise SystemExit('--device cuda: no GPU visible')
    if a.n < 1 or a.bs < 1: raise SystemExit('--n and --bs must be positive')
    from vmddpm_nb.data import demo_brain_slices, split_slabs
    from vmddpm_nb.diffusion import NoiseSchedule
    from vmddpm_nb.learner import model_from_checkpoint, sample_images, vmddpm_model
    from vmddpm_nb.cli import DEMO_MODEL
    t0 = time.time()
    if a.quick:
        torch.manual_seed(a.seed)
        model, sched, src = vmddpm_model('tiny', **DEMO_MODEL).eval(), NoiseSchedule.from_name('linear_beta', 40), 'untrained (--quick)'
        a.n, a.bs, a.size = 4, 2, a.size or 16
        samplers = (('ddpm', 40), ('ddim', 10))   # a 40-step schedule: the smoke run checks the plumbing, not the speed
        model = model.to(a.device)
    else:
        ck_path = Path(a.checkpoint) if a.checkpoint else DEFAULT_CKPT
        if not ck_path.is_file():
            raise SystemExit(f'--checkpoint: {ck_path} not found (train one first: python benchmarks/reproduce.py, '
                             f'or `vmddpm demo`, whose checkpoint.pt works too)')
        model, sched, ck = model_from_checkpoint(ck_path, device=a.device)
        a.size = a.size or (ck.get('extra') or {}).get('size') or 32
        src, samplers = str(ck_path), SAMPLERS
    x, z = demo_brain_slices(a.size, return_z=True)
    tr, va = split_slabs(z)
    xtr, xva = x[tr], x[va]
    params = sum(p_.numel() for p_ in model.parameters())
    sync = torch.cuda.synchronize if a.device == 'cuda' else (lambda: None)
    rows = []
    for sampler, steps in samplers:
        if steps > sched.T: continue
        times, outs = [], []
        for i in range(0, a.n, a.bs):
            k = min(a.bs, a.n - i)
            sync(); t1 = time.perf_counter()
            outs.append(sample_images(model, sched, k, (1, a.size, a.size), sampler, steps, a.eta, seed=a.seed + i, device=a.device))
            sync(); times.append((time.perf_counter() - t1) / k)
        rows.append(dict(sampler=sampler, steps=steps, per_sample=statistics.median(times), batches=len(times),
                         samples=torch.cat(outs)))
        print(f'{sampler} {steps:4d} steps: {rows[-1]["per_sample"]:.4g} s per sample (median of {len(times)} batches)', flush=True)
    floor = None
    if a.fid == 'auto':
        from vmddpm_nb.metrics import InceptionFeatures, ensure_fid_weights, fid_from_features, inception_stats
        ensure_fid_weights()
        ext = InceptionFeatures(a.device)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')   # the small-n bias is stated in the caption
            s_va = inception_stats(xva, ext, value_range=(-1, 1))
            floor = fid_from_features(inception_stats(xtr, ext, value_range=(-1, 1)), s_va)
            for r in rows: r['fid'] = fid_from_features(s_va, inception_stats(r['samples'], ext, value_range=(-1, 1)))
    m = machine()
    if a.threads: m['threads'] = a.threads
    ref = next((r for r in rows if r['sampler'] == 'ddpm'), rows[0])
    lines = [f"Sampling a trained VM-DDPM ({params:,} parameters, `{src}`), {a.size}×{a.size}, device `{a.device}` "
             f"({m['gpu'] or m['cpu']}, {m['cores']} cores, torch {m['torch']}, {m['threads']} threads). {a.n} samples per "
             f"sampler in batches of {a.bs}; time per sample = median batch time / batch size. DDIM η = {a.eta:g}. "
             f"Command: `python benchmarks/sampling.py {' '.join(sys.argv[1:] if argv is None else argv)}`; "
             f"measured {time.strftime('%Y-%m-%d')}, {time.time() - t0:.0f} s in all.", '',
             f"FID against the {len(xva)} held-out slices (a smoke test at this n); the training slices against the "
             f"held-out ones give {floor:.1f}." if floor is not None else 'FID not computed (--fid skip).', '',
             '| sampler | network evaluations | time per sample (s) | speed-up vs DDPM | FID vs held-out |',
             '|---|---:|---:|---:|---:|']
    for r in rows:
        lines.append(f"| {r['sampler'].upper()} {r['steps']} | {r['steps']} | {r['per_sample']:.4g} | "
                     f"{ref['per_sample'] / r['per_sample']:.1f}× | {r.get('fid', float('nan')):.1f} |")
    write_table(lines, a.out, HERE / 'results' / f"sampling_{a.device}_{a.size}{'_quick' if a.quick else ''}.md")


if __name__ == '__main__':
    main()
