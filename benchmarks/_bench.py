"Shared plumbing of the benchmark scripts: fresh-process workers, peak memory, machine description."
import json
import os
import resource
import statistics
import subprocess
import sys
import time


def rss_bytes():
    "Resident set size of this process now."
    with open('/proc/self/statm') as f: return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def measure(step, repeats, warmup, device):
    "Median seconds of `step()` over `repeats` runs after `warmup` runs, and the peak memory (MB) above the start."
    import torch
    cuda = device == 'cuda'
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if cuda: torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(); base = torch.cuda.memory_allocated()
    else: base = rss_bytes()
    times = []
    for i in range(repeats + warmup):
        sync(); t0 = time.perf_counter()
        step()
        sync(); dt = time.perf_counter() - t0
        if i >= warmup: times.append(dt)
    peak = (torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) - base
    return dict(median_s=statistics.median(times), times=times, peak_mb=peak / 2**20)


def run_worker(script, args, label):
    "Run `python script --worker ... args` in a fresh process; return its last JSON line (or an error record)."
    out = subprocess.run([sys.executable, script, *args], capture_output=True, text=True)
    lines = [l for l in out.stdout.splitlines() if l.startswith('{')]
    if out.returncode or not lines:
        print(out.stderr[-1500:], file=sys.stderr)
        return dict(available=False, error=f'exit {out.returncode}')
    r = json.loads(lines[-1])
    msg = f"{r['median_s']:.4g} s, {r['peak_mb']:.0f} MB" if r.get('available') else r.get('reason', 'not available')
    print(f'  {label}: {msg}', flush=True)
    return r


def machine():
    "CPU/GPU model, cores, torch version and threads."
    import platform
    import torch
    cpu = platform.processor() or platform.machine()
    try: cpu = next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): pass
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return dict(cpu=cpu, cores=os.cpu_count(), torch=torch.__version__, threads=torch.get_num_threads(), gpu=gpu)


def write_table(lines, out, default):
    "Join markdown `lines`, write them to `out` (or `default`), print them; return (text, path)."
    from pathlib import Path
    md = '\n'.join(lines) + '\n'
    path = Path(out) if out else Path(default)
    path.parent.mkdir(parents=True, exist_ok=True); path.write_text(md)
    print('\n' + md + f'written to {path}')
    return md, path
