"""Draw the VM-DDPM network for the index page (README and docs) from a real model object.

    python tools/draw_architecture.py                        # nbs/images/vmddpm_architecture.png: paper128-every at 128×128
    python tools/draw_architecture.py --config tiny-every --size 32 --out /tmp/tiny.png

The picture is `vmddpm_nb.model.plot_vmddpm` (lesson 05) applied to `VMDDPM.from_config(config)`, so it shows the
stages, widths, SSLayers, SS2D modules and skips that the code builds; rerun it after changing the network.
"""
import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--config', default='paper128-every', help='a key of VMDDPM_CONFIGS (default: paper128-every)')
    ap.add_argument('--size', type=int, default=128, help='input side in pixels for the feature-map sizes (default: 128)')
    ap.add_argument('--out', type=Path, default=ROOT / 'nbs' / 'images' / 'vmddpm_architecture.png', help='PNG to write')
    ap.add_argument('--dpi', type=int, default=110, help='resolution of the PNG (default: 110)')
    a = ap.parse_args(argv)
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import torch
    from vmddpm_nb.model import VMDDPM, VMDDPM_CONFIGS, plot_vmddpm
    if a.config not in VMDDPM_CONFIGS: ap.error(f"--config: expected one of {', '.join(VMDDPM_CONFIGS)}, got {a.config!r}")
    torch.manual_seed(0)
    ax = plot_vmddpm(VMDDPM.from_config(a.config), a.size)      # ValueError naming img_size for a bad --size
    a.out.parent.mkdir(parents=True, exist_ok=True)
    ax.figure.savefig(a.out, dpi=a.dpi, bbox_inches='tight', pad_inches=0.1)
    plt.close(ax.figure)
    print(f'wrote {a.out}')


if __name__ == '__main__':
    main()
