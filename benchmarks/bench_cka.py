"""Time seelike.cka.MinibatchCKA against the cost of the forward passes and Grams it cannot avoid.

Serves Chapter 2, "CKA from first principles", and the ViT-vs-ResNet CKA heatmaps of Raghu et al.
(2021), Figs 1-2: a CIFAR-sized ViT (blocks 0-11) against a CIFAR-style ResNet-18 (layer1.0 ...
layer4.1), both at random init, on 2,048 images in minibatches of 256.

Rows:

* ``floor``: forward passes of both models with output hooks, plus one float32 Gram matrix per
  captured layer and nothing else: any minibatch-CKA engine has to pay at least this.
* ``seelike MinibatchCKA``: the same forward passes feeding :class:`seelike.cka.MinibatchCKA`
  (unbiased HSIC, the paper's choice).
* ``pytorch-cka`` / ``torch-cka``: only if importable; otherwise listed as skipped.

Each timed method runs in a fresh child process so that its peak memory is its own; the two run
alternately ``--repeat`` times and the fastest run of each is reported, because a shared machine's
load comes and goes. Memory is the
rise of the process's peak RSS (``ru_maxrss``) over its value after the models, the images and a
warm-up forward pass are in place; on CUDA, the rise of ``torch.cuda.max_memory_allocated``.
max |delta| compares seelike with a float64 numpy reference (Song et al.'s HSIC_1 written out,
per minibatch, summed, then normalised) computed from the very same captured features in a
third, untimed, process.

Images are random unless ``$SEELIKE_DATA/datasets/cifar10/test.npz`` exists (key ``x``: uint8
N x 32 x 32 x 3), in which case its first ``--n`` images are used.

Usage: ``PYTHONPATH=lib python benchmarks/bench_cka.py [--device cpu|cuda] [--n 2048]
[--batch 256] [--repeat 3] [--out PATH]``; ``--out`` gets the markdown table, and the same path
with suffix ``.json`` the numbers.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import timm
import torch
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from seelike.cka import MinibatchCKA

VIT_LAYERS = [f"blocks.{i}" for i in range(12)]
RESNET_LAYERS = [f"layer{stage}.{block}" for stage in range(1, 5) for block in range(2)]
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
OPTIONAL_LIBRARIES = {"pytorch-cka": "pytorch_cka", "torch-cka": "torch_cka"}


def build_models(device: str) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    vit = VisionTransformer(img_size=32, patch_size=4, embed_dim=192, depth=12, num_heads=3,
                            num_classes=10)
    resnet = timm.create_model("resnet18", num_classes=10)
    # CIFAR stem: at 32x32 the ImageNet 7x7/2 conv and max-pool would discard most of the image.
    resnet.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    resnet.maxpool = nn.Identity()
    return vit.to(device).eval(), resnet.to(device).eval()


def load_images(n: int) -> tuple[torch.Tensor, str]:
    path = Path(os.environ.get("SEELIKE_DATA", "/nonexistent")) / "datasets/cifar10/test.npz"
    if path.is_file():
        x = torch.from_numpy(np.load(path)["x"][:n]).permute(0, 3, 1, 2).float() / 255
        mean, std = torch.tensor(CIFAR_MEAN)[:, None, None], torch.tensor(CIFAR_STD)[:, None, None]
        return (x - mean) / std, f"CIFAR-10 test ({path})"
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(0)), "random"


class Outputs:
    """Forward hooks that keep the latest output of each named module, in the given order."""

    def __init__(self, model: nn.Module, names: list[str]) -> None:
        modules = dict(model.named_modules())
        self.features: dict[str, torch.Tensor] = {}
        for name in names:
            modules[name].register_forward_hook(self._keeper(name))
        self.names = names

    def _keeper(self, name: str) -> Callable[..., None]:
        def keep(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
            self.features[name] = output
        return keep

    def take(self) -> list[torch.Tensor]:
        return [self.features.pop(name) for name in self.names]


def batches(vit: nn.Module, resnet: nn.Module, images: torch.Tensor, batch: int, device: str):
    """Yield (ViT features, ResNet features) per minibatch, under no_grad."""
    out_vit, out_resnet = Outputs(vit, VIT_LAYERS), Outputs(resnet, RESNET_LAYERS)
    with torch.no_grad():
        for start in range(0, len(images), batch):
            x = images[start:start + batch].to(device)
            vit(x)
            resnet(x)
            yield out_vit.take(), out_resnet.take()


def floor_grams(feats_vit: list[torch.Tensor], feats_resnet: list[torch.Tensor],
                ) -> list[torch.Tensor]:
    flat = [f.flatten(1).float() for f in feats_vit + feats_resnet]
    return [f @ f.T for f in flat]


def numpy_hsic1_sums(feats_a: list[np.ndarray], feats_b: list[np.ndarray],
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Song et al.'s HSIC_1 for every layer pair of one minibatch, in float64 numpy."""
    def debiased_grams(feats: list[np.ndarray]) -> np.ndarray:
        grams = []
        for f in feats:
            f = f.reshape(len(f), -1).astype(np.float64)
            f = f - f.mean(axis=0)  # exact in float64; HSIC_1 is translation invariant
            k = f @ f.T
            np.fill_diagonal(k, 0)
            grams.append(k)
        return np.stack(grams)

    ka, kb = debiased_grams(feats_a), debiased_grams(feats_b)
    n = ka.shape[1]

    def hsic1(k: np.ndarray, m: np.ndarray) -> np.ndarray:
        trace = np.einsum("aij,bij->ab", k, m)
        sums = np.outer(k.sum(axis=(1, 2)), m.sum(axis=(1, 2)))
        cross = k.sum(axis=2) @ m.sum(axis=2).T  # 1^T K L 1 = (K 1) . (L 1)
        return (trace + sums / ((n - 1) * (n - 2)) - 2 / (n - 2) * cross) / (n * (n - 3))

    return hsic1(ka, kb), np.diag(hsic1(ka, ka)), np.diag(hsic1(kb, kb))


def peak_memory_mib(device: str) -> float:
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    scale = 1 if platform.system() == "Darwin" else 1024  # ru_maxrss is KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def child(method: str, args: argparse.Namespace) -> dict[str, object]:
    vit, resnet = build_models(args.device)
    images, source = load_images(args.n)
    with torch.no_grad():
        warm = images[:8].to(args.device)
        vit(warm)
        resnet(warm)
    if args.device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    base = peak_memory_mib(args.device)
    result: dict[str, object] = {"source": source}
    start = time.perf_counter()
    if method == "floor":
        for feats_vit, feats_resnet in batches(vit, resnet, images, args.batch, args.device):
            floor_grams(feats_vit, feats_resnet)
    elif method == "seelike":
        acc = MinibatchCKA(len(VIT_LAYERS), len(RESNET_LAYERS))
        for feats_vit, feats_resnet in batches(vit, resnet, images, args.batch, args.device):
            acc.update(feats_vit, feats_resnet)
        result["cka"] = acc.compute().tolist()
    elif method == "reference":
        acc = MinibatchCKA(len(VIT_LAYERS), len(RESNET_LAYERS))
        cross, self_a, self_b = 0.0, 0.0, 0.0
        for feats_vit, feats_resnet in batches(vit, resnet, images, args.batch, args.device):
            acc.update(feats_vit, feats_resnet)
            c, sa, sb = numpy_hsic1_sums([f.cpu().numpy() for f in feats_vit],
                                         [f.cpu().numpy() for f in feats_resnet])
            cross, self_a, self_b = cross + c, self_a + sa, self_b + sb
        result["cka"] = acc.compute().tolist()
        result["reference"] = (cross / np.sqrt(np.outer(self_a, self_b))).tolist()
    if args.device == "cuda":
        torch.cuda.synchronize()
    result["seconds"] = time.perf_counter() - start
    result["memory_mib"] = peak_memory_mib(args.device) - base
    return result


def run_child(method: str, args: argparse.Namespace) -> dict[str, object]:
    command = [sys.executable, __file__, "--child", method, "--device", args.device,
               "--n", str(args.n), "--batch", str(args.batch)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--n", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", choices=["floor", "seelike", "reference"],
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args)))
        return

    # Other processes' load shifts both rows, and the many small torch calls of CKA more than
    # one big matrix product; the table says how busy the machine was.
    load_before = os.getloadavg()[0]
    runs: dict[str, list[dict[str, object]]] = {"floor": [], "seelike": []}
    for _ in range(args.repeat):
        for method, results in runs.items():
            results.append(run_child(method, args))
    floor, ours = (min(results, key=lambda r: r["seconds"]) for results in runs.values())
    load_after = os.getloadavg()[0]
    ref = run_child("reference", args)
    reference = np.array(ref["reference"])
    delta = float(np.abs(np.array(ref["cka"]) - reference).max())
    # The timed run saw features from a separate but identical forward pass; say if they differ.
    rerun_delta = float(np.abs(np.array(ours["cka"]) - np.array(ref["cka"])).max())

    mem = "peak CUDA alloc rise (MiB)" if args.device == "cuda" else "peak RSS rise (MiB)"
    lines = [
        f"| method | seconds | x floor | {mem} | max abs delta vs float64 |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| floor (forward + float32 Grams) | {floor['seconds']:.2f} | 1.00 | "
        f"{floor['memory_mib']:.0f} | n/a |",
        f"| seelike MinibatchCKA | {ours['seconds']:.2f} | "
        f"{ours['seconds'] / floor['seconds']:.3f} | {ours['memory_mib']:.0f} | {delta:.1e} |",
    ]
    for package, module in OPTIONAL_LIBRARIES.items():
        if importlib.util.find_spec(module) is None:
            lines.append(f"| {package} | skipped: not installed | | | |")
        else:
            lines.append(f"| {package} | installed but not wired up in this script | | | |")
    device_name = (torch.cuda.get_device_name() if args.device == "cuda"
                   else f"{platform.processor() or platform.machine()}, "
                        f"{torch.get_num_threads()} threads")
    summary = (f"ViT (12 blocks) x ResNet-18 (8 blocks), unbiased minibatch CKA, n={args.n}, "
               f"batch={args.batch}, images: {ref['source']}, device: {args.device} "
               f"({device_name}), torch {torch.__version__}; fastest of {args.repeat} "
               f"alternating runs; 1-minute load average {load_before:.1f} before and "
               f"{load_after:.1f} after the timed runs, on {os.cpu_count()} CPUs. "
               f"Reference: float64 numpy, "
               f"{ref['seconds']:.1f} s. Timed-run CKA vs reference-run CKA: {rerun_delta:.1e}.")
    table = "\n".join(lines) + "\n\n" + summary + "\n"
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table)
        record = {"runs": {method: [{k: v for k, v in r.items() if k != "cka"} for r in results]
                           for method, results in runs.items()},
                  "max_abs_delta": delta, "rerun_delta": rerun_delta, "summary": summary,
                  "cka": ref["cka"], "reference": ref["reference"]}
        args.out.with_suffix(".json").write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
