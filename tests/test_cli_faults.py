"""Fault-campaign checks of the `vmddpm` command: runs are not overwritten, bad files and bad arguments are caught
before the work, divergence is an error, saves clean up after themselves, a time-limit stop resumes exactly.

Every run is tiny (16×16 pictures, the 'tiny' network, T = 20, batch 4) so the file runs in a couple of minutes."""
import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vmddpm_nb import cli
from cli_helpers import _one_thread, run, one_line_error  # noqa: F401 (importing the autouse fixture applies it here)
from vmddpm_nb.learner import read_checkpoint

TINY = ['--size', '16', '--config', 'tiny', '--timesteps', '20', '--bs', '4', '--samples', '0']


def make_pngs(folder, n=12, s=24, seed=0):
    "Bright discs of random size on black, `n` 8-bit PNGs of s×s, in sub-folders patient0..3."
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:s, :s]
    folder = Path(folder)
    for i in range(n):
        r = rng.uniform(4, 9); cy, cx = rng.uniform(s / 2 - 3, s / 2 + 3, 2)
        img = (((yy - cy) ** 2 + (xx - cx) ** 2) < r * r) * rng.uniform(150, 250) + rng.normal(0, 5, (s, s))
        sub = folder / f'patient{i % 4}'; sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(sub / f'img{i:02d}.png')
    return folder


def strict_json(path):
    "Parse a JSON file, refusing NaN/Infinity (not JSON)."
    def bad(c): raise ValueError(f'{path}: {c} is not JSON')
    return json.loads(Path(path).read_text(), parse_constant=bad)


def weights(path):
    return read_checkpoint(path)['model']


# ---------------------------------------------------------------- 1. runs are never overwritten

def test_train_refuses_a_used_out_folder(tmp_path, capsys):
    data, out = make_pngs(tmp_path / 'pngs'), tmp_path / 'run'
    assert run(['train', '--data', data, '--out', out, '--epochs', '1', *TINY], capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, _, err = run(['train', '--data', data, '--out', out, '--epochs', '1', *TINY], capsys)
    one_line_error(code, err, '--out', '--overwrite')
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before, 'the first run was changed'
    # --overwrite replaces it
    assert run(['train', '--data', data, '--out', out, '--epochs', '1', '--overwrite', *TINY], capsys)[0] == 0
    assert strict_json(out / 'train.json')['epochs'] == 1


def test_demo_refuses_a_used_out_folder(tmp_path, capsys, monkeypatch):
    import vmddpm_nb.data
    monkeypatch.setattr(vmddpm_nb.data, 'demo_brain_slices', lambda *a, **k: pytest.fail('demo started working'))
    out = tmp_path / 'demo'; out.mkdir(); (out / 'checkpoint.pt').write_bytes(b'my trained model')
    code, _, err = run(['demo', '--out', out, '--quick'], capsys)
    one_line_error(code, err, '--out')
    assert (out / 'checkpoint.pt').read_bytes() == b'my trained model'
    (tmp_path / 'afile').write_text('x')
    one_line_error(*run(['demo', '--out', tmp_path / 'afile', '--quick'], capsys)[::2], '--out')


# ---------------------------------------------------------------- 3. a bad file never costs an epoch

@pytest.mark.parametrize('split', ['valid', 'train'])
def test_corrupt_picture_is_caught_at_listing(tmp_path, capsys, split):
    data, out = make_pngs(tmp_path / 'pngs'), tmp_path / 'run'
    items, _ = cli.data_items(data)
    tr, va = cli._split_items(items, 0.1, 0)
    bad = (va if split == 'valid' else tr)[0].path
    bad.write_bytes(b'\x89PNG\r\n\x1a\n' + b'garbage' * 10)
    code, out_, err = run(['train', '--data', data, '--out', out, '--epochs', '2', *TINY], capsys)
    assert code == 0, err
    assert bad.name in out_ + err, 'the skipped file must be named'
    assert (out / 'checkpoint.pt').exists()
    res = strict_json(out / 'train.json')
    assert res['n_train'] + res['n_valid'] <= 11 and res['skipped_files'] == [str(bad)]


def test_no_readable_picture_is_one_line(tmp_path, capsys):
    d = tmp_path / 'pngs'; d.mkdir()
    for i in range(3): (d / f'x{i}.png').write_bytes(b'not a png')
    one_line_error(*run(['train', '--data', d, '--out', tmp_path / 'run', '--epochs', '1', *TINY], capsys)[::2], '--data')


# ---------------------------------------------------------------- 4. arguments are checked before the work

@pytest.fixture
def no_work(monkeypatch):
    "Make every heavy entry point fail the test: the arguments must be refused before any of them runs."
    import vmddpm_nb.data, vmddpm_nb.learner
    stop = lambda *a, **k: pytest.fail('work started before the arguments were checked')
    monkeypatch.setattr(vmddpm_nb.data, 'demo_brain_slices', stop)
    monkeypatch.setattr(cli, 'data_items', stop)
    monkeypatch.setattr(vmddpm_nb.learner, 'model_from_checkpoint', stop)
    monkeypatch.setattr(cli, '_real_source', stop)
    monkeypatch.setattr(cli, 'demo_discretization', stop)


BAD_ARGS = [
    (['demo', '--n', '0'], '--n'), (['demo', '--steps', '5000'], '--steps'), (['demo', '--eta', '-1'], '--eta'),
    (['demo', '--epochs', '0'], '--epochs'), (['demo', '--repeat', '0'], '--repeat'), (['demo', '--bs', '0'], '--bs'),
    (['demo', '--lr', 'nan'], '--lr'), (['demo', '--lr', '-1'], '--lr'), (['demo', '--ema', '1'], '--ema'),
    (['demo', '--max-minutes', '-1'], '--max-minutes'), (['demo', '--max-minutes', 'inf'], '--max-minutes'),
    (['demo', '--seed', '-1'], '--seed'), (['--threads', '-1', 'demo'], '--threads'),
    (['train', '--data', 'D', '--epochs', '0'], '--epochs'), (['train', '--data', 'D', '--epochs', '-1'], '--epochs: expected a positive integer, got -1'),
    (['train', '--data', 'D', '--max-minutes', '-1'], '--max-minutes'), (['train', '--data', 'D', '--valid-pct', '-1'], '--valid-pct'),
    (['train', '--data', 'D', '--valid-pct', '1'], '--valid-pct'), (['train', '--data', 'D', '--bs', '0'], '--bs'),
    (['train', '--data', 'D', '--lr', 'inf'], '--lr'), (['train', '--data', 'D', '--ema', 'nan'], '--ema'),
    (['train', '--data', 'D', '--timesteps', '0'], '--timesteps'), (['train', '--data', 'D', '--samples', '-1'], '--samples'),
    (['train', '--data', 'D', '--sample-steps', '0'], '--sample-steps'), (['train', '--data', 'D', '--sample-steps', '30', '--timesteps', '20'], '--sample-steps'),
    (['train', '--data', 'D', '--sample-eta', '-0.5'], '--sample-eta'), (['train', '--data', 'D', '--workers', '-1'], '--workers'),
    (['train', '--data', 'D', '--size', '0'], '--size'),
    (['sample', '--checkpoint', 'C', '--n', '0'], '--n'), (['sample', '--checkpoint', 'C', '--steps', '0'], '--steps'),
    (['sample', '--checkpoint', 'C', '--eta', 'nan'], '--eta'), (['sample', '--checkpoint', 'C', '--nrow', '0'], '--nrow'),
    (['sample', '--checkpoint', 'C', '--size', '-16'], '--size'), (['sample', '--checkpoint', 'C', '--seed', '-3'], '--seed'),
    (['evaluate', '--real', 'R', '--checkpoint', 'C', '--steps', '0'], '--steps'),
    (['evaluate', '--real', 'R', '--checkpoint', 'C', '--eta', '-1'], '--eta'),
    (['evaluate', '--real', 'R', '--checkpoint', 'C', '--n', '1'], '--n'),
    (['evaluate', '--real', 'R', '--checkpoint', 'C', '--bs', '0'], '--bs'),
]


@pytest.mark.parametrize('argv,flag', BAD_ARGS, ids=[' '.join(a[:1] + a[-2:]) for a, _ in BAD_ARGS])
def test_arguments_are_checked_first(argv, flag, no_work, tmp_path, capsys):
    argv = [str(tmp_path / a) if a in ('D', 'C', 'R') else a for a in argv]
    if 'demo' in argv or 'train' in argv: argv += ['--out', str(tmp_path / 'out')]
    one_line_error(*run(argv, capsys)[::2], flag)
    assert not (tmp_path / 'out').exists() or not any((tmp_path / 'out').iterdir())


# ---------------------------------------------------------------- 5. divergence is an error

def test_divergence_is_an_error(tmp_path, capsys):
    data, out = make_pngs(tmp_path / 'pngs'), tmp_path / 'run'
    code, _, err = run(['train', '--data', data, '--out', out, '--epochs', '3', '--lr', '1e3', *TINY], capsys)
    one_line_error(code, err, 'diverged', '--lr')
    if (out / 'checkpoint.pt').exists():
        assert all(torch.isfinite(v).all() for v in weights(out / 'checkpoint.pt').values() if v.is_floating_point())
    for f in out.glob('*.json'): strict_json(f)
    assert not list(out.glob('*.tmp'))


def test_json_is_strict(tmp_path):
    cli._write_json(tmp_path / 'a.json', {'a': float('nan'), 'b': [float('inf'), -float('inf'), 1.5], 'c': {'d': np.float32('nan')}})
    got = strict_json(tmp_path / 'a.json')
    assert got['a'] is None and got['b'][2] == 1.5 and got['c']['d'] is None and got['b'][:2] == ['inf', '-inf']


# ---------------------------------------------------------------- 8. failed saves clean up

@pytest.fixture
def small_learner():
    from vmddpm_nb.data import image_dataloaders
    from vmddpm_nb.learner import vmddpm_model, diffusion_learner
    torch.manual_seed(0)
    x = torch.rand(8, 1, 16, 16) * 2 - 1
    dls = image_dataloaders(x, x[:4], bs=4, device='cpu')
    return diffusion_learner(dls, vmddpm_model('tiny', layers_per_stage=1, ssm_stages=(3,)), seed=0)


def test_save_checkpoint_full_disk(tmp_path, small_learner, monkeypatch):
    from vmddpm_nb.learner import save_checkpoint
    target = tmp_path / 'checkpoint.pt'
    target.write_bytes(b'old checkpoint')
    real_save = torch.save
    def full_disk(obj, f, *a, **k):
        if hasattr(f, 'write'): f.write(b'partial')
        else: Path(f).write_bytes(b'partial')
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(torch, 'save', full_disk)
    with pytest.raises(OSError) as e: save_checkpoint(small_learner, target)
    assert str(e.value).splitlines() == [f'no space left on device writing {target}'], str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['checkpoint.pt'] and target.read_bytes() == b'old checkpoint'
    # a working save: the file and its folder are flushed to disk (fsync) before and after the rename
    monkeypatch.setattr(torch, 'save', real_save)
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, 'fsync', lambda fd: (synced.append(fd), real_fsync(fd))[1])
    save_checkpoint(small_learner, target)
    assert len(synced) >= 2 and read_checkpoint(target)['format']
    assert sorted(p.name for p in tmp_path.iterdir()) == ['checkpoint.pt']


def test_save_checkpoint_refuses_a_folder(tmp_path, small_learner):
    from vmddpm_nb.learner import save_checkpoint
    (tmp_path / 'ck').mkdir()
    with pytest.raises((ValueError, OSError), match='is a directory'): save_checkpoint(small_learner, tmp_path / 'ck')
    assert [p.name for p in tmp_path.iterdir()] == ['ck'] and not any((tmp_path / 'ck').iterdir())


def test_train_full_disk_is_one_line(tmp_path, capsys, monkeypatch):
    data, out = make_pngs(tmp_path / 'pngs'), tmp_path / 'run'
    def full_disk(obj, f, *a, **k):
        if hasattr(f, 'write'): f.write(b'partial')
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(torch, 'save', full_disk)
    code, _, err = run(['train', '--data', data, '--out', out, '--epochs', '1', *TINY], capsys)
    one_line_error(code, err, f'no space left on device writing {out / "checkpoint.pt"}')
    assert not list(out.glob('*.tmp'))


# ---------------------------------------------------------------- 10. exact resume after a time-limit stop

def test_time_limit_stop_resumes_exactly(tmp_path, capsys):
    data = make_pngs(tmp_path / 'pngs')
    a, b = tmp_path / 'a', tmp_path / 'b'
    assert run(['train', '--data', data, '--out', a, '--epochs', '2', *TINY], capsys)[0] == 0
    code, out_, err = run(['train', '--data', data, '--out', b, '--epochs', '2', '--max-minutes', '1e-6', *TINY], capsys)
    assert code == 0, err
    assert strict_json(b / 'train.json')['stopped_by_time_limit'] is True
    assert read_checkpoint(b / 'checkpoint.pt')['epoch'] == 1
    assert run(['train', '--data', data, '--out', b, '--epochs', '2', '--resume', b / 'checkpoint.pt', *TINY], capsys)[0] == 0
    ja, jb = strict_json(a / 'train.json'), strict_json(b / 'train.json')
    assert ja['optimiser_steps'] == jb['optimiser_steps']
    wa, wb = weights(a / 'checkpoint.pt'), weights(b / 'checkpoint.pt')
    assert all(torch.equal(wa[k], wb[k]) for k in wa), max((wa[k].float() - wb[k].float()).abs().max().item() for k in wa)
    rows = (b / 'history.csv').read_text().splitlines()
    assert rows[0] == (a / 'history.csv').read_text().splitlines()[0] and len(rows) == 3, rows
    assert sum(r.startswith('epoch') for r in rows) == 1


# ---------------------------------------------------------------- 11. files ignored are named

def test_ignored_files_are_named(tmp_path, capsys):
    data = make_pngs(tmp_path / 'pngs', n=6)
    (data / 'notes.txt').write_text('scanner protocol')
    (data / 'scan.dcm').write_bytes(b'DICM')
    capsys.readouterr()
    items, kind = cli.data_items(data)
    out, err = capsys.readouterr()
    assert kind == 'images' and len(items) == 6
    assert 'notes.txt' in out + err and 'scan.dcm' in out + err and 'ignored' in out + err


def test_pictures_beside_nifti_are_named(tmp_path, capsys):
    import nibabel as nib
    data = make_pngs(tmp_path / 'mixed', n=2)
    zz, yy, xx = np.mgrid[:16, :16, :6]
    vol = (((zz - 8) / 6) ** 2 + ((yy - 8) / 6) ** 2 < 1) * 100.
    nib.save(nib.Nifti1Image(vol.astype(np.float32), np.eye(4)), str(data / 'v.nii.gz'))
    capsys.readouterr()
    items, kind = cli.data_items(data)
    out, err = capsys.readouterr()
    assert kind == 'nifti' and 'img00.png' in out + err and 'ignored' in out + err


def test_evaluate_names_ignored_files(tmp_path, capsys):
    "`vmddpm evaluate` reads only pictures (or NIfTI) from --real and --samples: anything else it leaves out is named, with its flag."
    import nibabel as nib
    real, samples = make_pngs(tmp_path / 'real', n=3), make_pngs(tmp_path / 'samples', n=3)
    (real / 'labels.csv').write_text('id,label\n')
    (samples / 'sampling_log.txt').write_text('seed 0\n')
    capsys.readouterr()
    kind, files = cli._real_source(real)
    assert kind == 'pictures' and len(files) == 3
    out = capsys.readouterr().out
    assert 'note: --real: ignored 1 file' in out and 'labels.csv' in out, out
    assert len(cli._sample_files(samples)) == 3
    out = capsys.readouterr().out
    assert 'note: --samples: ignored 1 file' in out and 'sampling_log.txt' in out, out
    # a NIfTI folder given as --real: pictures beside the volumes are named under --real, not --data
    mixed = make_pngs(tmp_path / 'mixed', n=1)
    zz, yy, xx = np.mgrid[:16, :16, :6]
    vol = (((zz - 8) / 6) ** 2 + ((yy - 8) / 6) ** 2 < 1) * 100.
    nib.save(nib.Nifti1Image(vol.astype(np.float32), np.eye(4)), str(mixed / 'v.nii.gz'))
    capsys.readouterr()
    assert cli._real_source(mixed)[0] == 'nifti'
    out = capsys.readouterr().out
    assert 'note: --real: ignored 1 file' in out and '--data' not in out, out
