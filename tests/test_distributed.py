"""Data-parallel training on the CPU: two gloo processes (torchrun + fastai's `learn.distrib_ctx(cpu=True)`) against
one process with the same global batch.

What should be identical, and why. `tools/train_ddp_check.py` trains 8 optimiser steps with 8 images per step: one
process with batch 8, or two with batch 4 each. `BatchSplitDL` gives process r the r-th half of the batch the single
process sees at the same step; `DiffusionCallback` draws t and ε for all 8 images from the same seeded stream in every
process and keeps its own half, so each image meets the same (t, ε) in both runs; the Sequence-Regeneration orders come
from torch's global RNG, seeded alike everywhere, one per forward pass in both runs; DistributedDataParallel starts
both processes from rank 0's weights and averages the two half-batch gradients, which is the full-batch gradient.
So the two runs compute the same numbers in a different order (convolutions over 4 images instead of 8, a gradient
mean of two means): they may differ by float32 rounding (~1e-7 relative), which eight Adam steps amplify a little.
Measured (this machine, torch 2.14, fastai 2.8.12, accelerate 1.15): 1.6e-7 relative on the losses, 1.2e-6 absolute
on the weights. We allow 1e-5 relative on the losses (and 1e-4 absolute on the weights): about a hundred times the
rounding. A real fault — both processes drawing the same noise, or gradients not averaged — changes which numbers are
computed, not their rounding, and moves a step's loss as much as another batch does: the losses of consecutive steps
here differ by more than 0.1, and the test checks that they are a hundred times the tolerance apart.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip('accelerate')   # the `distributed` extra: fastai's distrib_ctx runs on Hugging Face accelerate

from fastai.data.load import DataLoader
from vmddpm_nb.diffusion import NoiseSchedule, q_sample
from vmddpm_nb.learner import BatchSplitDL, DiffusionCallback, read_checkpoint

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / 'tools' / 'train_ddp_check.py'
RTOL_LOSS, ATOL_WEIGHTS = 1e-5, 1e-4


def _run(cmd, out, timeout=240):
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONWARNINGS': 'ignore'}
    p = subprocess.run(cmd + [str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-6000:]}"
    return json.loads((out / 'result.json').read_text())


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp('ddp')
    one = _run([sys.executable, str(SCRIPT)], d / 'one')
    two = _run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', str(SCRIPT)], d / 'two')
    return d, one, two


def test_two_processes_really_ran(runs):
    _, one, two = runs
    assert (one['world'], one['bs_per_process']) == (1, 8)
    assert (two['world'], two['bs_per_process']) == (2, 4)
    assert len(two['train_losses']) == len(one['train_losses']) == 8


def test_one_checkpoint_from_rank0(runs):
    d, _, two = runs
    assert two['checkpoints_saved_per_rank'] == [1, 0] and two['previews_saved_per_rank'] == [1, 0]
    assert sorted(p.name for p in (d / 'two' / 'ckpt').iterdir()) == ['checkpoint.pt']   # no second file, no .tmp left
    assert len(list((d / 'two' / 'previews').iterdir())) == 1
    ck = read_checkpoint(d / 'two' / 'ckpt' / 'checkpoint.pt')
    assert ck['epoch'] == 2 and ck['ema']['n_updates'] == 8


def test_ranks_agree(runs):
    _, _, two = runs
    assert two['weights_equal_across_ranks'] and two['ema_equal_across_ranks']   # bit for bit (the script seeds the ranks' models differently)


def test_losses_match_single_process(runs):
    _, one, two = runs
    a, b = torch.tensor(one['train_losses'], dtype=torch.float64), torch.tensor(two['train_losses'], dtype=torch.float64)
    rel = ((a - b).abs() / a.abs()).max().item()
    print(f'train loss: max relative difference 1 vs 2 processes {rel:.2e}')
    assert rel < RTOL_LOSS, (one['train_losses'], two['train_losses'])
    assert (a[1:] - a[:-1]).abs().min() > 100 * RTOL_LOSS * a.max()   # the tolerance separates different batches
    va, vb = torch.tensor(one['valid_losses']), torch.tensor(two['valid_losses'])
    assert ((va - vb).abs() / va).max() < RTOL_LOSS, (one['valid_losses'], two['valid_losses'])


def test_checkpoints_match_single_process(runs):
    d, _, _ = runs
    a, b = (read_checkpoint(d / k / 'ckpt' / 'checkpoint.pt') for k in ('one', 'two'))
    for key, sa, sb in (('model', a['model'], b['model']), ('ema', a['ema']['ema'], b['ema']['ema'])):
        diff = max((sa[n].double() - sb[n].double()).abs().max().item() for n in sa if sa[n].is_floating_point())
        print(f'{key}: max |w1 - w2| = {diff:.2e}')
        assert diff < ATOL_WEIGHTS, (key, diff)


# In-process checks of the two pieces, without a process group.

def _split_dl(dl, rank, world):
    sdl = BatchSplitDL(dl, rank=rank, world_size=world)
    sdl._broadcast = lambda t, r: t     # one process: nothing to broadcast
    return sdl


@pytest.mark.parametrize('n,bs,world,drop_last', [(32, 4, 2, True), (30, 4, 2, True), (30, 4, 2, False), (7, 2, 3, False)])
def test_batch_split_matches_big_batches(n, bs, world, drop_last):
    "Step k of rank r is the r-th slice of batch k of one process with batch bs·world (the order padded by repetition)."
    ds = list(range(n))
    big = list(DataLoader(ds, bs=bs * world, drop_last=drop_last))
    per_rank = [list(_split_dl(DataLoader(ds, bs=bs, drop_last=drop_last), r, world)) for r in range(world)]
    lens = {len(p) for p in per_rank}
    assert lens == {len(_split_dl(DataLoader(ds, bs=bs, drop_last=drop_last), 0, world))}   # __len__ is right
    for k, steps in enumerate(zip(*per_rank)):
        got = torch.cat(steps).tolist()
        want = big[k].tolist() if k < len(big) else []
        padded = (list(range(n)) * 2)[k * bs * world:k * bs * world + len(got)]   # the padding repeats the order
        assert got == padded and (got[:len(want)] == want), (k, got, want)


def test_noise_is_sliced_from_the_global_batch():
    "Each rank gets its own slice of the noise one process would draw for the whole batch: never the other rank's."
    sched = NoiseSchedule.from_name('linear_beta', 50)
    x0 = torch.rand(8, 1, 4, 4) * 2 - 1

    class FakeLearn:
        training = True
    def noised(x, dl):
        cb = DiffusionCallback(sched, seed=3)
        cb.learn = FakeLearn(); cb.learn.xb, cb.learn.dl = (x,), dl
        cb.before_batch()
        return cb.learn.xb[1], cb.learn.yb[0]
    t, eps = noised(x0, None)
    base = DataLoader(list(range(8)), bs=4)
    for r in range(2):
        tr, er = noised(x0[r * 4:(r + 1) * 4], BatchSplitDL(base, rank=r, world_size=2))
        assert torch.equal(tr, t[r * 4:(r + 1) * 4]) and torch.equal(er, eps[r * 4:(r + 1) * 4])
    assert not torch.equal(eps[:4], eps[4:])
