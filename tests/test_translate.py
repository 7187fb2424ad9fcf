"""The CT → MR translation commands end to end on tiny data: a SynthRAD2023-like folder written here (3 patients of
32×32×6 voxels), `translate train` → `sample` (NIfTI in, PNG + NIfTI out) → `evaluate`, and their one-line errors.

Every run is a few optimiser steps of the 'tiny' models: the point is that the pieces connect and that bad input is
refused before any work, not what the models learn (lesson 16 and the README show that)."""
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from cli_helpers import _one_thread, run, one_line_error  # noqa: F401 (importing the autouse fixture applies it here)
from vmddpm_nb.translate import translator_from_checkpoint


def make_synthrad(root, n_patients=3, s=32, z=6, seed=0):
    "A SynthRAD2023 task-1 layout: root/brain/<patient>/{mr,ct,mask}.nii.gz; a bright ellipse head, CT bone ring."
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:s, :s]
    for p in range(n_patients):
        d = Path(root) / 'brain' / f'1BA{p:03d}'; d.mkdir(parents=True)
        r = rng.uniform(9, 12)
        head = ((yy - s / 2) ** 2 / r ** 2 + (xx - s / 2) ** 2 / (r - 2) ** 2) < 1
        ring = head & ~(((yy - s / 2) ** 2 / (r - 2) ** 2 + (xx - s / 2) ** 2 / (r - 4) ** 2) < 1)
        mr = np.stack([head * rng.uniform(200, 400) + rng.normal(0, 10, (s, s)) for _ in range(z)], -1)
        ct = np.stack([np.where(ring, 900.0, np.where(head, 40.0, -1000.0)) + rng.normal(0, 5, (s, s)) for _ in range(z)], -1)
        mask = np.repeat(head[..., None], z, -1).astype(np.uint8)
        for k, a in (('mr', mr.astype(np.float32)), ('ct', ct.astype(np.float32)), ('mask', mask)):
            nib.save(nib.Nifti1Image(a, np.eye(4)), str(d / f'{k}.nii.gz'))
    return Path(root)


TINY_TRAIN = ['--size', '32', '--ae-steps', '2', '--embed-steps', '2', '--epochs', '1', '--bs', '4', '--fit-slices', '8',
              '--preview-steps', '2']


def test_train_sample_evaluate(tmp_path, capsys):
    data = make_synthrad(tmp_path / 'Task1')
    code, out, err = run(['translate', 'train', '--data', data, '--region', 'brain', '--out', tmp_path / 'run', *TINY_TRAIN], capsys)
    assert code == 0, err
    ck = tmp_path / 'run' / 'checkpoint.pt'
    summ = json.loads((tmp_path / 'run' / 'summary.json').read_text())
    assert summ['patients'] == 3 and summ['n_train'] + summ['n_valid'] == 18 and summ['epochs_done'] == 1
    assert (tmp_path / 'run' / 'previews' / 'translate_epoch001.png').is_file()
    r = translator_from_checkpoint(ck)
    code, out, err = run(['sample', '--checkpoint', ck, '--out', tmp_path / 's.png'], capsys)   # the unconditional command
    one_line_error(code, err, 'DiffMaConditional', 'translate sample')
    assert r['model'].backbone.input_size == (8, 8)                          # 32 px / ×4 autoencoder
    # sample a CT volume: one PNG per axial slice and a NIfTI stack
    ct = data / 'brain' / '1BA000' / 'ct.nii.gz'
    code, out, err = run(['translate', 'sample', '--checkpoint', ck, '--ct', ct, '--out', tmp_path / 'gen', '--steps', '3'], capsys)
    assert code == 0, err
    pngs = sorted((tmp_path / 'gen').glob('mr_ct_z*.png'))
    assert len(pngs) == 6 and Image.open(pngs[0]).size == (32, 32)
    vol = nib.load(str(tmp_path / 'gen' / 'mr_ct.nii.gz')).get_fdata()
    assert vol.shape == (32, 32, 6) and np.isfinite(vol).all() and -1 <= vol.min() and vol.max() <= 1
    # evaluate: generated vs "real" slices paired by name (here the generated ones themselves → perfect scores)
    real = tmp_path / 'real'; real.mkdir()
    for f in pngs: Image.open(f).save(real / f.name[3:])
    code, out, err = run(['translate', 'evaluate', '--pred', tmp_path / 'gen', '--real', real, '--out', tmp_path / 'm.json'], capsys)
    assert code == 0, err
    m = json.loads((tmp_path / 'm.json').read_text())
    assert m['n_pairs'] == 6 and m['metrics']['uint8/whole/mse'] == 0 and m['metrics']['uint8/whole/ssim'] == pytest.approx(1)


def test_errors_are_one_line(tmp_path, capsys):
    data = make_synthrad(tmp_path / 'Task1', n_patients=2)
    one_line_error(*run(['translate', 'train', '--data', tmp_path / 'nowhere', '--out', tmp_path / 'r', *TINY_TRAIN], capsys)[::2],
                   '--data', 'nowhere')
    one_line_error(*run(['translate', 'train', '--data', data, '--region', 'pelvis', '--out', tmp_path / 'r', *TINY_TRAIN], capsys)[::2],
                   '--data', 'pelvis')
    (data / 'brain' / '1BA001' / 'mask.nii.gz').unlink()                     # one patient left: nothing to hold out
    one_line_error(*run(['translate', 'train', '--data', data, '--out', tmp_path / 'r', *TINY_TRAIN], capsys)[::2],
                   '--data', 'at least 2')
    one_line_error(*run(['translate', 'sample', '--checkpoint', tmp_path / 'none.pt', '--ct', data], capsys)[::2],
                   'checkpoint', 'does not exist')
    one_line_error(*run(['translate', 'sample', '--checkpoint', tmp_path / 'none.pt', '--ct', data, '--png-window', '80', '0'],
                        capsys)[::2], '--png-window', 'LO < HI')
    a, b, m = tmp_path / 'a', tmp_path / 'b', tmp_path / 'm'
    for d in (a, b, m): d.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(a / 'x.png')
    Image.fromarray(np.zeros((8, 9), np.uint8)).save(b / 'x.png')
    one_line_error(*run(['translate', 'evaluate', '--pred', a, '--real', b], capsys)[::2], 'x', '(8, 9)')
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(b / 'y.png')
    one_line_error(*run(['translate', 'evaluate', '--pred', a, '--real', tmp_path / 'c'], capsys)[::2], '--real', 'does not exist')
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(b / 'x.png')
    one_line_error(*run(['translate', 'evaluate', '--pred', a, '--real', b, '--masks', m], capsys)[::2], '--masks')


def test_png_ct_levels_are_read_as_stated_hounsfield_units(tmp_path, capsys):
    "A PNG CT slice: level 0 and 255 stand for the HU of --png-window, then the training window [-1024, 3071] applies."
    from vmddpm_nb.translate import _read_ct_inputs
    lv = np.array([[0, 64, 128, 255]] * 4, np.uint8)
    Image.fromarray(lv).save(tmp_path / 'ct.png')
    unit = lambda hu: np.clip((hu + 1024) / 4095 * 2 - 1, -1, 1)             # SynthRAD's CT window, written out here
    x, names = _read_ct_inputs(tmp_path / 'ct.png', 4)                        # default: the PNG spans the training window
    np.testing.assert_allclose(x[0, 0].numpy(), unit(-1024 + lv / 255 * 4095), atol=1e-5)
    assert 'level 0 read as -1024 HU' in capsys.readouterr().out
    x, _ = _read_ct_inputs(tmp_path / 'ct.png', 4, (0, 80))                   # a brain display window: 0..80 HU
    np.testing.assert_allclose(x[0, 0].numpy(), unit(lv / 255 * 80), atol=1e-5)
    assert x.max() < -0.45                                                    # soft tissue, not bone: far below the default reading


def test_demo_quick(tmp_path, capsys):
    code, out, err = run(['translate', 'demo', '--out', tmp_path / 'demo', '--quick'], capsys)
    assert code == 0, err
    s = json.loads((tmp_path / 'demo' / 'summary.json').read_text())
    assert 'SYNTHETIC' in s['data'] and s['quick'] is True
    for f in ('checkpoint.pt', 'translate_demo.png', 'loss.png'): assert (tmp_path / 'demo' / f).is_file(), f
    assert s['prediction'] == 'v' and s['ct_tokens'] is True                 # the demo's two departures from DiffMa (lesson 16 §8)
    r = translator_from_checkpoint(tmp_path / 'demo' / 'checkpoint.pt')
    assert r['model'].prediction == 'v' and r['model'].ct_tokens
    code, out, err = run(['translate', 'demo', '--out', tmp_path / 'demo', '--quick'], capsys)   # never overwritten silently
    one_line_error(code, err, '--out', '--overwrite')
    code, out, err = run(['translate', 'demo', '--out', tmp_path / 'rel', '--quick', '--prediction', 'eps', '--no-ct-tokens'], capsys)
    assert code == 0, err
    r = translator_from_checkpoint(tmp_path / 'rel' / 'checkpoint.pt')       # DiffMa's own conditioning and objective
    assert r['model'].prediction == 'eps' and not r['model'].ct_tokens and 'ct_embed' not in dict(r['model'].named_children())


def test_train_v_with_ct_tokens(tmp_path, capsys):
    "`translate train --prediction v --ct-tokens`: the checkpoint remembers both, and `sample` uses them."
    data = make_synthrad(tmp_path / 'Task1')
    code, out, err = run(['translate', 'train', '--data', data, '--out', tmp_path / 'run', *TINY_TRAIN, '--prediction', 'v',
                          '--ct-tokens'], capsys)
    assert code == 0, err
    r = translator_from_checkpoint(tmp_path / 'run' / 'checkpoint.pt')
    assert r['model'].prediction == 'v' and r['model'].ct_tokens
    assert json.loads((tmp_path / 'run' / 'summary.json').read_text())['prediction'] == 'v'
    ct = data / 'brain' / '1BA001' / 'ct.nii.gz'
    code, out, err = run(['translate', 'sample', '--checkpoint', tmp_path / 'run' / 'checkpoint.pt', '--ct', ct, '--out',
                          tmp_path / 'gen', '--steps', '3'], capsys)
    assert code == 0, err
    assert len(list((tmp_path / 'gen').glob('mr_ct_z*.png'))) == 6
