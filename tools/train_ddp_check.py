"""A tiny VM-DDPM training run that works the same in one process and under a data-parallel launcher.

One process, global batch 8:
    python tools/train_ddp_check.py OUT
Two processes on the CPU (gloo), 4 images each per step:
    accelerate launch --cpu --num_processes 2 tools/train_ddp_check.py OUT
    torchrun --nproc_per_node 2 tools/train_ddp_check.py OUT          # the same, without accelerate's launcher

Rank 0 writes OUT/result.json (per-step training losses averaged over the whole global batch, validation losses,
whether weights and EMA agree across processes, which process saved what) and OUT/ckpt/checkpoint.pt.
`tests/test_distributed.py` runs both and compares them.
"""
import argparse, json, sys
from pathlib import Path

import torch


def synthetic_images(n, size, seed):
    "n smooth random images in [-1, 1]: upsampled 4×4 noise, so a tiny model has something to learn."
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.interpolate(torch.randn(n, 1, 4, 4, generator=g), size=(size, size), mode='bilinear',
                                        align_corners=False)
    return (x / x.abs().amax(dim=(1, 2, 3), keepdim=True)).clamp(-1, 1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('out', type=Path)
    ap.add_argument('--global-bs', type=int, default=8, help='images per optimiser step, over all processes')
    ap.add_argument('--epochs', type=int, default=2)
    ap.add_argument('--size', type=int, default=16)
    ap.add_argument('--n-train', type=int, default=32)
    ap.add_argument('--n-valid', type=int, default=16)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)   # one core per process

    from fastai.callback.core import Callback
    from fastai.distributed import DistributedDL  # noqa: F401  (adds Learner.distrib_ctx)
    from fastai.torch_core import num_distrib, rank_distrib, to_detach
    from vmddpm_nb.data import image_dataloaders
    from vmddpm_nb.diffusion import NoiseSchedule
    from vmddpm_nb.learner import vmddpm_model, diffusion_learner, CheckpointCallback, SamplePreviewCallback

    world, rank = max(num_distrib(), 1), rank_distrib()
    if a.global_bs % world: sys.exit(f'--global-bs {a.global_bs} is not a multiple of {world} processes')
    x = synthetic_images(a.n_train + a.n_valid, a.size, seed=0)
    dls = image_dataloaders(x[:a.n_train], x[a.n_train:], bs=a.global_bs // world, flip_lr=False, seed=0, device='cpu')
    # Each process builds its model from a different seed on purpose: DistributedDataParallel must start every
    # process from rank 0's weights, and the EMA must follow it. The one-process run builds rank 0's.
    torch.manual_seed(100 + rank)
    model = vmddpm_model('tiny', layers_per_stage=1, ssm_stages=(2, 3))
    torch.manual_seed(1)   # the same global stream everywhere: Sequence Regeneration draws one order per forward pass

    class StepLosses(Callback):
        "Training loss of every optimiser step, averaged over the global batch (fastai gathers it across processes)."
        order = 60
        def before_fit(self): self.losses = []
        def after_loss(self):
            if self.training: self.losses.append(float(to_detach(self.learn.loss.detach().mean(), gather=True)))

    steps = StepLosses()
    ck = CheckpointCallback(folder=a.out / 'ckpt', every=a.epochs)
    prev = SamplePreviewCallback(every=a.epochs, n=4, steps=3, folder=a.out / 'previews', keep=False)
    learn = diffusion_learner(dls, model, NoiseSchedule.from_name('linear_beta', 100), lr=2e-3, ema_decay=0.9, seed=0,
                              cbs=[steps, ck, prev])
    with learn.no_bar(), learn.distrib_ctx(cpu=True):   # cpu=True: gloo processes (accelerate needs it said)
        learn.fit(a.epochs)

    ema = learn.ema.ema_model
    flat = lambda m: torch.cat([v.detach().double().flatten() for v in m.state_dict().values() if v.is_floating_point()])
    mine = torch.stack([flat(model).sum(), flat(model).square().sum(), flat(ema).sum(), flat(ema).square().sum(),
                        torch.tensor(float(len(ck.saved))), torch.tensor(float(len(prev.files)))])
    if world > 1:
        alls = [torch.zeros_like(mine) for _ in range(world)]
        torch.distributed.all_gather(alls, mine)
    else: alls = [mine]
    if rank == 0:
        res = {'world': world, 'bs_per_process': a.global_bs // world,
               'train_losses': steps.losses, 'valid_losses': [float(v[1]) for v in learn.recorder.values],
               'weights_equal_across_ranks': all(torch.equal(v[:2], alls[0][:2]) for v in alls),
               'ema_equal_across_ranks': all(torch.equal(v[2:4], alls[0][2:4]) for v in alls),
               'checkpoints_saved_per_rank': [int(v[4]) for v in alls],
               'previews_saved_per_rank': [int(v[5]) for v in alls]}
        (a.out / 'result.json').write_text(json.dumps(res, indent=1))
    if world > 1: torch.distributed.barrier()


if __name__ == '__main__': main()
