"""Fault-campaign checks for data.py, metrics.py and scan_orders.py: each one failed before its fix.

Small and CPU-only: no Inception forward pass, no large allocations (the thin-grid spiral runs in a subprocess with a
memory cap)."""
import os
import pickle
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

# ---------------------------------------------------------------- 2. FID weights: no code from the cache

class _Evil:
    "Unpickling this creates a marker file: stands in for any code an attacker would run."
    def __init__(self, marker): self.marker = str(marker)
    def __reduce__(self): return (Path.touch, (Path(self.marker),))


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path/'torch'))
    monkeypatch.setattr(torch.hub, '_hub_dir', None, raising=False)
    from vmddpm_nb.metrics import fid_weights_path
    p = fid_weights_path()
    assert str(p).startswith(str(tmp_path)), p
    p.parent.mkdir(parents=True)
    return p


def test_malicious_fid_cache_does_not_run(torch_home, tmp_path):
    from vmddpm_nb.metrics import InceptionFeatures
    marker = tmp_path/'pwned'
    with open(torch_home, 'wb') as f: pickle.dump({'x': _Evil(marker)}, f)
    with pytest.raises((ValueError, RuntimeError)) as e: InceptionFeatures(source='auto')
    assert not marker.exists(), 'code in the weights cache ran'
    assert str(torch_home) in str(e.value)


def test_forged_sidecar_still_loads_safely(torch_home, tmp_path):
    "Even when the hash check is fooled (a sidecar written by the attacker), the pickle is loaded with weights_only."
    import hashlib
    from vmddpm_nb.metrics import load_fid_weights
    marker = tmp_path/'pwned'
    torch.save({'x': _Evil(marker)}, torch_home)
    Path(f'{torch_home}.sha256').write_text(hashlib.sha256(torch_home.read_bytes()).hexdigest())
    with pytest.raises((ValueError, RuntimeError)): load_fid_weights(torch_home)
    assert not marker.exists()


def test_wrong_hash_refused_in_one_line(torch_home):
    from vmddpm_nb.metrics import InceptionFeatures
    torch.save({'conv.weight': torch.zeros(3)}, torch_home)        # a harmless file that is not the FID weights
    with pytest.raises((ValueError, RuntimeError)) as e: InceptionFeatures(source='auto')
    msg = str(e.value)
    assert str(torch_home) in msg and 'sha256' in msg and '\n' not in msg, msg


# ---------------------------------------------------------------- 6. NaN in a NIfTI is named

def _nii(path, vol):
    import nibabel as nib
    nib.save(nib.Nifti1Image(vol.astype(np.float32), np.eye(4)), str(path))
    return path


def test_nifti_nan_is_named(tmp_path):
    from vmddpm_nb.data import nifti_items, nonempty_slices
    rng = np.random.default_rng(0)
    vol = rng.uniform(0, 1, (8, 8, 6))
    bad = vol.copy(); bad[1, 2, [0, 1, 2, 3]] = np.nan
    good, nanf = _nii(tmp_path/'good.nii.gz', vol), _nii(tmp_path/'nan.nii.gz', bad)
    with pytest.raises(ValueError, match=r'nan\.nii\.gz.*\b4 NaN'): nifti_items([nanf])
    with pytest.raises(ValueError, match=r'4 NaN'): nonempty_slices(bad)
    with pytest.warns(UserWarning, match=r'nan\.nii\.gz.*4 NaN'):
        items = nifti_items([good, nanf], on_error='skip')
    assert items and {i.path.name for i in items} == {'good.nii.gz'}
    with pytest.raises(ValueError, match='no slice'):            # nothing left: an error, never a silent []
        with warnings.catch_warnings():
            warnings.simplefilter('ignore'); nifti_items([nanf], on_error='skip')


# ---------------------------------------------------------------- 7. value range cannot be wrong silently

def test_pixel_metrics_need_a_value_range():
    from vmddpm_nb.metrics import image_metrics, mse, psnr, ssim
    g = torch.Generator().manual_seed(0)
    t = torch.rand(2, 1, 16, 16, generator=g); p = (t + 0.05 * torch.randn(2, 1, 16, 16, generator=g)).clamp(0, 1)
    for f in (mse, psnr, ssim, image_metrics):
        with pytest.raises(ValueError, match='value_range'): f(p, t)
    m01 = psnr(p, t, value_range=(0, 1))
    torch.testing.assert_close(m01, psnr(2 * p - 1, 2 * t - 1, value_range=(-1, 1)))
    torch.testing.assert_close(mse(p, t, value_range=(0, 1)), ((p - t) ** 2).mean((1, 2, 3)))
    with pytest.warns(UserWarning, match='half'):                # [0, 1] data declared as (-1, 1)
        psnr(p, t, value_range=(-1, 1))
    u8 = (t * 255).round().to(torch.uint8)
    psnr(u8, u8, value_range=(0, 255))                          # uint8 with its own range: fine
    with pytest.raises(ValueError, match='uint8'): psnr(u8, u8, value_range=(-1, 1))


def test_inception_input_range_not_silent():
    from vmddpm_nb.metrics import to_inception_input
    x01 = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match='value_range'): to_inception_input(x01)    # undeclared and only the upper half
    torch.testing.assert_close(to_inception_input(x01, value_range=(0, 1))[:, :1], x01)
    torch.testing.assert_close(to_inception_input(2 * x01 - 1)[:, :1], x01)         # (-1, 1) data: still the default
    with pytest.raises(ValueError, match='uint8'): to_inception_input((x01 * 255).to(torch.uint8), value_range=(-1, 1))


# ---------------------------------------------------------------- 9. spiral memory O(H*W)

@pytest.mark.parametrize('hw', [(1, 10**4), (10**4, 1)])
def test_spiral_thin_grid_bounded_memory(hw):
    code = textwrap.dedent(f"""
        import resource, torch
        vm = int(next(l for l in open('/proc/self/status') if l.startswith('VmSize')).split()[1]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (vm + 2 * 2**30, resource.RLIM_INFINITY))   # 2 GiB more than now
        from vmddpm_nb.scan_orders import spiral_path
        h, w = {hw}
        p = spiral_path(h, w)
        assert torch.equal(p.sort().values, torch.arange(h * w))
        ring = torch.maximum((p // w - h // 2).abs(), (p % w - w // 2).abs())   # distance from the start cell
        assert bool((ring[1:] >= ring[:-1]).all())                              # never back to an inner ring
        print('ok')
    """)
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and 'ok' in r.stdout, r.stderr[-2000:]


# ---------------------------------------------------------------- 11. the sweep

def test_scan_orders_arguments_checked():
    from vmddpm_nb.scan_orders import inverse_permutation, neighbour_fraction, plot_path, snake_path, path_explorer
    with pytest.raises(ValueError, match='permutation'): neighbour_fraction(torch.zeros(12, dtype=torch.long), 3, 4)
    with pytest.raises((ValueError, TypeError), match='path'): neighbour_fraction(torch.arange(12.), 3, 4)
    with pytest.raises(ValueError, match='permutation'): inverse_permutation(torch.tensor([0, 0, 1]))
    with pytest.raises(ValueError, match='permutation'): plot_path(torch.tensor([0, 1, 1, 3]), 2, 2)
    with pytest.raises(ValueError, match='corner'): snake_path(3, 4, corner=True)
    with pytest.raises(ValueError, match='variant'): path_explorer('spiral', 4, 4, variant=9, interactive=False)


def test_files_of_another_kind_are_named(tmp_path):
    from PIL import Image
    from vmddpm_nb.data import image_items, nifti_items
    from vmddpm_nb.metrics import _image_files
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path/'a.png')
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path/'b.tif')
    _nii(tmp_path/'v.nii.gz', np.ones((4, 4, 3)))
    np.save(tmp_path/'s.npy', np.zeros(3))
    with pytest.warns(UserWarning, match=r'b\.tif'): image_items(tmp_path)
    with pytest.warns(UserWarning, match=r'a\.png'): nifti_items(tmp_path, min_fg=0)
    with pytest.warns(UserWarning, match=r'v\.nii\.gz'): _image_files(tmp_path, 'real')


def test_data_arguments_checked(tmp_path):
    from vmddpm_nb.data import (SliceDataset, SliceItem, image_dataloaders, nifti_items, nonempty_slices, read_slice,
                                slice_transforms)
    vol = np.random.default_rng(0).uniform(0, 1, (6, 6, 4))
    f = _nii(tmp_path/'v.nii.gz', vol)
    with pytest.raises(ValueError, match='axis'): nifti_items([f], axis=3)
    with pytest.raises(ValueError, match='min_fg'): nifti_items([f], min_fg=-0.5)
    with pytest.raises(ValueError, match='bg'): nonempty_slices(vol, bg=float('nan'))
    with pytest.raises(ValueError, match='scale'): slice_transforms(('mr', 'ct'), scale={'mr': 'percentile', 'CT': (0, 1)})
    with pytest.raises(ValueError, match='channels'): SliceDataset([SliceItem({'image': f}, 'p', index=0)], channels=2)
    with pytest.raises(ValueError, match=r'valid.*shape|shape.*valid'):
        image_dataloaders(torch.zeros(4, 1, 8, 8), torch.zeros(4, 1, 16, 4), bs=2, device='cpu')
    from pydicom.data import get_testdata_file
    ct = get_testdata_file('CT_small.dcm')
    with pytest.raises(ValueError, match='index'): read_slice(SliceItem({'image': ct}, 'p', index=-1))


def test_metrics_arguments_checked(tmp_path):
    from vmddpm_nb.metrics import FeatureStats, ssim
    x = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match='kernel_sigma'): ssim(x, x, value_range=(0, 1), kernel_sigma=0.0)
    np.savez(tmp_path/'s.npz', mu=np.zeros(3), sigma=np.full((3, 3), np.nan), n=10)
    with pytest.raises(ValueError, match='NaN'): FeatureStats.load(tmp_path/'s.npz')
    np.savez(tmp_path/'t.npz', mu=np.zeros(3), sigma=np.eye(4), n=10)
    with pytest.raises(ValueError, match='sigma'): FeatureStats.load(tmp_path/'t.npz')
