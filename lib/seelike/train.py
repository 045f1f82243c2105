"""Training recipes for the ``cifar`` zoo, and the CLI that produced ``data/weights``.

Serves Chapter 3 (the models). ``python -m seelike.train NAME`` trains one zoo
model; ``--parallel`` trains several at once on one GPU (small models leave an
H100 mostly idle). Everything that touches the images per step runs on the
training device: the whole training set sits there as uint8 and is cropped and
flipped there, so no data loader is needed.

A run is fixed either by ``--steps`` (or ``--epochs``) or by ``--time-budget``:
the latter drives the same warm-up + cosine schedule by elapsed time, so that a
lent GPU's fixed minutes always end with an annealed model; the manifest records
the number of steps reached, and ``--steps N`` replays that run's schedule.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from seelike import models, network, weights, zoo
from seelike.data import cifar10, class_balanced_subset
from seelike.io import atomic_write_bytes, atomic_write_text

__all__ = ["RECIPES", "Recipe", "augment", "evaluate", "git_commit", "lr_factor", "main",
           "make_optimizer", "predictions", "replay_steps", "train"]


@dataclass(frozen=True)
class Recipe:
    """Optimiser and schedule of one model family (augmentation: crop + flip for all)."""

    optimizer: str  # "adamw" or "sgd"
    lr: float
    weight_decay: float
    batch_size: int
    epochs: int  # default length when neither --steps nor --time-budget is given
    warmup: float = 0.05  # fraction of the run spent warming up linearly
    label_smoothing: float = 0.1
    grad_clip: float | None = 1.0


RECIPES: dict[str, Recipe] = {
    # AdamW + warm-up + cosine, as ViT papers train from scratch; no heavy augmentation so
    # that a few minutes of GPU suffice.
    "vit": Recipe("adamw", lr=1e-3, weight_decay=0.05, batch_size=512, epochs=60),
    "mixer": Recipe("adamw", lr=1e-3, weight_decay=0.05, batch_size=512, epochs=60),
    # The usual CIFAR ResNet recipe: SGD with Nesterov momentum, lr 0.1 per 128 images.
    "resnet": Recipe("sgd", lr=0.4, weight_decay=5e-4, batch_size=512, epochs=40, warmup=0.15,
                     grad_clip=None),
}


def lr_factor(progress: float, warmup: float) -> float:
    """Linear warm-up to 1 over ``warmup`` of the run, then cosine decay to 0."""
    if progress < warmup:
        return progress / warmup
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - warmup) / (1 - warmup))))


def augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random 32-px crop of the 4-px reflect-padded image, and a random horizontal flip.

    ``batch`` is uint8 (b, 32, 32, 3) on the training device; returns float (b, 3, 32, 32)
    in [0, 1]. Done with one gather, on the device, for the whole minibatch.
    """
    b, h, w, _ = batch.shape
    x = batch.permute(0, 3, 1, 2).float().div_(255)
    x = F.pad(x, (4, 4, 4, 4), mode="reflect")
    dev = batch.device
    dy = torch.randint(0, 9, (b,), device=dev, generator=generator)
    dx = torch.randint(0, 9, (b,), device=dev, generator=generator)
    rows = (dy[:, None] + torch.arange(h, device=dev))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=dev))[:, None, None, :]
    x = x[torch.arange(b, device=dev)[:, None, None, None],
          torch.arange(3, device=dev)[None, :, None, None], rows, cols]
    flip = torch.rand(b, device=dev, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def make_optimizer(net: nn.Module, recipe: Recipe, fused: bool) -> torch.optim.Optimizer:
    # No weight decay on norms, biases, tokens and position embeddings (1-D or token tensors).
    decay = [p for n, p in net.named_parameters() if p.ndim > 1 and "pos_embed" not in n
             and "cls_token" not in n]
    no_decay = [p for n, p in net.named_parameters() if not (p.ndim > 1 and "pos_embed" not in n
                and "cls_token" not in n)]
    groups = [{"params": decay, "weight_decay": recipe.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=recipe.lr, betas=(0.9, 0.999), fused=fused)
    return torch.optim.SGD(groups, lr=recipe.lr, momentum=0.9, nesterov=True)


@torch.no_grad()
def predictions(model: nn.Module, x: np.ndarray | torch.Tensor, device: torch.device,
                batch_size: int = 1000, dtype: torch.dtype | None = None) -> np.ndarray:
    """The top-1 class ``model`` predicts for each uint8 image (n, 32, 32, 3)."""
    model.eval()
    xt = torch.as_tensor(x, device=device)
    out = []
    with torch.inference_mode():
        for i in range(0, len(xt), batch_size):
            imgs = xt[i:i + batch_size].permute(0, 3, 1, 2).float().div(255)
            with torch.autocast(device.type, dtype=torch.bfloat16,
                                enabled=device.type == "cuda"):
                logits = model(imgs.to(dtype) if dtype else imgs)
            out.append(logits.argmax(1).cpu())
    return torch.cat(out).numpy()


def evaluate(model: nn.Module, x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor,
             device: torch.device, batch_size: int = 1000,
             dtype: torch.dtype | None = None) -> float:
    """Top-1 accuracy (%) of ``model`` on uint8 images (n, 32, 32, 3) and labels."""
    guess = predictions(model, x, device, batch_size, dtype)
    return 100.0 * float(np.mean(guess == np.asarray(torch.as_tensor(y).cpu())))


def git_commit() -> str:
    """The code's commit: ``SEELIKE_COMMIT`` (set where no .git travels) or ``git rev-parse``."""
    if os.environ.get("SEELIKE_COMMIT"):
        return os.environ["SEELIKE_COMMIT"]
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def train(name: str, *, out_dir: Path, device: str = "cuda",
          steps: int | None = None, epochs: float | None = None,
          time_budget: float | None = None, batch_size: int | None = None,
          limit: int | None = None, transport: Path | None = None,
          eval_points: int = 20, checkpoint_every: float = 60.0,
          progress: bool = True, compile_model: bool = False) -> dict[str, Any]:
    """Train zoo model ``name``; write ``<name>.safetensors`` and ``<name>.json`` to out_dir.

    ``limit`` keeps N images spread evenly over the (label-sorted) training and test sets, for
    smoke tests. The training seed (initialisation, data order, augmentation draws) is the
    model's: 0 for a plain name, k for ``NAME@seedk`` (:data:`seelike.zoo.SEEDS`).
    ``transport`` names a folder with ``train.npz`` and ``test.npz``
    read instead of the verified cache (the GPU machine gets a lossy copy, see
    ``scripts/gpu_zoo.py``); the manifest says which, and the shipped accuracy is
    re-measured on the verified test split afterwards.
    """
    for arg, value in (("steps", steps), ("epochs", epochs), ("time_budget", time_budget),
                       ("batch_size", batch_size), ("limit", limit)):
        # 0 would fall back to the full recipe ("not given"), which nobody asking for 0 means.
        if value is not None and (isinstance(value, bool) or not value > 0):
            raise ValueError(f"{arg}={value!r}: expected a positive number, or leave it out "
                             "for the recipe's default")
    spec = zoo.spec_of(name)
    seed = spec.seed
    recipe = RECIPES[spec.recipe]
    if batch_size:
        recipe = Recipe(**{**asdict(recipe), "batch_size": batch_size})
    dev = torch.device(device)
    torch.manual_seed(seed)
    gen = torch.Generator(device=dev).manual_seed(seed)

    if transport is not None:
        with np.load(transport / "train.npz") as f:
            x_train, y_train = f["x"], f["y"]
        with np.load(transport / "test.npz") as f:
            x_test, y_test = f["x"], f["y"]
        source = "transport copy (JPEG q95 4:4:4 of the cifar10 splits)"
    else:
        x_train, y_train, _ = cifar10("train")
        x_test, y_test, _ = cifar10("test")
        source = "cifar10 (verified)"
    idx = class_balanced_subset(y_train, spec.data_fraction, seed=seed)
    if limit:  # spread over the label-sorted rows so that every class appears
        idx = idx[np.linspace(0, len(idx) - 1, limit).astype(int)]
    x_gpu = torch.as_tensor(x_train[idx], device=dev)
    y_gpu = torch.as_tensor(y_train[idx], device=dev)
    n = len(idx)
    if limit:
        keep = np.linspace(0, len(y_test) - 1, limit).astype(int)
        x_test, y_test = x_test[keep], y_test[keep]

    model = models.build(name).to(dev)
    if spec.family == "resnet":
        model = model.to(memory_format=torch.channels_last)
    net = model.net
    # Compiled for the training step only; evaluation and saving use the plain module,
    # whose weights the compiled one shares.
    step_model = torch.compile(model) if compile_model else model
    opt = make_optimizer(net, recipe, fused=dev.type == "cuda")
    criterion = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)

    steps_per_epoch = math.ceil(n / recipe.batch_size)
    if steps is None and time_budget is None:
        steps = max(1, round((epochs if epochs is not None else recipe.epochs)
                             * steps_per_epoch))
    ckpt_path = out_dir / f"{name}.ckpt"
    out_dir.mkdir(parents=True, exist_ok=True)
    step, elapsed, history = 0, 0.0, []
    # The rest of the current epoch's shuffled order: saved with the generator, so that a
    # resumed run sees the same minibatches as an uninterrupted one.
    order = torch.empty(0, dtype=torch.long, device=dev)
    if ckpt_path.exists():
        state = torch.load(ckpt_path, map_location=dev, weights_only=False)
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        step, elapsed, history = state["step"], state["elapsed"], state["history"]
        gen.set_state(state["gen"].to(gen.get_state().device))
        order = state["order"].to(dev)

    def progress_at(step_: int, elapsed_: float) -> float:
        return elapsed_ / time_budget if time_budget else step_ / steps

    next_eval = (len(history) + 1) / eval_points
    last_ckpt = time.monotonic()
    t0 = time.monotonic() - elapsed
    bar = tqdm(total=steps or int(time_budget or 0), disable=not progress, desc=name,
               unit="step" if steps else "s", mininterval=10)
    running_loss, running_correct, running_seen = 0.0, 0, 0
    model.train()
    while progress_at(step, elapsed) < 1.0:
        if len(order) < recipe.batch_size:
            order = torch.cat([order, torch.randperm(n, device=dev, generator=gen)])
        batch, order = order[:recipe.batch_size], order[recipe.batch_size:]
        for group in opt.param_groups:
            group["lr"] = recipe.lr * lr_factor(progress_at(step, elapsed), recipe.warmup)
        imgs = augment(x_gpu[batch], gen)
        if spec.family == "resnet":
            imgs = imgs.contiguous(memory_format=torch.channels_last)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            logits = step_model(imgs)
            loss = criterion(logits.float(), y_gpu[batch])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if recipe.grad_clip:
            nn.utils.clip_grad_norm_(net.parameters(), recipe.grad_clip)
        opt.step()
        step += 1
        elapsed = time.monotonic() - t0
        bar.update(1 if steps else 0)
        if step % 25 == 0 or progress_at(step, elapsed) >= next_eval:
            running_loss += loss.item() * len(batch)
            running_correct += (logits.argmax(1) == y_gpu[batch]).sum().item()
            running_seen += len(batch)
        if progress_at(step, elapsed) >= next_eval:
            test_acc = evaluate(model, x_test, y_test, dev)
            model.train()
            history.append(dict(step=step, epoch=step * recipe.batch_size / n, seconds=elapsed,
                                train_loss=running_loss / max(running_seen, 1),
                                train_acc=100 * running_correct / max(running_seen, 1),
                                test_acc=test_acc))
            running_loss, running_correct, running_seen = 0.0, 0, 0
            next_eval = (len(history) + 1) / eval_points
            bar.set_postfix(test_acc=f"{test_acc:.1f}")
        if time.monotonic() - last_ckpt > checkpoint_every:
            _save_checkpoint(ckpt_path, net, opt, step, elapsed, history, gen, order)
            last_ckpt = time.monotonic()
    bar.close()

    model.eval()
    acc32 = evaluate(model, x_test, y_test, dev)
    half = {k: v.detach().to(torch.float16).contiguous().cpu() for k, v in net.state_dict().items()}
    check = models.build(name).to(dev)
    check.net.load_state_dict({k: v.float() for k, v in half.items()})
    guess16 = predictions(check, x_test, dev)
    acc16 = 100.0 * float(np.mean(guess16 == np.asarray(y_test)))
    keep_fp16 = acc32 - acc16 < 0.2
    correct = (guess16 if keep_fp16 else predictions(model, x_test, dev)) == np.asarray(y_test)
    tensors = half if keep_fp16 else {k: v.detach().float().contiguous().cpu()
                                      for k, v in net.state_dict().items()}
    wpath = weights.weights_path(name, out_dir)
    from safetensors.torch import save as save_bytes

    atomic_write_bytes(wpath, save_bytes(tensors, metadata={"name": name}))
    manifest = dict(
        name=name, sha256=weights.sha256_file(wpath), dtype="float16" if keep_fp16 else "float32",
        spec=zoo.spec_dict(spec), recipe=dict(asdict(recipe), name=spec.recipe,
                                                  augmentation="reflect-pad-4 crop + h-flip"),
        seed=seed, steps=step, epochs=round(step * recipe.batch_size / n, 2),
        train_examples=n, data_fraction=spec.data_fraction, train_source=source,
        schedule=(f"time budget {time_budget:.0f} s (replay with --steps {step})" if time_budget
                  else f"{step} steps"),
        device=(torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor()
                or "cpu"),
        wall_seconds=round(elapsed, 1), test_accuracy_fp32=acc32, test_accuracy_fp16=acc16,
        test_accuracy=acc16 if keep_fp16 else acc32, test_source=source,
        parameters=sum(p.numel() for p in net.parameters()), history=history,
        commit=git_commit(), torch=torch.__version__, tags=[],
        test_correct=weights.pack_correct(correct),
    )
    atomic_write_text(weights.manifest_path(name, out_dir), json.dumps(manifest, indent=1))
    ckpt_path.unlink(missing_ok=True)
    return manifest


def _save_checkpoint(path: Path, net: nn.Module, opt: torch.optim.Optimizer, step: int,
                     elapsed: float, history: list, gen: torch.Generator,
                     order: torch.Tensor) -> None:
    import io

    buf = io.BytesIO()
    torch.save(dict(net=net.state_dict(), opt=opt.state_dict(), step=step, elapsed=elapsed,
                    history=history, gen=gen.get_state(), order=order.cpu()), buf)
    atomic_write_bytes(path, buf.getvalue())


def _parallel(names: list[str], argv: list[str], out_dir: Path) -> int:
    """Run one ``seelike.train`` process per model, all at once, logs in out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    procs = []
    for name in names:
        log = open(out_dir / f"{name}.log", "w")  # noqa: SIM115 - closed when the process ends
        env = dict(os.environ, OMP_NUM_THREADS="1")
        procs.append((name, log, subprocess.Popen(
            [sys.executable, "-m", "seelike.train", name, *argv, "--no-progress"],
            stdout=log, stderr=subprocess.STDOUT, env=env)))
    failed = []
    for name, log, proc in procs:
        if proc.wait() != 0:
            failed.append(name)
        log.close()
    for name in failed:
        print(f"FAILED: {name}; see {out_dir / (name + '.log')}", file=sys.stderr)
    return 1 if failed else 0


def _trainable(name: str) -> bool:
    try:
        return bool(zoo.spec_of(name).recipe)
    except KeyError:
        return False


def replay_steps(name: str) -> int:
    """The steps the shipped seed-0 model of ``name`` trained for (its manifest records them).

    A seed variant replays its seed-0 run step for step, so that the seeds differ in the
    seed alone (Chapter 3's seed table). A model whose spec declares ``steps_of``
    (``[model, factor]``, the scale ladder) trains for that multiple of the other model's
    steps: the same optimisation budget per step, at another width or length.
    """
    base = zoo.split_seed(name)[0]
    like = zoo.spec_of(base).extra.get("steps_of")
    if like:
        other, factor = like
        return int(factor) * int(weights.read_manifest(other)["steps"])
    return int(weights.read_manifest(base)["steps"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seelike.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", help=f"zoo models: {', '.join(zoo.ZOO)}; "
                                                 f"not yet shipped: {', '.join(zoo.PENDING)}")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: data/weights of the checkout)")
    parser.add_argument("--device", default=str(network.default_device()))
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int)
    length.add_argument("--replay", action="store_true",
                        help="as many steps as the shipped seed-0 model of each name took")
    length.add_argument("--epochs", type=float)
    length.add_argument("--time-budget", type=float, help="seconds; schedule follows the clock")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--limit", type=int, help="N train and test images, spread out (tests)")
    parser.add_argument("--transport", type=Path,
                        help="folder with train.npz/test.npz to use instead of the cache")
    parser.add_argument("--parallel", action="store_true", help="one process per model")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile the training step")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if not _trainable(n)]
    if unknown:
        trainable = [n for n, s in {**zoo.ZOO, **zoo.PENDING}.items() if s.recipe]
        parser.error(f"not trainable here: {unknown}; trainable: {', '.join(trainable)}, and "
                     f"their seeds NAME{zoo.SEED_SEP}k declared in seelike.zoo.SEEDS")
    out_dir = args.out or weights.weights_dir()
    if args.parallel:
        passthrough = [a for a in (argv if argv is not None else sys.argv[1:])
                       if a not in args.names and a != "--parallel"]
        return _parallel(args.names, passthrough, out_dir)
    for name in args.names:
        steps = replay_steps(name) if args.replay else args.steps
        m = train(name, out_dir=out_dir, device=args.device, steps=steps,
                  epochs=args.epochs, time_budget=args.time_budget, batch_size=args.batch_size,
                  limit=args.limit, transport=args.transport, progress=not args.no_progress,
                  compile_model=args.compile)
        print(json.dumps({k: m[k] for k in ("name", "steps", "epochs", "wall_seconds",
                                             "test_accuracy_fp32", "test_accuracy_fp16")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
