"""Every notebook in `nbs/` is one test, run with `nbdev-test`'s semantics.

The cells are executed by nbdev's own `test_nb` (so `IN_TEST` is set, files starting with `_` are skipped,
and cells flagged with one of `tst_flags` from `pyproject.toml` — `slow`, `cuda` — are left out unless
`--nb-flags` names them). One notebook per test keeps pytest's closing line an honest count of the lessons.
"""
from pathlib import Path

import pytest
from nbdev.config import get_config
from nbdev.test import test_nb as run_notebook

ROOT = Path(__file__).resolve().parents[1]
CFG = get_config(ROOT)
NOTEBOOKS = sorted(p for p in CFG.nbs_path.rglob("*.ipynb")
                   if not any(part.startswith(("_", ".")) for part in p.relative_to(CFG.nbs_path).parts))


def test_notebooks_were_found():
    "Guard against a layout change that silently makes the parametrised test below run nothing."
    assert len(NOTEBOOKS) >= 3, f"expected the course notebooks under {CFG.nbs_path}, found {NOTEBOOKS}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook(nb, request):
    skip = CFG.tst_flags.split() if isinstance(CFG.tst_flags, str) else list(CFG.tst_flags)
    force = request.config.getoption("--nb-flags").split()
    ok, secs = run_notebook(nb, skip_flags=skip, force_flags=force, basepath=ROOT, showerr=True)
    assert ok, f"{nb.name} failed after {secs:.1f}s (traceback above)"
