"""Time seelike.cka.MinibatchCKA against the cost of the forward passes and Grams it cannot avoid.

Serves Chapter 2, "CKA from first principles", and the ViT-vs-ResNet CKA heatmaps of Raghu et al.
(2021), Figs 1-2: a CIFAR-sized ViT (blocks 0-11) against a CIFAR-style ResNet-18 (layer1.0 ...
layer4.1), both at random init, on 2,048 images in minibatches of 256.

Rows:

* ``floor``: forward passes of both models with output hooks, plus one float32 Gram matrix per
  captured layer, formed without copying the layer, and nothing else: any minibatch-CKA engine
  has to pay at least this.
* ``seelike MinibatchCKA``: the same forward passes and hooks feeding
  :class:`seelike.cka.MinibatchCKA` (unbiased HSIC, the paper's choice).
* ``pytorch-cka`` (PyPI ``pytorch-cka``, imported as ``cka``) and ``torch-cka`` (PyPI
  ``torch-cka``, imported as ``torch_cka``): the same models, layers, images and batch size run
  through each library's own entry point as its README shows (``cka.compute_cka`` and
  ``torch_cka.CKA(...).compare``), with its own forward hooks, fed by an unshuffled
  ``DataLoader``. Both implement the same estimator as seelike (per-minibatch unbiased HSIC_1,
  summed or averaged over minibatches, then normalised), so they are compared with the same
  float64 reference. Listed as skipped when not importable.

How features are held: every row keeps the captured outputs of all 20 layers of both models
until the minibatch's Grams are formed and drops them before the next forward pass. ``floor``
and ``seelike`` share this script's hooks, which keep each block's output tensor as the forward
pass made it; pytorch-cka's hooks keep ``output.flatten(1)``, torch-cka's the output itself.
The images are decoded as ``(h, w, c)``, so the ResNet runs channels-last and its feature maps
are not C-contiguous: flattening one in C order (pytorch-cka's hook, or a plain ``reshape``)
copies it. The library rows' imports happen before the baseline is taken, so that their
module memory is not counted.

Each timed method runs in a fresh child process so that its peak memory is its own; they run
in turn ``--repeat`` times and the fastest run of each is reported, because a shared machine's
load comes and goes. Memory is the
rise of the process's peak RSS (``ru_maxrss``) over its value after the models, the images and a
warm-up forward pass are in place; on CUDA, the rise of ``torch.cuda.max_memory_allocated``.
Peak RSS also counts freed memory that glibc's allocator keeps: it raises its mmap threshold
as blocks are freed, after which blocks of up to 32 MiB come from a heap that fragments in ways
that depend on the order of allocations, so the same code's peak varies by tens of MiB from run
to run. The table therefore gives two memory columns on CPU: the median and range over the
timed runs, with glibc as it comes; and one further, untimed run of each method with
``MALLOC_MMAP_THRESHOLD_=131072`` (glibc's initial threshold, held fixed), which returns every
block over 128 KiB to the system when it is freed, so that the peak is, to within a few MiB,
the most memory the method held at once.
max |delta| compares each method's CKA with a float64 numpy reference (Song et al.'s HSIC_1
written out, per minibatch, summed, then normalised) computed from the very same captured
features in a separate, untimed, process.

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
from importlib import metadata
from pathlib import Path

import numpy as np
import timm
import torch
from timm.models.vision_transformer import VisionTransformer
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from seelike.cka import MinibatchCKA

VIT_LAYERS = [f"blocks.{i}" for i in range(12)]
RESNET_LAYERS = [f"layer{stage}.{block}" for stage in range(1, 5) for block in range(2)]
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
# PyPI name -> import name (pytorch-cka installs a top-level package called ``cka``).
OPTIONAL_LIBRARIES = {"pytorch-cka": "cka", "torch-cka": "torch_cka"}
# torch-cka once more, with CKA.compare called inside torch.no_grad() (see child()).
TORCH_CKA_NO_GRAD = "torch-cka-no-grad"
LIBRARY_NOTES = {
    "pytorch-cka": (
        "pytorch-cka (`cka.compute_cka(vit, resnet, loader, layers=..., model2_layers=...)`): "
        "its forward hooks keep each listed module's output, detached and flattened per example "
        "(a C-order copy of each channels-last ResNet map, made as its block finishes); "
        "under `torch.inference_mode`, each minibatch's float32 Grams of the uncentred features "
        "are stacked per model and Song et al.'s unbiased HSIC_1 (diagonal removed "
        "algebraically) is evaluated for all layer pairs in float32 and summed over minibatches; "
        "CKA = sum HSIC(K, L) / sqrt(sum HSIC(K, K) sum HSIC(L, L)), the same estimator as "
        "seelike and the reference, except that the result is clamped to [0, 1] (a zero "
        "denominator becomes 1e-6), which would hide a negative unbiased estimate."),
    "torch-cka": (
        "torch-cka (`torch_cka.CKA(vit, resnet, model1_layers=..., model2_layers=...)"
        ".compare(loader, loader)`): its forward hooks keep each listed module's raw output; "
        "per minibatch a float32 Gram of the uncentred, flattened features with its diagonal "
        "zeroed, and Nguyen et al.'s Eq. (3) (= HSIC_1) for every layer pair, each term pulled "
        "to Python with `.item()` (HSIC(L, L) is recomputed for every ViT layer: 12 x 8 x 2 + "
        "12 HSICs per minibatch), averaged over minibatches, then normalised: the same "
        "estimator as the reference, unclamped. `compare` does not disable autograd, so called "
        "as its README shows, both forward passes record graphs and keep the activations "
        "for a backward pass that never comes; that is the first torch-cka row's memory."),
    TORCH_CKA_NO_GRAD: (
        "torch-cka inside torch.no_grad(): the same call wrapped by the caller, which removes "
        "the autograd cost and leaves the library's own."),
}


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
        # The data folder's name only: a machine's path does not belong in a committed table.
        x, source = (x - mean) / std, "CIFAR-10 test ($SEELIKE_DATA/datasets/cifar10/test.npz)"
    else:
        x = torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(0))
        source = "random"
    # Images decoded as (h, w, c) come out channels-last; say so, so that random images take
    # the same path through the convolutions (which keep the layout) as real ones.
    return x.contiguous(memory_format=torch.channels_last), source


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


def memory_order_matrix(f: torch.Tensor) -> torch.Tensor:
    """``(n, d)`` view of ``(n, ...)`` features, each example's features in memory order.

    A Gram matrix does not depend on the order of the features; C order would copy a
    channels-last map, which is not a cost the floor should carry.
    """
    order = sorted(range(1, f.ndim), key=lambda axis: -f.stride(axis))
    return f.permute(0, *order).reshape(len(f), -1)


def floor_grams(feats_vit: list[torch.Tensor], feats_resnet: list[torch.Tensor],
                ) -> list[torch.Tensor]:
    grams = []
    for f in feats_vit + feats_resnet:
        flat = memory_order_matrix(f).float()
        grams.append(flat @ flat.T)
    return grams


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
    # Optional libraries are imported here, before the baseline: pytorch-cka's import alone
    # (tqdm, matplotlib for its plots) raises peak RSS by about 25 MiB that no CKA needs.
    if method == "pytorch-cka":
        importlib.import_module("cka")
    elif method in ("torch-cka", TORCH_CKA_NO_GRAD):
        importlib.import_module("torch_cka")
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
    # The loops drop each minibatch's features before asking for the next: a loop variable would
    # otherwise keep them alive through the next forward pass, two minibatches' worth at the
    # peak (about 230 MiB at the default sizes); the libraries clear theirs before each pass.
    if method == "floor":
        for feats_vit, feats_resnet in batches(vit, resnet, images, args.batch, args.device):
            floor_grams(feats_vit, feats_resnet)
            del feats_vit, feats_resnet
    elif method == "seelike":
        acc = MinibatchCKA(len(VIT_LAYERS), len(RESNET_LAYERS))
        for feats_vit, feats_resnet in batches(vit, resnet, images, args.batch, args.device):
            acc.update(feats_vit, feats_resnet)
            del feats_vit, feats_resnet
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
    elif method == "pytorch-cka":
        import cka  # optional: only in its own child, imported before the baseline

        # compute_cka registers its own hooks (flattened, detached outputs), runs under
        # inference_mode, stacks float32 Grams per model and accumulates HSIC_1 over minibatches.
        loader = DataLoader(TensorDataset(images), batch_size=args.batch, shuffle=False)
        (matrix,) = cka.compute_cka(vit, resnet, loader, layers=VIT_LAYERS,
                                    model2_layers=RESNET_LAYERS, device=args.device,
                                    progress=False)
        result["cka"] = matrix.double().cpu().tolist()
    elif method in ("torch-cka", TORCH_CKA_NO_GRAD):
        import torch_cka  # optional: only in its own child, imported before the baseline

        # CKA.compare as its README shows it. It has no no_grad of its own, so autograd records
        # both forward passes unless the caller wraps it (the second variant); float32 Grams,
        # HSIC_1 per layer pair per minibatch, each term fetched with .item().
        loader = DataLoader(TensorDataset(images), batch_size=args.batch, shuffle=False)
        engine = torch_cka.CKA(vit, resnet, model1_name="ViT", model2_name="ResNet-18",
                               model1_layers=VIT_LAYERS, model2_layers=RESNET_LAYERS,
                               device=args.device)
        with torch.set_grad_enabled(method == "torch-cka"):
            engine.compare(loader, loader)
        result["cka"] = engine.export()["CKA"].double().cpu().tolist()
    if args.device == "cuda":
        torch.cuda.synchronize()
    result["seconds"] = time.perf_counter() - start
    result["memory_mib"] = peak_memory_mib(args.device) - base
    return result


def memory_cell(results: list[dict[str, object]]) -> str:
    """Median peak-memory rise over a method's runs, with the range when runs differ."""
    values = sorted(float(r["memory_mib"]) for r in results)
    spread = f" ({values[0]:.0f}-{values[-1]:.0f})" if round(values[-1]) > round(values[0]) else ""
    return f"{np.median(values):.0f}{spread}"


# Fixing the threshold switches off glibc's dynamic raise of it (see the module docstring).
HELD_MEMORY_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072"}
MEMORY_NOTE = (
    "Memory on CPU: the first memory column is the peak RSS rise as glibc leaves it, median "
    "and range over the timed runs; glibc raises its mmap threshold as large blocks are freed, "
    "after which freed blocks of up to 32 MiB stay in a heap that fragments differently from "
    "run to run, so this column moves by tens of MiB between identical runs. The second is one "
    "untimed run per method with `MALLOC_MMAP_THRESHOLD_=131072`, which hands every freed "
    "block over 128 KiB straight back: its peak is, to within a few MiB, the most memory the "
    "method held at once. Every row keeps the captured outputs of all 20 layers of both "
    "models until the minibatch's Grams are formed and drops them before the next forward "
    "pass; floor and seelike keep each block's output as the forward pass made it "
    "(channels-last for the ResNet, because the images are decoded as (h, w, c)), while "
    "pytorch-cka's hooks keep a C-order flattened copy of each. Library imports come before "
    "the baseline.")


def run_child(method: str, args: argparse.Namespace,
              env: dict[str, str] | None = None) -> dict[str, object]:
    command = [sys.executable, __file__, "--child", method, "--device", args.device,
               "--n", str(args.n), "--batch", str(args.batch)]
    done = subprocess.run(command, check=True, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--n", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", choices=["floor", "seelike", "reference", *OPTIONAL_LIBRARIES,
                                             TORCH_CKA_NO_GRAD], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args)))
        return

    # Other processes' load shifts both rows, and the many small torch calls of CKA more than
    # one big matrix product; the table says how busy the machine was.
    load_before = os.getloadavg()[0]
    installed = [p for p, m in OPTIONAL_LIBRARIES.items() if importlib.util.find_spec(m)]
    if "torch-cka" in installed:
        installed.append(TORCH_CKA_NO_GRAD)
    runs: dict[str, list[dict[str, object]]] = {m: [] for m in ["floor", "seelike", *installed]}
    for _ in range(args.repeat):
        for method, results in runs.items():
            results.append(run_child(method, args))
    best = {method: min(results, key=lambda r: r["seconds"]) for method, results in runs.items()}
    floor, ours = best["floor"], best["seelike"]
    load_after = os.getloadavg()[0]
    held = ({method: run_child(method, args, HELD_MEMORY_ENV) for method in runs}
            if args.device == "cpu" else {})
    ref = run_child("reference", args)
    reference = np.array(ref["reference"])
    delta = float(np.abs(np.array(ref["cka"]) - reference).max())
    # The timed run saw features from a separate but identical forward pass; say if they differ.
    rerun_delta = float(np.abs(np.array(ours["cka"]) - np.array(ref["cka"])).max())

    def memory(method: str) -> str:
        cells = [memory_cell(runs[method])]
        if method in held:
            cells.append(f"{held[method]['memory_mib']:.0f}")
        return " | ".join(cells)

    mem = ("peak CUDA alloc rise (MiB)" if args.device == "cuda"
           else "peak RSS rise (MiB), glibc as it comes: median (range) | peak RSS rise (MiB), "
                "128 KiB mmap threshold (held memory)")
    columns = "| ---: " * (3 + bool(held))
    lines = [
        f"| method | seconds | x floor | {mem} | max abs delta vs float64 |",
        f"| --- {columns}| ---: |",
        f"| floor (forward + float32 Grams) | {floor['seconds']:.2f} | 1.00 | "
        f"{memory('floor')} | n/a |",
        f"| seelike MinibatchCKA | {ours['seconds']:.2f} | "
        f"{ours['seconds'] / floor['seconds']:.3f} | {memory('seelike')} | {delta:.1e} |",
    ]
    library_rows = {"pytorch-cka": ("pytorch-cka", "cka.compute_cka"),
                    "torch-cka": ("torch-cka", "torch_cka.CKA.compare"),
                    TORCH_CKA_NO_GRAD: ("torch-cka", "the same, inside torch.no_grad()")}
    library_deltas: dict[str, float] = {}
    for method, (package, how) in library_rows.items():
        if method not in best:
            if method in OPTIONAL_LIBRARIES:
                lines.append(f"| {package} | skipped: not installed |" + " |" * (3 + bool(held)))
            continue
        lib = best[method]
        library_deltas[method] = float(np.abs(np.array(lib["cka"]) - reference).max())
        # Every run of a library should give the same numbers; check rather than assume it.
        spread = max(float(np.abs(np.array(r["cka"]) - np.array(lib["cka"])).max())
                     for r in runs[method])
        differ = f" (runs differ by up to {spread:.1e})" if spread else ""
        lines.append(f"| {package} {metadata.version(package)}: {how} | {lib['seconds']:.2f} | "
                     f"{lib['seconds'] / floor['seconds']:.3f} | {memory(method)} | "
                     f"{library_deltas[method]:.1e}{differ} |")
    device_name = (torch.cuda.get_device_name() if args.device == "cuda"
                   else f"{platform.processor() or platform.machine()}, "
                        f"{torch.get_num_threads()} threads")
    summary = (f"ViT (12 blocks) x ResNet-18 (8 blocks), unbiased minibatch CKA, n={args.n}, "
               f"batch={args.batch}, images: {ref['source']}, device: {args.device} "
               f"({device_name}), torch {torch.__version__}; fastest of {args.repeat} "
               f"alternating runs; memory: median (range) over those runs"
               f"{', and one untimed run each with a fixed 128 KiB mmap threshold' if held else ''}"
               f"; 1-minute load average {load_before:.1f} before and "
               f"{load_after:.1f} after the timed runs, on {os.cpu_count()} CPUs. "
               f"Reference: float64 numpy, "
               f"{ref['seconds']:.1f} s. Timed-run CKA vs reference-run CKA: {rerun_delta:.1e}.")
    if load_before > 1.0:
        # Other jobs then take whole CPUs away from some runs and not others, by more than any
        # difference between the methods; the memory columns are not affected. Only the load
        # before counts: the timed runs themselves keep every CPU busy, so the load after is
        # high even on an idle machine.
        summary += (" Other jobs kept the CPUs busy, so a run's time says more about the load "
                    "during it than about the method: the seconds and x floor columns are not "
                    "a fair comparison in this run.")
    notes = [f"{LIBRARY_NOTES[method]} Reference CKA range: {reference.min():.3f} to "
             f"{reference.max():.3f}." if method == "pytorch-cka" else LIBRARY_NOTES[method]
             for method in library_rows if method in best]
    if held:
        notes.insert(0, MEMORY_NOTE)
    table = "\n".join(lines) + "\n\n" + "\n\n".join([summary, *notes]) + "\n"
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table)
        record = {"runs": {method: [{k: v for k, v in r.items() if k != "cka"}
                                    for r in results]
                           for method, results in runs.items()},
                  "held_memory_runs": {method: {k: v for k, v in r.items() if k != "cka"}
                                       for method, r in held.items()},
                  "held_memory_env": HELD_MEMORY_ENV if held else {},
                  "max_abs_delta": delta, "rerun_delta": rerun_delta, "summary": summary,
                  "cka": ref["cka"], "reference": ref["reference"],
                  "libraries": {method: {"version": metadata.version(library_rows[method][0]),
                                         "max_abs_delta": library_deltas[method],
                                         "cka": best[method]["cka"]}
                                for method in library_deltas}}
        args.out.with_suffix(".json").write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
