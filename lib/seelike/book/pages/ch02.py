"""Chapter 2's page: CKA of independent features under both HSIC estimators, and the CKA
benchmark's results as a table.

Both are the chapter's own small experiments: the first draws Gaussian features, the second
reads ``benchmarks/results_cpu.json`` (written by ``benchmarks/bench_cka.py``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from seelike import cka

__all__ = ["benchmark_table", "independent_features"]


def independent_features(ns: Sequence[int], draws: int, width: int,
                         rng: np.random.Generator) -> pd.DataFrame:
    """CKA of two independent Gaussian feature sets of ``width`` features, ``draws`` times
    for each number of examples in ``ns``, under both estimators: the mean and sd of each
    ``estimator`` and ``n``."""
    rows = []
    for n in ns:
        for _ in range(draws):
            a, b = rng.normal(size=(n, width)), rng.normal(size=(n, width))
            for unbiased in (False, True):
                rows.append(dict(n=n, estimator="unbiased HSIC₁" if unbiased else "biased HSIC₀",
                                 cka=cka.linear_cka(a, b, unbiased=unbiased)))
    return (pd.DataFrame(rows).groupby(["estimator", "n"]).cka.agg(["mean", "std"])
            .reset_index())


def benchmark_table(path: Path) -> pd.DataFrame | None:
    """Each method of the CKA benchmark: its best time, its multiple of the floor, memory
    and largest difference from float64; None when the benchmark has not been run."""
    if not path.exists():
        return None
    bench = json.loads(path.read_text())
    names = {"floor": "floor (forward + float32 Grams)", "seelike": "seelike MinibatchCKA"}
    floor_seconds = min(r["seconds"] for r in bench["runs"]["floor"])
    rows = []
    for method, runs in bench["runs"].items():
        library = bench["libraries"].get(method, {})
        name = names.get(method, f"{method.removesuffix('-no-grad')} "
                                 f"{library.get('version', '')}")
        if method.endswith("-no-grad"):
            name += ", inside torch.no_grad()"
        seconds = min(r["seconds"] for r in runs)
        held = bench["held_memory_runs"].get(method)
        rows.append({
            "method": name, "seconds": seconds, "× floor": seconds / floor_seconds,
            "peak RSS rise (MiB), median": float(np.median([r["memory_mib"] for r in runs])),
            "held memory (MiB)": held["memory_mib"] if held else np.nan,
            "max |Δ| vs float64": (bench["max_abs_delta"] if method == "seelike"
                                   else library.get("max_abs_delta", np.nan))})
    return pd.DataFrame(rows)
