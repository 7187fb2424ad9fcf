"""Each benchmark script runs from a fresh clone: its `--quick` smoke run finishes and writes a table whose cells are
the numbers it promises (not the timings themselves: those belong to the full runs on a quiet machine)."""
import math
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(script, *args, tmp):
    out = tmp / f'{script}.md'
    r = subprocess.run([sys.executable, str(ROOT / 'benchmarks' / f'{script}.py'), '--quick', '--out', str(out), *args],
                       cwd=tmp, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f'{script}.py --quick failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}'
    return out.read_text()


def rows(md):
    "Table rows of a markdown text as {first cell: [other cells]}."
    return {c[0]: c[1:] for c in ([x.strip() for x in l.strip().strip('|').split('|')] for l in md.splitlines()
                                  if l.startswith('|') and not l.startswith('|---'))}


def num(cell):
    "The leading number of a cell ('0.31 (164)' -> 0.31, '1,234' -> 1234)."
    m = re.match(r'-?[\d,]*\.?\d+(e-?\d+)?', cell.replace('×', ''))
    assert m, f'not a number: {cell!r}'
    return float(m.group(0).replace(',', ''))


def test_scan_quick(tmp_path):
    t = rows(run('scan', '--threads', '1', tmp=tmp_path))
    for peer in ('ours-ref', 'ours-fast'):
        assert num(t[peer][0]) > 0 and num(t[peer][1]) >= 0, t[peer]
    ratio = num(t['ours-ref'][0]) / num(t['ours-fast'][0])   # the table's arithmetic, from its own time cells
    assert abs(num(t['ours-ref'][2]) - ratio) <= 0.05 * ratio + 0.06, (t['ours-ref'], ratio)
    assert {'128', '256', '512'} <= set(t), 'the L sweep is missing'
    for peer in ('ours-fast', 'ours-numba'):                 # forward-alone column and its ratio
        if num(t[peer][0]) > 0 if peer == 'ours-fast' else 'not available' not in t[peer][0]:
            assert num(t[peer][4]) > 0 and abs(num(t[peer][5]) - num(t[peer][4]) / num(t['ours-fast'][4])) <= 0.01 + 0.05 * num(t[peer][5])
    shapes = [k for k in t if k.startswith('(')]
    assert len(shapes) >= 2 and all(num(t[k][0]) > 0 for k in shapes), 'the model-shapes table is missing'


def test_scaling_quick(tmp_path):
    t = rows(run('scaling', tmp=tmp_path))
    for m in ('VM-DDPM', 'U-Net', 'DiT'):
        assert num(t[m][0]) > 1e4, f'{m}: parameter count {t[m][0]}'
        assert all(num(c) > 0 for c in t[m][1:4]), t[m]
        assert math.isfinite(num(t[m][4])), f'{m}: slope {t[m][4]}'
    p = [num(t[m][0]) for m in ('VM-DDPM', 'U-Net', 'DiT')]
    assert max(p) / min(p) < 1.25, f'parameter counts not matched: {p}'


def test_sampling_quick(tmp_path):
    md = run('sampling', tmp=tmp_path)
    t = rows(md)
    assert num(t['DDPM 40'][1]) > 0 and num(t['DDIM 10'][1]) > 0
    assert num(t['DDPM 40'][0]) == 40 and num(t['DDIM 10'][0]) == 10, 'network evaluations = sampler steps'
    speedup = num(t['DDPM 40'][1]) / num(t['DDIM 10'][1])    # the table's arithmetic, from its own time cells
    assert abs(num(t['DDIM 10'][2]) - speedup) <= 0.05 * speedup + 0.06, (t['DDIM 10'], speedup)
    assert all(num(t[k][3]) > 0 for k in ('DDPM 40', 'DDIM 10')), 'FID missing'


def test_reproduce_quick(tmp_path):
    t = rows(run('reproduce', '--work', str(tmp_path / 'work'), tmp=tmp_path))
    for m in ('vmddpm', 'vmddpm-noregen', 'unet'):
        r = t[m]
        assert num(r[0]) > 1e4 and math.isfinite(num(r[3])), r
        assert num(r[4]) > 0 and num(r[5]) > 0, f'{m}: FID not computed: {r}'
    assert t['vmddpm'][0] == t['vmddpm-noregen'][0], 'the ablation must keep the network'
    assert num(t['vmddpm-noregen'][7]) == 0, 'without regeneration, η = 0 DDIM from one x_T must not depend on the seed'
    assert num(t['vmddpm'][7]) > 0, 'with regeneration on while sampling, another draw of orders must change the samples'
    assert t['unet'][7] == '—'
    assert num(t['real training slices'][4]) > 0


def test_diffma_scaling_quick(tmp_path):
    md = run('diffma_scaling', '--threads', '1', tmp=tmp_path)
    t = rows(md)
    models = ('DiffMa', 'ViM', 'ZigMa', 'DiT')
    tol = float(re.search(r'matched within ±(\d+)%', md).group(1)) / 100   # the tolerance the table states
    assert tol <= 0.15, f'the stated tolerance is looser than 15 %: {tol}'
    p = {m: num(t[m][0]) for m in models}
    for m in models:
        r = t[m]
        assert p[m] > 1e5, f'{m}: parameter count {r[0]}'
        assert abs(p[m] / p['DiffMa'] - 1) <= tol, f'{m}: {p[m]:,.0f} parameters vs DiffMa {p["DiffMa"]:,.0f}'
        assert abs(num(r[1]) - p[m] / p['DiffMa']) <= 0.0011, f'{m}: ratio column {r[1]} vs the counts'   # its arithmetic
        assert num(r[2]) >= 1 and num(r[3]) >= 1, f'{m}: depth/width {r[2:4]}'
        assert len(r) == 8, f'{m}: expected 3 sizes and a slope, got {r}'
        assert all(num(c) > 0 for c in r[4:7]), f'{m}: time cells {r[4:7]}'
        assert math.isfinite(num(r[7])), f'{m}: slope {r[7]}'
    assert num(t['ViM'][2]) > num(t['DiffMa'][2]), 'a single-Mamba block has fewer parameters: it needs more blocks'


def test_train_step_quick(tmp_path):
    t = rows(run('train_step', tmp=tmp_path))
    for m in ('VM-DDPM tiny, SSM at all 4 stages', 'DiffMa tiny'):
        params, layers, chunked, compiled, speedup = t[m]
        assert num(params) > 1e4 and num(chunked) > 0 and num(compiled) > 0, t[m]
        ratio = num(chunked) / num(compiled)                  # the table's arithmetic, from its own time cells
        assert abs(num(speedup) - ratio) <= 0.05 * ratio + 0.06, (t[m], ratio)
    assert num(t['DiffMa tiny'][1]) == 2 * 4, 'DiffMa tiny: 4 blocks of two Mambas each must all be switched'


def test_translate_quick(tmp_path):
    import json
    md = run('translate', '--threads', '1', '--seeds', '2', tmp=tmp_path)
    t = rows(md)
    res = json.loads((tmp_path / 'translate.json').read_text())
    assert 'Command: `python benchmarks/translate.py --quick' in md
    assert (tmp_path / 'translate_32_quick_shared.pt').is_file(), 'the shared autoencoder/embedder cache is missing'
    variants = ('DiffMa', 'ZigMa', 'ViM', 'VMamba', 'UNet', 'DiffMa-nomask', 'DiffMa-released', 'DiffMa-raster')
    tol = float(re.search(r'within ±(\d+)%', md).group(1)) / 100          # the tolerance the table states
    assert tol <= 0.15, f'the stated tolerance is looser than 15 %: {tol}'
    p = {m: num(t[m][0]) for m in variants}
    for m in variants:
        r = t[m]
        assert len(r) == 11, f'{m}: expected 11 cells after the name, got {r}'
        assert p[m] > 1e4 and p[m] == res['models'][m]['params'], f'{m}: parameter count {r[0]}'
        assert abs(num(r[1]) - p[m] / p['DiffMa']) <= 0.0011, f'{m}: ratio column {r[1]} vs the counts'   # its arithmetic
        if m != 'UNet' or 'outside' not in r[0]:
            assert abs(p[m] / p['DiffMa'] - 1) <= tol, f'{m}: {p[m]:,.0f} parameters vs DiffMa {p["DiffMa"]:,.0f}'
        ssim_u8, psnr_u8, mse_u8, ssim_in, psnr_in, mse_in = (num(c) for c in r[3:9])
        assert all(math.isfinite(v) for v in (ssim_u8, psnr_u8, mse_u8, ssim_in, psnr_in, mse_in)), f'{m}: {r}'
        assert -1 <= ssim_u8 <= 1 and -1 <= ssim_in <= 1 and mse_u8 >= 0 and mse_in >= 0, f'{m}: {r}'
        assert all('±' in c for c in r[3:9]), f'{m}: two seeds must give mean ± spread cells: {r[3:9]}'
        runs = res['models'][m]['runs']
        assert [x['seed'] for x in runs] == [0, 1]
        for c, key in zip(r[3:9], ('uint8/whole/ssim', 'uint8/whole/psnr', 'uint8/whole/mse',
                                   'intensity/mask/ssim', 'intensity/mask/psnr', 'intensity/mask/mse')):
            mean = sum(x['metrics'][key] for x in runs) / len(runs)                  # the cell is the mean of the runs
            assert abs(num(c) - mean) <= 1e-3 * abs(mean) + 1e-3, f'{m} {key}: cell {c} vs mean of the runs {mean}'
        assert num(r[9]) > 0 and num(r[10]) > 0, f'{m}: times {r[9:]}'
    for m in ('DiffMa-nomask', 'DiffMa-released', 'DiffMa-raster'):
        assert t[m][0] == t['DiffMa'][0] and t[m][2] == t['DiffMa'][2], f'{m}: an ablation must keep the network'
    for m in ('ZigMa', 'ViM', 'VMamba'):
        assert num(t[m][2].split('×')[0]) > num(t['DiffMa'][2].split('×')[0]), f'{m}: one Mamba per block needs more blocks'
    ceiling = t['AE reconstruction (ceiling)']
    assert all(math.isfinite(num(c)) for c in ceiling[3:9]), ceiling
    assert 'DiT: skipped' in md, 'the missing DiT row must be stated'
    assert 'ConcatTranslator' in md, 'the table must say how the U-Net is conditioned'   # translate's generic path: lesson 16 checks it


def test_fusion_init_quick(tmp_path):
    t = rows(run('fusion_init', '--threads', '1', '--variants', 'parallel / mamba', 'cascade / scan',
                 'cascade / scan / zero merge', tmp=tmp_path))
    pm, cs, cz = t['parallel / mamba'], t['cascade / scan'], t['cascade / scan / zero merge']
    assert num(cs[0]) < num(pm[0]), 'the cascade has one CSM per block: fewer parameters than two SS2Ds'
    assert num(cs[0]) == num(cz[0]), 'the zero merge changes an initialisation, not the network'
    init = lambda cell: num(cell.split('→')[0].strip())
    assert init(cs[4]) > 10 * init(pm[4]), f"the 'scan' init must give the scan a share at the start: {cs[4]} vs {pm[4]}"
    assert init(cz[6]) == 0 and init(cs[6]) > 0, 'with a zero merge, switching every SS2D off changes nothing at initialisation'
    assert all(math.isfinite(num(r[2])) for r in (pm, cs, cz)), 'held-out L_simple missing'
