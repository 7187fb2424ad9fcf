"""Selective scan: forward and forward+backward time and peak memory of five implementations.

    python benchmarks/scan.py --threads 1     # the full run on one thread: main shape + L sweep + model shapes
                                              # (about 30 min on 2 CPU cores)
    python benchmarks/scan.py                 # the same with torch's (and numba's) default threads
    python benchmarks/scan.py --quick         # a smoke run at small sizes (seconds)
    python benchmarks/scan.py --device cuda   # on a GPU: adds mamba-ssm's CUDA kernel as a peer

Peers, all in float32, delta_softplus=True, with D and z, B and C input-dependent (batch, N, L) as in Mamba:
  ours-ref     vmddpm_nb.scan.selective_scan_ref  (plain loop, autograd through every step)
  mamba-ref    mamba_ssm's selective_scan_ref      (the same loop, mamba-ssm's code), when installed
  pscan        mambapy's Blelloch `pscan` used the way mambapy's selective_scan uses it, when installed
  ours-fast    vmddpm_nb.scan.selective_scan       (chunked two-level scan with its own backward), backend='torch'
  ours-numba   vmddpm_nb.scan.selective_scan       (the loop compiled with numba), backend='numba', when numba is installed
  mamba-cuda   mamba_ssm's selective_scan_fn       (only with --device cuda and the compiled kernel)

Each (peer, L) runs in a fresh subprocess, so the peak memory of one does not hide another's: on the CPU it is the
peak resident set size above the resident size once the inputs exist (`ru_maxrss` minus RSS before the first call);
on CUDA it is `torch.cuda.max_memory_allocated` above the inputs. Times are the median of `--repeats` runs
(each a forward and a backward), after one warm-up run for the fast peers (the loop references take minutes, so
they get no warm-up; numba's compile happens in the warm-up, or is loaded from its cache). The forward alone is timed
the same way under torch.no_grad() (as in sampling). A third table compares ours-fast with ours-numba (and mamba-cuda
on a GPU) at the shapes the models run: VM-DDPM's SS2D (4 routes = 4 groups of B/C) and DiffMa's Mamba blocks.
The tables are printed and written to benchmarks/results/scan_<device>.md.
"""
import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _bench import machine, measure, run_worker, write_table  # noqa: E402

PEERS = ['ours-ref', 'mamba-ref', 'pscan', 'ours-fast', 'ours-numba', 'mamba-cuda']
# (B, D, L, N, G): G = 0 for Mamba's shared (B, N, L) form of B and C, G >= 1 for the grouped (B, G, N, L) form
MODEL_SHAPES = [(2, 4 * 128, 256, 16, 4),    # VM-DDPM SS2D, 16x16 feature map, 4 routes
                (2, 4 * 256, 64, 16, 4),     # VM-DDPM SS2D, 8x8
                (2, 4 * 64, 1024, 16, 4),    # VM-DDPM SS2D, 32x32
                (6, 1024, 196, 16, 0),       # DiffMa Mamba block, 14x14 patches
                (6, 1024, 1024, 16, 0)]      # DiffMa, 32x32 patches
SHAPE_PEERS = ['ours-fast', 'ours-numba', 'mamba-cuda']
SWEEP = [256, 512, 1024, 2048, 4096, 8192, 16384]


def _make_fn(peer):
    "The function under test, taking (u, delta, A, B, C, D, z) and returning the output; None if unavailable."
    import torch
    from vmddpm_nb.scan import selective_scan, selective_scan_ref, mamba_ssm_ops
    if peer == 'ours-ref': return lambda *a: selective_scan_ref(*a, delta_softplus=True)
    if peer == 'ours-fast': return lambda *a: selective_scan(*a, delta_softplus=True, backend='torch')
    if peer == 'ours-numba':
        from vmddpm_nb.scan import numba_kernels
        try: numba_kernels()
        except ImportError: return None
        return lambda *a: selective_scan(*a, delta_softplus=True, backend='numba')
    if peer == 'mamba-ref':
        ref = mamba_ssm_ops()[0]
        return None if ref is None else (lambda *a: ref(*a, delta_softplus=True))
    if peer == 'mamba-cuda':
        fn = mamba_ssm_ops()[1]
        return None if fn is None else (lambda *a: fn(*a, delta_softplus=True))
    if peer == 'pscan':
        try: from mambapy.pscan import pscan
        except ImportError: return None
        import torch.nn.functional as F

        def pscan_scan(u, delta, A, B, C, D, z):
            # mambapy's selective_scan, in its (batch, L, dim) layout; pscan wants a power-of-two L (it pads itself)
            x, dl = u.transpose(1, 2), F.softplus(delta).transpose(1, 2)
            deltaA = torch.exp(dl.unsqueeze(-1) * A)                                # (b, L, d, N)
            BX = dl.unsqueeze(-1) * B.transpose(1, 2).unsqueeze(2) * x.unsqueeze(-1)
            hs = pscan(deltaA, BX)
            y = (hs @ C.transpose(1, 2).unsqueeze(-1)).squeeze(3) + D * x
            return y.transpose(1, 2) * F.silu(z)
        return pscan_scan
    raise ValueError(peer)


def worker(peer, b, d, L, n, repeats, device, threads=None, groups=0):
    "Measure one peer at one size in this (fresh) process; print one JSON line."
    import torch
    if threads: torch.set_num_threads(threads)
    torch.manual_seed(0)
    fn = _make_fn(peer)
    if fn is None or (groups and peer == 'pscan'):
        print(json.dumps(dict(peer=peer, L=L, available=False))); return
    g = torch.Generator().manual_seed(0)
    mk = lambda *s: torch.randn(*s, generator=g)
    bc = (b, groups, n, L) if groups else (b, n, L)
    args = [mk(b, d, L), mk(b, d, L) * 0.5 - 2, -torch.arange(1, n + 1.).repeat(d, 1), mk(*bc), mk(*bc), mk(d), mk(b, d, L)]
    args = [a.to(device).requires_grad_() for a in args]

    def step():
        for a in args: a.grad = None
        fn(*args).sum().backward()

    def fwd():
        with torch.no_grad(): fn(*args)
    slow = peer in ('ours-ref', 'mamba-ref')   # minutes per run: no warm-up
    r = measure(step, repeats, 0 if slow else 1, device)
    f = measure(fwd, repeats, 0 if slow else 1, device)
    print(json.dumps(dict(peer=peer, L=L, available=True, **r, fwd_s=f['median_s'])))


def run(peer, b, d, L, n, repeats, device, threads=None, groups=0):
    args = ['--worker', peer, '--shape', str(b), str(d), str(L), str(n), '--repeats', str(repeats), '--device', device]
    if threads: args += ['--threads', str(threads)]
    if groups: args += ['--groups', str(groups)]
    label = f'{peer:10s} L={L:6d}' + (f' (B={b}, D={d}, G={groups or "-"})' if groups or (b, d) != RUN_BD[0] else '')
    return {**run_worker(__file__, args, label), 'peer': peer, 'L': L}


RUN_BD = [(2, 128)]   # the main (B, D), for the log labels


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--worker', help=argparse.SUPPRESS)
    p.add_argument('--shape', nargs=4, type=int, metavar=('B', 'D', 'L', 'N'), default=[2, 128, 4096, 16], help='main shape')
    p.add_argument('--sweep', nargs='*', type=int, default=SWEEP, help='L values of the sweep')
    p.add_argument('--ref-max-L', type=int, default=1024, help='longest L at which the loop references run in the sweep')
    p.add_argument('--repeats', type=int, default=5, help='timed runs per measurement of the fast peers (median reported)')
    p.add_argument('--ref-repeats', type=int, default=3, help='timed runs of the loop references at the main shape')
    p.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    p.add_argument('--quick', action='store_true', help='small sizes, for a smoke test')
    p.add_argument('--skip-main', nargs='*', default=[], choices=PEERS, help='peers not run at the main shape (only in the sweep)')
    p.add_argument('--threads', type=int, default=None, help='torch threads in every worker (default: torch\'s default)')
    p.add_argument('--out', default=None, help='markdown file to write (default benchmarks/results/scan_<device>.md)')
    p.add_argument('--groups', type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument('--no-model-shapes', action='store_true', help='skip the table at the models\' shapes')
    a = p.parse_args()
    b, d, L, n = a.shape
    if a.worker: return worker(a.worker, b, d, L, n, a.repeats, a.device, a.threads, a.groups)
    shapes = MODEL_SHAPES
    if a.quick:
        b, d, L, n, a.sweep, a.ref_max_L, a.repeats, a.ref_repeats = 2, 16, 512, 8, [128, 256, 512], 256, 3, 3
        shapes = [(2, 4 * 8, 64, 8, 4), (2, 32, 49, 8, 0)]
    if a.no_model_shapes: shapes = []
    RUN_BD[0] = (b, d)
    peers = [p_ for p_ in PEERS if a.device == 'cuda' or p_ != 'mamba-cuda']
    t0 = time.time()
    print(f'main shape (B={b}, D={d}, L={L}, N={n}), device {a.device}', flush=True)
    main_res = {pr: (dict(peer=pr, L=L, available=False, reason='not run at the main shape (--skip-main)') if pr in a.skip_main
                     else run(pr, b, d, L, n, a.ref_repeats if pr.endswith('-ref') else a.repeats, a.device, a.threads))
                for pr in peers}
    sweep = {}
    for Ls in a.sweep:
        for pr in peers:
            if pr.endswith('-ref') and Ls > a.ref_max_L: continue
            reps = a.ref_repeats if pr.endswith('-ref') else a.repeats
            sweep[pr, Ls] = main_res[pr] if Ls == L and pr not in a.skip_main else run(pr, b, d, Ls, n, reps, a.device, a.threads)
    shape_peers = [p_ for p_ in SHAPE_PEERS if p_ in peers]
    shape_res = {(s, pr): run(pr, s[0], s[1], s[2], s[3], a.repeats, a.device, a.threads, s[4]) for s in shapes for pr in shape_peers}
    m = machine()
    if a.threads: m['threads'] = a.threads
    fast = main_res['ours-fast']
    ok = lambda r: r.get('available')
    lines = [f'Selective scan, forward+backward, float32, (B={b}, D={d}, L={L}, N={n}), device `{a.device}` '
             f'({m["gpu"] or m["cpu"]}, {m["cores"]} cores, torch {m["torch"]}, {m["threads"]} threads). '
             f'Median of {a.repeats} runs after a warm-up ({a.ref_repeats} run(s), no warm-up, for the loop references); '
             f'peak memory above the inputs. '
             f'Command: `python benchmarks/scan.py{" --device cuda" if a.device == "cuda" else ""}{" --quick" if a.quick else ""}'
             f'{" --threads " + str(a.threads) if a.threads else ""}'
             f'{" --ref-repeats " + str(a.ref_repeats) if a.ref_repeats != 3 else ""}'
             f'{" --sweep " + " ".join(map(str, a.sweep)) if a.sweep != SWEEP and not a.quick else ""}'
             f'{" --ref-max-L " + str(a.ref_max_L) if a.ref_max_L != 1024 else ""}'
             f'{" --skip-main " + " ".join(a.skip_main) if a.skip_main else ""}'
             f'{" --no-model-shapes" if a.no_model_shapes else ""}`; '
             f'measured {time.strftime("%Y-%m-%d")}, {time.time() - t0:.0f} s in all.', '',
             '| implementation | fwd+bwd (s) | peak memory (MB) | time / ours-fast | memory / ours-fast | fwd (s) | fwd time / ours-fast |',
             '|---|---:|---:|---:|---:|---:|---:|']
    for pr in peers:
        r = main_res[pr]
        if not ok(r): lines.append(f'| {pr} | {r.get("reason", "not available")} | | | | | |'); continue
        lines.append(f'| {pr} | {r["median_s"]:.4g} | {r["peak_mb"]:.0f} | {r["median_s"] / fast["median_s"]:.2f}× | '
                     f'{r["peak_mb"] / max(fast["peak_mb"], 1e-9):.2f}× | {r["fwd_s"]:.4g} | {r["fwd_s"] / fast["fwd_s"]:.2f}× |')
    lines += ['', f'Sweep over L (B={b}, D={d}, N={n}); fwd+bwd seconds (peak MB). The loop references run up to L={a.ref_max_L} '
              f'and at the main shape.', '',
              '| L | ' + ' | '.join(peers) + ' | pscan / ours-fast |', '|---:|' + '---:|' * (len(peers) + 1)]
    for Ls in a.sweep:
        cells = []
        for pr in peers:
            r = sweep.get((pr, Ls))
            cells.append('—' if r is None or not ok(r) else f'{r["median_s"]:.3g} ({r["peak_mb"]:.0f})')
        rp, rf = sweep.get(('pscan', Ls)), sweep.get(('ours-fast', Ls))
        ratio = f'{rp["median_s"] / rf["median_s"]:.1f}×' if rp and rf and ok(rp) and ok(rf) else '—'
        lines.append(f'| {Ls} | ' + ' | '.join(cells) + f' | {ratio} |')
    if shapes:
        others = [p_ for p_ in shape_peers if p_ != 'ours-fast']
        lines += ['', 'At the shapes the models run (float32, delta_softplus, D and z; G = groups of B/C, "-" for the shared '
                  '(B, N, L) form): seconds of the forward alone and of forward+backward, and the speed-up over ours-fast '
                  '(ours-fast time / peer time: above 1 the peer is faster).', '',
                  '| shape (B, D, L, N, G) | ours-fast fwd | ' + ' | '.join(f'{p_} fwd | speed-up' for p_ in others)
                  + ' | ours-fast fwd+bwd | ' + ' | '.join(f'{p_} fwd+bwd | speed-up' for p_ in others) + ' |',
                  '|---|' + '---:|' * (2 + 4 * len(others))]
        for s in shapes:
            rf = shape_res[s, 'ours-fast']
            cells_f, cells_b = [], []
            for p_ in others:
                r = shape_res[s, p_]
                if not (ok(r) and ok(rf)): cells_f += ['—', '—']; cells_b += ['—', '—']; continue
                cells_f += [f'{r["fwd_s"]:.4g}', f'{rf["fwd_s"] / r["fwd_s"]:.2f}×']
                cells_b += [f'{r["median_s"]:.4g}', f'{rf["median_s"] / r["median_s"]:.2f}×']
            name = f'({s[0]}, {s[1]}, {s[2]}, {s[3]}, {s[4] or "-"})'
            lines.append(f'| {name} | ' + (f'{rf["fwd_s"]:.4g}' if ok(rf) else '—') + ' | ' + ' | '.join(cells_f)
                         + ' | ' + (f'{rf["median_s"]:.4g}' if ok(rf) else '—') + ' | ' + ' | '.join(cells_b) + ' |')
    write_table(lines, a.out, HERE / 'results' / f'scan_{a.device}{"_quick" if a.quick else ""}.md')


if __name__ == '__main__':
    main()
