"Pytest options for running the notebooks the way `nbdev-test` does, and the docs build shared by the docs tests."
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser):
    parser.addoption("--nb-flags", default="",
                     help="space-separated nbdev test flags to run anyway (e.g. 'slow' or 'cuda'), as `nbdev-test --flags`")


def _tracked_state():
    "Content of every file git tracks or would add (so a step that rewrites a source file is caught)."
    r = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=all'], cwd=ROOT, capture_output=True, text=True)
    files = ['nbs/sidebar.yml', 'nbs/_quarto.yml', 'nbs/nbdev.yml']
    return r.stdout, {f: (ROOT / f).read_bytes() for f in files if (ROOT / f).exists()}


@pytest.fixture(scope='session')
def proc_dir():
    """Run `nbdev-proc-nbs` — the first half of `nbdev-docs`, everything before Quarto — from scratch, as the
    GitHub deploy workflow does, and return the folder of processed notebooks (`_proc/`).

    It executes every cell that imports something, every exported cell and every `show_doc` cell, on this machine
    without a GPU: a notebook that only works from inside `nbdev-test` fails here. The hand-written sidebar and the
    other sources must come out unchanged."""
    exe = shutil.which('nbdev-proc-nbs', path=str(Path(sys.executable).parent)) or shutil.which('nbdev-proc-nbs')
    assert exe, 'nbdev-proc-nbs not found: install the dev extra (pip install -e ".[dev]")'
    shutil.rmtree(ROOT / '_proc', ignore_errors=True)   # not --force: nbdev 3.3 passes it on and rewrites the sidebar
    before = _tracked_state()
    r = subprocess.run([exe, '--n-workers', '2'], cwd=ROOT, capture_output=True, text=True, timeout=1800,
                       env={**os.environ, 'PATH': f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"})
    assert r.returncode == 0, f'nbdev-proc-nbs failed (the docs would not build):\n{r.stdout[-4000:]}\n{r.stderr[-8000:]}'
    after = _tracked_state()
    assert after == before, f'nbdev-proc-nbs changed source files:\nbefore {before[0]}\nafter {after[0]}'
    return ROOT / '_proc'
