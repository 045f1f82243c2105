"""Time the paper preset's CKA pipeline at the paper's scale (issues' GPU timing).

Random-init timm ViT-B/16 and ResNet-50 at 224 px (weights do not change the cost),
10,240 images in minibatches of 1,024 as in the paper's protocol, unbiased minibatch
CKA between every ViT block output and every ResNet unit output, streamed through
``seelike.compare.cka_matrix``. Images are random and generated on the device, so
the number measures models + hooks + CKA, not image decoding.

    python benchmarks/bench_paper_pipeline.py [--device cuda] [--n 10240] [--batch 1024]
"""

from __future__ import annotations

import argparse
import json
import time

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--n", type=int, default=10240)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    vit = models.build_paper("vit_base_patch16_224.augreg_in21k").to(device)
    resnet = models.build_paper("resnet50.a1_in1k").to(device)
    probe = RandomImages(args.n, 224, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    start = time.perf_counter()
    cka = compare.cka_matrix(vit, layers.block_layers(vit), probe, model_b=resnet,
                             layers_b=layers.block_layers(resnet), batch_size=args.batch,
                             device=device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    result = dict(
        device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        n=args.n, batch=args.batch, vit_layers=cka.shape[0], resnet_layers=cka.shape[1],
        seconds=round(seconds, 2), images_per_second=round(args.n / seconds, 1),
        peak_gpu_memory_gib=(round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
                             if device.type == "cuda" else None),
        torch=torch.__version__, finite=bool(torch.isfinite(torch.as_tensor(cka)).all()))
    print(json.dumps(result, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
