"""Time the paper preset's CKA pipeline at the paper's scale against its floor.

Random-init timm ViT-B/16 and ResNet-50 at 224 px (weights do not change the cost),
10,240 images in minibatches of 1,024 as in the paper's protocol, unbiased minibatch
CKA between every ViT block output and every ResNet unit output, streamed through
``seelike.compare.cka_matrix``. Images are random and generated on the device, so
the number measures models + hooks + CKA, not image decoding.

The floor, measured in the same run on the same images: both models' forward passes
with output hooks on the same layers, plus one float32 Gram matrix per layer and
minibatch (formed from the layer as it lies in memory), and nothing else: what any
minibatch-CKA engine must pay. ``x floor`` is the pipeline's seconds over the floor's;
each is the fastest of ``--repeat`` alternating runs.

    python benchmarks/bench_paper_pipeline.py [--device cuda] [--n 10240] [--batch 1024]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import torch

from seelike import compare, layers, models


class RandomImages:
    """A stand-in for a ProbeSet: deterministic random images made on the device."""

    def __init__(self, n: int, size: int, device: torch.device) -> None:
        self.n, self.size, self.device = n, size, device

    def __len__(self) -> int:
        return self.n

    def tensor(self, i: int, j: int) -> torch.Tensor:
        gen = torch.Generator(device=self.device).manual_seed(i)
        return torch.rand(j - i, 3, self.size, self.size, generator=gen, device=self.device)


def floor(vit: torch.nn.Module, resnet: torch.nn.Module, probe: RandomImages,
          batch: int) -> None:
    """Forward passes with output hooks and one float32 Gram per layer: nothing else."""
    kept: list[torch.Tensor] = []
    handles = [net.get_submodule(name).register_forward_hook(
        lambda _m, _i, out: kept.append(out)) for net in (vit, resnet)
        for name in layers.block_layers(net)]
    try:
        with torch.no_grad():
            for start in range(0, len(probe) - batch + 1, batch):
                x = probe.tensor(start, start + batch)
                vit(x)
                resnet(x)
                for f in kept:
                    order = sorted(range(1, f.ndim), key=lambda axis: -f.stride(axis))
                    flat = f.permute(0, *order).reshape(len(f), -1).float()
                    flat @ flat.T
                kept.clear()
    finally:
        for h in handles:
            h.remove()


def timed(device: torch.device, work: Callable[[], Any]) -> tuple[float, Any]:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = work()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--n", type=int, default=10240)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    vit = models.build_paper("vit_base_patch16_224.augreg_in21k").to(device)
    resnet = models.build_paper("resnet50.a1_in1k").to(device)
    probe = RandomImages(args.n, 224, device)

    def pipeline():
        return compare.cka_matrix(vit, layers.block_layers(vit), probe, model_b=resnet,
                                  layers_b=layers.block_layers(resnet), batch_size=args.batch,
                                  device=device)

    floor_seconds, seconds, peak = [], [], 0
    for _ in range(args.repeat):
        floor_seconds.append(timed(device, lambda: floor(vit, resnet, probe, args.batch))[0])
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        took, cka = timed(device, pipeline)
        seconds.append(took)
        if device.type == "cuda":
            peak = max(peak, torch.cuda.max_memory_allocated(device))
    best, best_floor = min(seconds), min(floor_seconds)
    result = dict(
        device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        n=args.n, batch=args.batch, vit_layers=cka.shape[0], resnet_layers=cka.shape[1],
        seconds=round(best, 2), floor_seconds=round(best_floor, 2),
        times_floor=round(best / best_floor, 3), repeat=args.repeat,
        images_per_second=round(args.n / best, 1),
        peak_gpu_memory_gib=round(peak / 2**30, 2) if device.type == "cuda" else None,
        torch=torch.__version__, finite=bool(torch.isfinite(torch.as_tensor(cka)).all()))
    print(json.dumps(result, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
