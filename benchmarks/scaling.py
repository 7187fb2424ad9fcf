"""Cost against resolution: VM-DDPM vs a DDPM U-Net vs a DiT, at matched parameter counts.

    python benchmarks/scaling.py                   # CPU: 32, 64, 128, 256 px, the 'tiny' budget (~10 min on 2 cores)
    python benchmarks/scaling.py --quick           # 16, 32, 64 px (a minute)
    python benchmarks/scaling.py --device cuda --config small --sizes 32 64 128 256 512

For each model and each size: forward + backward of a batch (`--bs`, 1 channel) with an L_simple-style loss,
median of `--repeats` runs after one warm-up, in a fresh process (peak memory: resident set above the start on the CPU,
`max_memory_allocated` on CUDA). The U-Net (MONAI's DiffusionModelUNet) and the DiT (global attention over 2x2
patches) are sized by `unet_matching`/`dit_matching` to the VM-DDPM configuration's parameter count. A size is
skipped when the DiT's attention matrices alone would need more than `--max-attn-gb`. The log-log slope of time
against the number of pixels is fitted over the largest three sizes each model ran: about 1 for linear cost, 2 for
quadratic. The table goes to stdout and benchmarks/results/scaling_<device>.md, the plot beside it.
"""
import argparse
import json
import math
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _bench import machine, measure, run_worker, write_table  # noqa: E402

MODELS = ['VM-DDPM', 'U-Net', 'DiT']


def build(name, config):
    "The model `name` at the parameter budget of VM-DDPM configuration `config`."
    from vmddpm_nb.model import VMDDPM
    from vmddpm_nb.baselines import unet_baseline, unet_matching, DiTDenoiser, dit_matching
    if name == 'VM-DDPM': return VMDDPM.from_config(config)
    if name == 'U-Net': return unet_baseline(**unet_matching(config)['kwargs'])
    if name == 'DiT': return DiTDenoiser(**dit_matching(config, depth=6, heads=4, patch_size=2)['kwargs'])
    raise ValueError(name)


def attn_gb(model, size, bs):
    "Memory of one block's attention scores (float32, all heads) for a DiT; 0 for the others."
    heads = next((m.heads for m in model.modules() if isinstance(getattr(m, 'heads', None), int)), None)
    p = getattr(model, 'patch_size', None)
    if heads is None or p is None: return 0.
    n = (size // p) ** 2
    return bs * heads * n * n * 4 / 2**30


def worker(name, config, size, bs, repeats, device, max_attn_gb):
    import torch
    torch.manual_seed(0)
    model = build(name, config).to(device)
    params = sum(p.numel() for p in model.parameters())
    gb = attn_gb(model, size, bs)
    if gb > max_attn_gb:
        print(json.dumps(dict(available=False, reason=f'skipped: attention needs {gb:.1f} GB > {max_attn_gb} GB', params=params)))
        return
    x = torch.randn(bs, 1, size, size, device=device)
    t = torch.randint(0, 1000, (bs,), device=device)
    eps = torch.randn_like(x)

    def step():
        model.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(model(x, t), eps).backward()
    print(json.dumps(dict(available=True, params=params, **measure(step, repeats, 1, device))))


def slope(sizes, times):
    "Least-squares slope of log(time) against log(pixels)."
    xs, ys = [2 * math.log(s) for s in sizes], [math.log(t) for t in times]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--worker', nargs=2, help=argparse.SUPPRESS)
    p.add_argument('--config', default='tiny', help="VM-DDPM configuration whose parameter count all three match")
    p.add_argument('--sizes', nargs='*', type=int, default=[32, 64, 128, 256])
    p.add_argument('--bs', type=int, default=2)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    p.add_argument('--max-attn-gb', type=float, default=4.0)
    p.add_argument('--quick', action='store_true')
    p.add_argument('--out', default=None)
    a = p.parse_args()
    if a.worker:
        return worker(a.worker[0], a.config, int(a.worker[1]), a.bs, a.repeats, a.device, a.max_attn_gb)
    if a.quick: a.sizes, a.repeats = [16, 32, 64], 3
    t0 = time.time()
    res = {}
    for name in MODELS:
        for s in a.sizes:
            args = ['--worker', name, str(s), '--config', a.config, '--bs', str(a.bs), '--repeats', str(a.repeats),
                    '--device', a.device, '--max-attn-gb', str(a.max_attn_gb)]
            res[name, s] = run_worker(__file__, args, f'{name:8s} {s:4d}px')
    m = machine()
    params = {n: next((res[n, s].get('params') for s in a.sizes if res[n, s].get('params')), None) for n in MODELS}
    slopes = {}
    for n in MODELS:
        ok = [s for s in a.sizes if res[n, s].get('available')]
        slopes[n] = slope(ok[-3:], [res[n, s]['median_s'] for s in ok[-3:]]) if len(ok) >= 2 else float('nan')
    lines = [f"Forward+backward of a batch of {a.bs} one-channel images against resolution, device `{a.device}` "
             f"({m['gpu'] or m['cpu']}, {m['cores']} cores, torch {m['torch']}, {m['threads']} threads); parameter budget of "
             f"VM-DDPM `{a.config}`. Median of {a.repeats} runs after a warm-up; seconds (peak MB above the start). "
             f"Command: `python benchmarks/scaling.py{' --quick' if a.quick else ''}"
             f"{' --device cuda' if a.device == 'cuda' else ''}{'' if a.config == 'tiny' else ' --config ' + a.config}`; "
             f"measured {time.strftime('%Y-%m-%d')}, {time.time() - t0:.0f} s in all.", '',
             '| model | params | ' + ' | '.join(f'{s}px' for s in a.sizes) + ' | slope vs pixels (largest 3) |',
             '|---|---:|' + '---:|' * (len(a.sizes) + 1)]
    for n in MODELS:
        cells = [f"{res[n, s]['median_s']:.3g} ({res[n, s]['peak_mb']:.0f})" if res[n, s].get('available') else '—'
                 for s in a.sizes]
        lines.append(f"| {n} | {params[n] or 0:,} | " + ' | '.join(cells) + f' | {slopes[n]:.2f} |')
    _, out = write_table(lines, a.out, HERE / 'results' / f'scaling_{a.device}{"_quick" if a.quick else ""}.md')
    try:
        import matplotlib; matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(5.5, 3.5))
        for n in MODELS:
            ok = [s for s in a.sizes if res[n, s].get('available')]
            ax.loglog([s * s for s in ok], [res[n, s]['median_s'] for s in ok], 'o-', label=f'{n} (slope {slopes[n]:.2f})')
        ax.set_xlabel('pixels'); ax.set_ylabel('fwd+bwd seconds'); ax.legend(fontsize=8)
        ax.set_title(f'cost against resolution, {a.config} budget, {a.device}', fontsize=9)
        fig.savefig(out.with_suffix('.png'), dpi=100, bbox_inches='tight')
    except Exception as e:  # the table is the result; a missing plot is not fatal
        print(f'(no plot: {e})', file=sys.stderr)


if __name__ == '__main__':
    main()
