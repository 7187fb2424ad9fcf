"""Training-step time of the Mamba models with each CPU scan: the chunked scan (`backend='torch'`) against the
compiled loop (`backend='numba'`), everything else equal.

    python benchmarks/train_step.py                 # VM-DDPM 'tiny' with SSM at every stage (32 px) and DiffMa 'tiny'
    python benchmarks/train_step.py --quick         # a smoke test (tiny batches, 2 repeats)

One training step = zero_grad, L_simple-style MSE forward, backward, AdamW step, on a fixed random batch; median of
`--repeats` steps after two warm-up steps (the numba kernels are compiled, or loaded from numba's cache, in the
warm-up), each (model, backend) in a fresh process. The table goes to stdout and
benchmarks/results/train_step_cpu.md.
"""
import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _bench import machine, measure, run_worker, write_table  # noqa: E402

MODELS = ['VM-DDPM tiny, SSM at all 4 stages', 'DiffMa tiny']
BACKENDS = ['torch', 'numba']


def set_backend(model, backend):
    "Point every scan of `model` (SS2D and Mamba layers) at `backend`; return how many layers were set."
    n = 0
    for m in model.modules():
        if hasattr(m, 'scan_backend'): m.scan_backend = backend; n += 1
    return n


def worker(name, backend, bs, size, repeats, threads):
    import torch
    if threads: torch.set_num_threads(threads)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    if name.startswith('VM-DDPM'):
        from vmddpm_nb.model import VMDDPM
        model = VMDDPM.from_config('tiny', ssm_stages=(0, 1, 2, 3))
        inputs = (torch.randn(bs, 1, size, size, generator=g), torch.randint(0, 1000, (bs,), generator=g))
        target = torch.randn(bs, 1, size, size, generator=g)
    else:
        from vmddpm_nb.diffma import diffma_model
        model = diffma_model('tiny')
        (s, _), c, D = model.input_size, model.in_channels, model.hidden_size
        T = model.grid[0] * model.grid[1]
        inputs = (torch.randn(bs, c, s, s, generator=g), torch.randint(0, 1000, (bs,), generator=g),
                  torch.randn(bs, D, generator=g), torch.randn(bs, T, D, generator=g),
                  torch.sigmoid(torch.randn(bs, T, 1, generator=g)))
        target = torch.randn(bs, model.out_channels, s, s, generator=g)
    n = set_backend(model, backend)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(model(*inputs), target).backward()
        opt.step()
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps(dict(available=True, params=params, scan_layers=n, **measure(step, repeats, 2, 'cpu'))))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--worker', nargs=2, help=argparse.SUPPRESS)
    p.add_argument('--bs', type=int, default=16, help='batch size')
    p.add_argument('--size', type=int, default=32, help="VM-DDPM image size (DiffMa 'tiny' has its own latent size)")
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--threads', type=int, default=0, help="torch threads per worker (0: torch's default)")
    p.add_argument('--quick', action='store_true')
    p.add_argument('--out', default=None)
    a = p.parse_args()
    for v, flag in ((a.bs, '--bs'), (a.size, '--size'), (a.repeats, '--repeats')):
        if v < 1: p.error(f'{flag}: expected a positive integer, got {v}')
    if a.size % 16: p.error(f'--size: expected a multiple of 16, got {a.size}')
    if a.worker: return worker(a.worker[0], a.worker[1], a.bs, a.size, a.repeats, a.threads)
    if a.quick: a.bs, a.size, a.repeats = 2, 16, 2
    t0, res = time.time(), {}
    for name in MODELS:
        for be in BACKENDS:
            args = ['--worker', name, be, '--bs', str(a.bs), '--size', str(a.size), '--repeats', str(a.repeats),
                    '--threads', str(a.threads)]
            res[name, be] = run_worker(__file__, args, f'{name} / {be}')
    m = machine()
    cmd = 'python benchmarks/train_step.py' + (' --quick' if a.quick else '') + (f' --threads {a.threads}' if a.threads else '')
    lines = [f"One training step (forward, backward, AdamW) on a fixed batch of {a.bs}, device `cpu` ({m['cpu']}, {m['cores']} "
             f"cores, torch {m['torch']}, {a.threads or 'default'} threads); VM-DDPM at {a.size}×{a.size} px, DiffMa 'tiny' on its "
             f"own latent size. Median of {a.repeats} steps after two warm-up steps, each row in a fresh process; seconds "
             f"(peak MB above the start). Command: `{cmd}`; measured {time.strftime('%Y-%m-%d')}, {time.time() - t0:.0f} s in all.",
             '', '| model | params | scan layers | chunked (`torch`) | compiled (`numba`) | speed-up |', '|---|---:|---:|---:|---:|---:|']
    for name in MODELS:
        r = [res[name, be] for be in BACKENDS]
        if not all(x.get('available') for x in r):
            lines.append(f'| {name} | — | — | — | — | — |'); continue
        cells = [f"{x['median_s']:.3g} ({x['peak_mb']:.0f})" for x in r]
        lines.append(f"| {name} | {r[0]['params']:,} | {r[0]['scan_layers']} | {cells[0]} | {cells[1]} | "
                     f"{r[0]['median_s'] / r[1]['median_s']:.2f}× |")
    write_table(lines, a.out, HERE / 'results' / f'train_step_cpu{"_quick" if a.quick else ""}.md')


if __name__ == '__main__':
    main()
