"""Time every analysis the book's plan asks of the ``paper`` preset, on one device.

Serves the GPU page of the book (``chapters/gpu_reproduce.md``), which shows the table
this script writes. Every pass of :func:`seelike.book.schedule.schedule` (attention, CKA,
each few-shot probe draw's fit, the probe evaluation, each of Chapter 10's probe sets)
runs through the book's own entry point, :func:`seelike.book.results.results`, into a
fresh temporary cache, and then Chapter 5's receptive fields. What is replaced:

* **models**: the preset's timm architectures at random initialisation (weights do not
  change the cost), built once and kept on the device;
* **probe sets**: random images of the preset's sizes made on the device, so the seconds
  are models, hooks and analyses, not image decoding, and no download is needed; labels
  are class-balanced over Imagenette's 10 classes.

Each pass is profiled (:class:`seelike.profile.Profile`): every model's forward pass with
its taps and Grams, and every analysis's own work, each attributed to the chapter that first
asks for it (:func:`seelike.book.schedule.chapter_of`). A row sums an analysis over the passes
it runs in (Chapter 10's repeats, the probe draws); its peak is the most memory allocated on
the GPU while any of its parts ran (models and held taps included). The total is the wall
time of all passes, synchronised at each pass's end.

    python benchmarks/bench_paper.py --device cuda --out benchmarks/results_paper_cuda.json
    python benchmarks/bench_paper.py --set cka_examples=8 cka_batch=4 ...   # any preset field

``--out`` gets the JSON; the same path with suffix ``.md`` the table. The test suite runs
:func:`main` on the CPU at a tiny size (``tests/test_bench_paper.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import torch

from seelike import cache, datasets, models, probe_sets
from seelike.analyses import Declaration
from seelike.book import plan, results, roles, schedule, store
from seelike.book.images import probe_set
from seelike.book.knobs import KNOBS
from seelike.book.presets import Preset, get_preset, parse_overrides
from seelike.profile import Profile

#: Imagenette's class labels (ImageNet-1k indices): the paper preset's labels
CLASS_IDS = datasets.class_ids("imagenette")
#: the issue's target for every chapter's analyses on one H100
TARGET_SECONDS = 600


class SyntheticProbe:
    """A probe set of random images made on the device, with class-balanced labels."""

    def __init__(self, purpose: str, n: int, seed: int, image_size: int,
                 device: torch.device) -> None:
        self.purpose, self.seed, self.image_size, self.device = purpose, seed, image_size, device
        self.labels = np.array(CLASS_IDS)[np.arange(n) % len(CLASS_IDS)]
        self.ids = np.array([f"synthetic/{purpose}/{seed}/{i}" for i in range(n)])

    def __len__(self) -> int:
        return len(self.labels)

    def tensor(self, i: int, j: int) -> torch.Tensor:
        gen = torch.Generator(device=self.device).manual_seed(1_000_003 * self.seed + i)
        return torch.rand(j - i, 3, self.image_size, self.image_size, generator=gen,
                          device=self.device)


@contextmanager
def random_world(device: torch.device) -> Iterator[dict[str, torch.nn.Module]]:
    """Random-init paper models and synthetic probe sets in place of the hub and the data,
    and a fresh results cache; yields the models built so far."""
    nets: dict[str, torch.nn.Module] = {}

    def load(name: str, **_: Any) -> torch.nn.Module:
        if name not in nets:
            nets[name] = models.build_paper(name).to(device)
        return nets[name]

    def probe_draw(dataset: str, purpose: str, *, examples: int | None = None,
                   per_class: int | None = None, seed: int = 0, image_size: int
                   ) -> SyntheticProbe:
        n = examples if examples is not None else per_class * len(CLASS_IDS)
        return SyntheticProbe(purpose, n, seed, image_size, device)

    with ExitStack() as stack, tempfile.TemporaryDirectory() as folder:
        stack.enter_context(mock.patch.dict(os.environ, {cache.CACHE_ENV: folder}))
        stack.enter_context(mock.patch.object(models, "load", load))
        stack.enter_context(mock.patch.object(probe_sets, "probe_draw", probe_draw))
        stack.enter_context(mock.patch.object(cache, "model_fingerprint",
                                              lambda name, **_: f"random-init {name}"))
        yield nets


def describe(a: Declaration) -> str:
    """What a row's analysis computes, in a few words."""
    params = a.params()
    if a.name == "cka":
        same = params.get("model_b") in (None, params.get("model_a"))
        return "CKA, within one model" if same else "CKA, between two models"
    return {"cka_curve": "CKA curve and full-batch CKA (Ch. 2)",
            "attention_distance": "mean attention distances",
            "head_subset_cka": "CKA of head subsets vs CNN layers",
            "skip_statistics": "skip-connection norms and cosines",
            "token_patch_cka": "token-to-patch CKA",
            "probe_fit": "few-shot linear probes: fit",
            "probe_eval": "linear probes: evaluation",
            "estimator_cka": "minibatch CKA estimators",
            "accuracy": "accuracy"}.get(a.name, a.name)


def run(p: Preset, device: torch.device, *,
        shots: int = KNOBS["07_localization"]["shots"],
        checkpoint: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Every scheduled pass of ``p`` and its receptive fields; rows and totals.

    ``shots``: the probes' shots per class (the chapters' knob; the paper's 10).
    ``checkpoint`` receives the summary so far after every pass (``complete`` False until
    the last), so that a run stopped by a time limit still leaves its measured rows.
    """
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}

    def add(chapter: str, analysis: str, names: Sequence[str], examples: int,
            seconds: float, peak: int | None) -> None:
        row = rows.setdefault((chapter, analysis, " × ".join(names)),
                              {"examples": 0, "passes": 0, "seconds": 0.0, "peak": None})
        row["examples"] += examples
        row["passes"] += 1
        row["seconds"] += seconds
        if peak is not None:
            row["peak"] = max(row["peak"] or 0, peak)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    passes: list[dict[str, Any]] = []
    with random_world(device) as nets:
        build_start = time.perf_counter()
        for name in dict.fromkeys([p.vit, p.vit_gap, p.resnet, p.mixer, *roles.resnets(p),
                                   *roles.less_data(p)]):
            models.load(name)  # built before the clock starts
        build = time.perf_counter() - build_start
        for q, purpose, repeat in schedule.schedule(p, shots=shots):
            probe = probe_set(q, purpose, seed=repeat)
            analyses = [results.resolve(a)
                        for a in schedule.analyses(q, purpose, repeat, shots=shots)]
            profile = Profile(device)
            sync()
            start = time.perf_counter()
            # The pass's analyses are the plan's already: nothing to join (planned=None).
            store.results(q, analyses, purpose=purpose, repeat=repeat, profile=profile,
                          batch_size=schedule.batch_size(q, purpose))
            sync()
            wall = time.perf_counter() - start
            seconds, peaks = profile.seconds(), profile.peak_bytes()
            for (kind, who), sec in seconds.items():
                if kind == "forward":
                    add("all (shared pass)", f"forward passes, taps and Grams: {purpose}",
                        [who], len(probe), sec, peaks[(kind, who)])
                else:
                    add(schedule.chapter_of(p, who), describe(who), who.models(), len(probe), sec,
                        peaks[(kind, who)])
            passes.append({"purpose": purpose, "repeat": repeat, "examples": len(probe),
                           "analyses": len(analyses), "seconds": round(wall, 3)})
            if checkpoint:
                checkpoint(summarise(rows, passes, build, complete=False))
        for name in roles.receptive_field_models(p):
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            sync()
            start = time.perf_counter()
            results.receptive_fields(p, name, plan.receptive_field_requests(p, name))
            sync()
            wall = time.perf_counter() - start
            peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
            add("05_local_global", "effective receptive fields", [name],
                p.receptive_field_examples, wall, peak)
            passes.append({"purpose": "receptive_field", "repeat": 0,
                           "examples": p.receptive_field_examples, "analyses": 1,
                           "seconds": round(wall, 3)})
            if checkpoint:
                checkpoint(summarise(rows, passes, build, complete=False))
        del nets
    return summarise(rows, passes, build, complete=True)


def summarise(rows: dict[tuple[str, str, str], dict[str, Any]], passes: list[dict[str, Any]],
              build: float, *, complete: bool) -> dict[str, Any]:
    """The table's rows, the passes and the totals, as the JSON holds them."""
    table = [{"chapter": c, "analysis": a, "models": m, "examples": r["examples"],
              "passes": r["passes"], "seconds": round(r["seconds"], 3),
              "peak_gib": None if r["peak"] is None else round(r["peak"] / 2**30, 2)}
             for (c, a, m), r in sorted(rows.items())]
    total = sum(x["seconds"] for x in passes)
    peaks = [r["peak_gib"] for r in table if r["peak_gib"] is not None]
    return {"rows": table, "passes": passes, "complete": complete,
            "total_seconds": round(total, 1), "model_build_seconds": round(build, 1),
            "target_seconds": TARGET_SECONDS, "within_target": None,
            "peak_gib": max(peaks) if peaks else None}


def markdown(result: dict[str, Any]) -> str:
    """The table with its totals, as the GPU page shows it."""
    lines = ["| chapter | analysis | models | examples | passes | seconds "
             "| peak GPU memory (GiB) |", "| --- | --- | --- | ---: | ---: | ---: | ---: |"]
    for r in result["rows"]:
        peak = "n/a" if r["peak_gib"] is None else f"{r['peak_gib']:.2f}"
        lines.append(f"| {r['chapter']} | {r['analysis']} | {r['models']} | {r['examples']:,} "
                     f"| {r['passes']} | {r['seconds']:.2f} | {peak} |")
    target = result["target_seconds"]
    verdict = (f"stopped before the end, so not comparable with the {target} s target"
               if not result["complete"] else
               f"not held to the {target} s target, which is for one GPU at the preset's own "
               "sizes" if result["within_target"] is None else
               f"{'within' if result['within_target'] else 'over'} the {target} s target")
    lines += ["", f"Total: {result['total_seconds']:.1f} s over {len(result['passes'])} passes "
              f"on {result['device']} (model building, {result['model_build_seconds']:.1f} s, "
              f"not counted): {verdict}."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                        help="preset overrides, e.g. cka_examples=64")
    parser.add_argument("--shots", type=int, default=KNOBS["07_localization"]["shots"],
                        help="the probes' shots per class (the paper's 10)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    p = get_preset(args.preset, **parse_overrides(args.set))
    about = dict(device=torch.cuda.get_device_name(device) if device.type == "cuda" else
                 f"cpu ({platform.machine()}, {os.cpu_count()} cores)",
                 preset=p.name, overrides=p.overrides(), shots=args.shots,
                 torch=torch.__version__)

    # The target is for the preset's own sizes on one GPU; anything else is not held to it.
    comparable = device.type == "cuda" and not p.overrides() and args.shots == 10

    def write(result: dict[str, Any]) -> None:
        result.update(about)
        if comparable and result["complete"]:
            result["within_target"] = result["total_seconds"] <= TARGET_SECONDS
        if args.out:
            args.out.write_text(json.dumps(result, indent=1, default=list) + "\n")
            args.out.with_suffix(".md").write_text(markdown(result))

    result = run(p, device, shots=args.shots, checkpoint=write)
    write(result)
    print(markdown(result))
    return result


if __name__ == "__main__":
    main()
