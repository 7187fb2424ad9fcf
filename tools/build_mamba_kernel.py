"""Install mamba-ssm from its sdist with its selective-scan CUDA kernel compiled for *this* machine's GPU only.

    python tools/build_mamba_kernel.py mamba_ssm-2.3.2.post1.tar.gz --out .gpubuild
    export PYTHONPATH=.gpubuild/site:$PYTHONPATH     # then `import selective_scan_cuda` and mamba_ssm work

Why: mamba-ssm's setup.py compiles its kernels for eight GPU generations (sm_75 ... sm_121) whatever the machine
has, which takes the better part of an hour; PyPI has only the sdist, and its fallback (a prebuilt wheel from GitHub)
needs the internet. vmddpm_nb uses one piece of mamba-ssm on the GPU, `selective_scan_fn`, whose extension is the
module `selective_scan_cuda`. This script

1. installs mamba-ssm's Python code from the sdist with its CUDA build switched off (`MAMBA_SKIP_CUDA_BUILD=TRUE`),
   without dependencies (triton, einops, transformers are expected to be there already), into `OUT/site`;
2. compiles `selective_scan_cuda` from the sdist's `csrc/selective_scan` sources with torch's extension builder for
   the compute capability of the visible GPU (or `--arch`, e.g. 9.0), with the same nvcc flags as mamba-ssm's
   setup.py, and puts the shared library in `OUT/site`.

Needs nvcc matching torch's CUDA major version, ninja, setuptools and a GPU (or `--arch`).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

SOURCES = ['selective_scan.cpp', 'selective_scan_fwd_fp32.cu', 'selective_scan_fwd_fp16.cu', 'selective_scan_fwd_bf16.cu',
           'selective_scan_bwd_fp32_real.cu', 'selective_scan_bwd_fp32_complex.cu', 'selective_scan_bwd_fp16_real.cu',
           'selective_scan_bwd_fp16_complex.cu', 'selective_scan_bwd_bf16_real.cu', 'selective_scan_bwd_bf16_complex.cu']
NVCC_FLAGS = ['-O3', '-std=c++17', '-U__CUDA_NO_HALF_OPERATORS__', '-U__CUDA_NO_HALF_CONVERSIONS__',
              '-U__CUDA_NO_BFLOAT16_OPERATORS__', '-U__CUDA_NO_BFLOAT16_CONVERSIONS__',
              '-U__CUDA_NO_BFLOAT162_OPERATORS__', '-U__CUDA_NO_BFLOAT162_CONVERSIONS__',
              '--expt-relaxed-constexpr', '--expt-extended-lambda', '--use_fast_math']


def install_python_part(sdist:Path, site:Path):
    "pip-install the sdist's Python package (no kernel, no dependencies) into `site`."
    env = dict(os.environ, MAMBA_SKIP_CUDA_BUILD='TRUE', MAMBA_FORCE_BUILD='TRUE')
    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--no-build-isolation', '--no-index',
                    '--target', str(site), str(sdist)], env=env, check=True)


def build_kernel(sdist:Path, out:Path, arch:str|None, jobs:int)->Path:
    "Compile `selective_scan_cuda` for one architecture; return the path of the shared library."
    import torch
    from torch.utils.cpp_extension import load
    if arch is None:
        if not torch.cuda.is_available(): raise SystemExit('no GPU visible: pass --arch (e.g. 9.0) to build anyway')
        arch = '.'.join(map(str, torch.cuda.get_device_capability()))
    os.environ['TORCH_CUDA_ARCH_LIST'] = arch          # torch's builder turns this into one -gencode pair
    os.environ['MAX_JOBS'] = str(jobs)
    src = out / 'src'
    if not src.exists():
        with tarfile.open(sdist) as tf: tf.extractall(src, filter='data')
    csrc = next(src.glob('*/csrc/selective_scan'))
    build = out / 'build'; build.mkdir(parents=True, exist_ok=True)
    load(name='selective_scan_cuda', sources=[str(csrc / s) for s in SOURCES], extra_cflags=['-O3', '-std=c++17'],
         extra_cuda_cflags=NVCC_FLAGS, extra_include_paths=[str(csrc)], build_directory=str(build), verbose=False)
    return next(build.glob('selective_scan_cuda*.so'))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('sdist', type=Path, help="mamba-ssm's sdist (pip download --no-deps --no-binary :all: mamba-ssm)")
    p.add_argument('--out', type=Path, default=Path('.gpubuild'), help='build folder; the package lands in OUT/site')
    p.add_argument('--arch', default=None, help='compute capability, e.g. 9.0 (default: the visible GPU\'s)')
    p.add_argument('--jobs', type=int, default=os.cpu_count(), help='parallel compiler jobs')
    a = p.parse_args()
    if not a.sdist.is_file(): raise SystemExit(f'sdist not found: {a.sdist}')
    site = a.out / 'site'; site.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    install_python_part(a.sdist, site)
    t1 = time.time()
    so = build_kernel(a.sdist, a.out, a.arch, a.jobs)
    shutil.copy2(so, site / so.name)
    print(f'mamba-ssm Python part {t1 - t0:.0f} s, selective_scan_cuda {time.time() - t1:.0f} s '
          f'({so.stat().st_size / 2**20:.1f} MB) -> {site}', flush=True)


if __name__ == '__main__':
    main()
