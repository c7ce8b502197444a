"""Training throughput: seglab's Lightning training step against the seed's plain loop.

Both train the same network on the same batches from the same ``DataLoader`` (in-memory
tensors, so disk and augmentation are out of the comparison) with the same loss (BCE+Dice) and
optimizer (RAdam): only the loop differs. The seed's loop is fp32 and calls ``loss.item()``
every step (its progress bar); seglab's is ``SegmentationModule`` under ``lightning.Trainer``
(per-epoch torchmetrics means, NaN guard), with bf16 autocast and channels_last on a GPU.
Runs alternate (seed, seglab, seed, seglab...) and the best of ``--repeats`` counts.

    .venv/bin/python benchmarks/train_throughput.py                   # recipe's CPU U-Net
    .venv/bin/python benchmarks/train_throughput.py --width 64 --size 512 --batch 4  # seed's
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


def _batches(n: int, size: int, seed: int = 0):
    import torch

    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 3, size, size, generator=g)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    masks = torch.zeros(n, size, size, dtype=torch.int64)
    for i in range(n):
        cy, cx = torch.randint(size // 4, 3 * size // 4, (2,), generator=g).tolist()
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= (size // 8) ** 2
        masks[i][disc] = 1
        images[i, :, disc] += 0.5
    return torch.utils.data.TensorDataset(images, masks)


def _loader(dataset, batch: int, gpu: bool):
    import torch

    return torch.utils.data.DataLoader(
        dataset, batch_size=batch, shuffle=True, drop_last=True, pin_memory=gpu
    )


def _model(width: int):
    from seglab.models import create_model

    return create_model("unet", num_classes=1, base_width=width, depth=4)


def seed_loop(dataset, *, width: int, batch: int, steps: int, gpu: bool) -> float:
    """Images/s of the seed notebook's loop (fp32, ``loss.item()`` every step)."""
    import torch

    from seglab.losses import create_loss

    device = torch.device("cuda" if gpu else "cpu")
    model = _model(width).to(device)
    criterion = create_loss("bce_dice", num_classes=1)
    optimizer = torch.optim.RAdam(model.parameters(), lr=0.005)
    loader = _loader(dataset, batch, gpu)
    model.train()
    done, start, train_loss = 0, None, 0.0
    while done < steps + 2:
        for data, target in loader:
            if done == 2:  # two warm-up steps
                if gpu:
                    torch.cuda.synchronize()
                start = time.perf_counter()
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            output = model(data)
            loss = criterion(output, target)
            loss.backward()
            optimizer.step()
            train_loss += loss.item() * data.size(0)
            done += 1
            if done == steps + 2:
                break
    if gpu:
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - start)


def seglab_loop(dataset, *, width: int, batch: int, steps: int, gpu: bool) -> float:
    """Images/s of seglab's training step (Lightning; bf16 + channels_last on a GPU)."""
    import lightning.pytorch as pl
    import torch

    from seglab.losses import create_loss
    from seglab.train.module import OptimizationPlan, SegmentationModule

    class Clock(pl.Callback):
        def on_train_batch_start(self, trainer, module, batch_, batch_idx):
            if trainer.global_step == 2:
                if gpu:
                    torch.cuda.synchronize()
                self.start = time.perf_counter()

        def on_train_end(self, trainer, module):
            if gpu:
                torch.cuda.synchronize()
            self.end = time.perf_counter()

    model = _model(width)
    module = SegmentationModule(
        model,
        create_loss("bce_dice", num_classes=1),
        OptimizationPlan(optimizer="radam", lr=0.005),
        channels_last=gpu,
    )
    if gpu:
        model.to(memory_format=torch.channels_last)
    clock = Clock()
    trainer = pl.Trainer(
        max_steps=steps + 2,
        accelerator="gpu" if gpu else "cpu",
        devices=1,
        precision="bf16-mixed" if gpu else "32",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=[clock],
    )
    trainer.fit(module, train_dataloaders=_loader(dataset, batch, gpu))
    return steps * batch / (clock.end - clock.start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=16, help="U-Net base width (recipe: 16)")
    parser.add_argument("--size", type=int, default=192, help="crop size, px (recipe: 192)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=12, help="timed steps per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpu", action="store_true", help="stay on the CPU with a GPU present")
    args = parser.parse_args()

    import logging

    import torch

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    gpu = torch.cuda.is_available() and not args.cpu
    dataset = _batches(args.batch * (args.steps + 2), args.size)
    options = {"width": args.width, "batch": args.batch, "steps": args.steps}
    seed, ours = [], []
    for _ in range(args.repeats):
        seed.append(seed_loop(dataset, gpu=gpu, **options))
        ours.append(seglab_loop(dataset, gpu=gpu, **options))
    where = torch.cuda.get_device_name(0) if gpu else f"CPU, {torch.get_num_threads()} threads"
    print(
        f"\nU-Net width {args.width}, {args.size} px, batch {args.batch}, {args.steps} steps, "
        f"best of {args.repeats}; {where}\n"
    )
    print("| loop | precision | images/s | vs seed |")
    print("|---|---|---|---|")
    best_seed, best_ours = max(seed), max(ours)
    print(f"| seed (plain PyTorch, loss.item() per step) | fp32 | {best_seed:.2f} | 1.00x |")
    precision = "bf16-mixed, channels_last" if gpu else "fp32"
    print(f"| seglab (Lightning) | {precision} | {best_ours:.2f} | {best_ours / best_seed:.2f}x |")


if __name__ == "__main__":
    main()
