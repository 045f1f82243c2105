"""Chapter 10's page: the estimator study's CKA matrices on every probe set, Chapter 4's
statistics and verdicts read on them, and the numbers its text quotes.

:func:`runs` reads the study (the ViT's and the ResNet's block outputs, each minibatch size,
both HSIC estimators) from the results layer for each independently drawn probe set;
:class:`Runs` averages them as the paper averages its runs and reads Chapter 4's judged
statistics off each joint matrix (:mod:`seelike.book.claims.ch04`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from seelike import estimators, resample
from seelike.analyses import EstimatorCKA
from seelike.book import claims, plan, results
from seelike.book.claims import ch04, ch10
from seelike.book.claims.table import Claim
from seelike.book.presets import Preset
from seelike.estimators import ESTIMATORS
from seelike.layers import layer_names

__all__ = ["CLAIM_NAMES", "DECLARED", "NAMES", "POINT", "Y_LABELS", "Runs", "chapter4_rows",
           "mean_table", "runs"]

#: The claims of Chapter 4 that block outputs can decide, and a short name of each.
POINT = list(ch04.POINT_KEYS)
CLAIM_NAMES = {"fig1_uniform_structure": "ViT more uniform", "fig1_uniformity":
               "low–high similarity", "fig1_resnet_stages": "ResNet stages",
               "fig1_resnet_low_high": "ResNet low–high", "fig1_vit_no_stages":
               "no ViT stages", "fig2_lower_half": "lower halves",
               "fig2_upper_half": "upper halves", "fig2_last_third": "ViT's last third"}
#: What each statistic measures, shortened for an axis label.
Y_LABELS = {
    "fig1_uniform_structure": "mean CKA of layer pairs,\nViT − ResNet",
    "fig1_uniformity": "low–high third CKA,\nViT − ResNet",
    "fig1_resnet_stages": "stage contrast,\nResNet − ViT",
    "fig1_resnet_low_high": "low–high third CKA,\nResNet − ViT",
    "fig1_vit_no_stages": "ViT: CKA within\n− across mapped stages",
    "fig2_lower_half": "best-match ViT depth,\nResNet lower half",
    "fig2_upper_half": "ResNet upper half: share\nmatched at {:g}–{:g} ViT depth"
    .format(*ch04.UPPER_HALF_BAND),
    "fig2_last_third": "share of ResNet layers\nworse matched by last third"}
#: The short names and the declarations, in :data:`POINT` order (as the statistics come).
NAMES = [CLAIM_NAMES[k] for k in POINT]
DECLARED = [ch04.DECLARATIONS[k] for k in POINT]


def _mib(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:,.0f}" if n_bytes >= 10 * 2**20 else f"{n_bytes / 2**20:.2g}"


@dataclass(frozen=True)
class Runs:
    """The study's matrices on every probe set: ``per[est]`` ``(repeats, sizes, layers,
    layers)``, over the ViT's block outputs then the ResNet's."""

    preset: Preset
    study: EstimatorCKA
    per: dict[str, np.ndarray]

    @property
    def batches(self) -> list[int]:
        return list(self.study.batches)

    @property
    def largest(self) -> int:
        return self.batches[-1]

    @property
    def full_batch(self) -> bool:
        """Whether the largest size is the whole probe set (full-batch CKA)."""
        return self.preset.estimator_examples == self.largest

    @property
    def vit_layers(self) -> list[str]:
        return list(self.study.layers[self.preset.vit])

    @property
    def resnet_layers(self) -> list[str]:
        return list(self.study.layers[self.preset.resnet])

    @cached_property
    def mean(self) -> dict[str, np.ndarray]:
        """``(sizes, layers, layers)``: the average over probe sets, as the paper averages."""
        return {est: m.mean(axis=0) for est, m in self.per.items()}

    @cached_property
    def sizes(self) -> dict[str, list[int]]:
        """Each model's numbers per image at each of its layers."""
        return {m: estimators.layer_sizes(m, self.study.layers[m], self.preset.image_size)
                for m in self.study.models()}

    def structure(self, matrix: np.ndarray) -> ch04.Structure:
        """Chapter 4's three matrices from one joint matrix of this study."""
        p, s = self.preset, self.study
        return ch04.Structure(s.block(matrix, p.vit, p.vit), s.block(matrix, p.resnet, p.resnet),
                              s.block(matrix, p.vit, p.resnet))

    def values(self, matrix: np.ndarray) -> list[float]:
        """Chapter 4's judged statistics on ``matrix``, in :data:`POINT` order."""
        got = ch04.point_statistics(self.structure(matrix), self.resnet_layers)
        return [got[k] for k in POINT]

    def verdicts(self, matrix: np.ndarray) -> list[str]:
        """Chapter 4's verdicts on ``matrix``, each statistic against its bars."""
        return ch04.point_verdicts(self.structure(matrix), self.resnet_layers)

    @cached_property
    def on_mean(self) -> dict[str, dict[int, list[str]]]:
        """``est -> size -> verdicts`` on the probe-set means."""
        return {est: {b: self.verdicts(self.mean[est][i]) for i, b in enumerate(self.batches)}
                for est in ESTIMATORS}

    @cached_property
    def per_repeat(self) -> dict[str, np.ndarray]:
        """``est -> (repeats, sizes, statistics)``: the statistics on each probe set."""
        return {est: np.array([[self.values(m) for m in run] for run in self.per[est]])
                for est in ESTIMATORS}

    def numbers(self) -> dict[str, object]:
        """What the text quotes of the study's set-up and what one pass holds."""
        p, largest = self.preset, self.largest
        vit, res = self.vit_layers, self.resnet_layers
        # One pass holds every block output of one model (float32), then a float64 Gram
        # matrix per layer of both models.
        act_bytes = max(largest * sum(s) * 4 for s in self.sizes.values())
        gram_bytes = len(vit + res) * largest**2 * 8
        return {
            "repeats": p.estimator_repeats, "resamples": plan.BOOTSTRAP,
            "dataset": {"cifar10": "CIFAR-10 test", "imagenette": "Imagenette validation"}
            .get(p.dataset, p.dataset),
            "examples": f"{p.estimator_examples:,}", "largest": f"{largest:,}",
            "smallest": self.batches[0], "batches": ", ".join(f"{b:,}" for b in self.batches),
            "reference_text":
                f"Each probe set is exactly one minibatch of {largest:,}, so the largest size "
                "is full-batch CKA, the reference every smaller size is compared with."
                if self.full_batch else
                f"The reference every smaller size is compared with is the largest size, "
                f"{largest:,} (each probe set holds several such minibatches, as in the "
                "paper's protocol).",
            "reference": "full batch" if self.full_batch else f"minibatch {largest:,}",
            "n_vit": len(vit), "n_resnet": len(res), "n_layers": len(vit + res),
            "n_paper_layers": sum(len(layer_names(m)) for m in self.study.models()),
            "vit_features": f"{self.sizes[p.vit][-1]:,}",
            "act_mb": _mib(act_bytes), "gram_mb": _mib(gram_bytes)}

    def summary(self) -> pd.DataFrame:
        """Mean CKA of each block of distinct layer pairs: one row per estimator, probe set,
        size and block (``part``)."""
        return pd.DataFrame([
            dict(estimator=est, repeat=k, batch=b, part=part, cka=v)
            for est in ESTIMATORS for k in range(self.preset.estimator_repeats)
            for i, b in enumerate(self.batches)
            for part, v in estimators.similarity_summary(self.study, self.per[est][k, i]).items()])

    def part_values(self, summary: pd.DataFrame) -> dict[tuple[str, str], np.ndarray]:
        """``(estimator, part) -> (repeats, sizes)`` mean CKA, from :meth:`summary`."""
        return {(est, part): summary[(summary.estimator == est) & (summary.part == part)]
                .pivot(index="repeat", columns="batch", values="cka")[self.batches].to_numpy()
                for est in ESTIMATORS for part in dict.fromkeys(summary.part)}

    def verdict_rows(self, chapter4: Sequence[tuple[str, float] | None]) -> pd.DataFrame:
        """Each claim's verdict by size (`` *`` where it differs from the largest size's),
        beside Chapter 4's own (``chapter4``, in :data:`POINT` order) in the unbiased rows."""
        rows = []
        for est in ("unbiased", "biased"):
            ref = self.on_mean[est][self.largest]
            for j, name in enumerate(NAMES):
                # Chapter 4 decides with the unbiased estimator: its verdicts sit in those rows.
                row = {"estimator": f"{est} HSIC", "claim": name,
                       "Chapter 4": chapter4[j][0] if chapter4[j] and est == "unbiased"
                       else "–"}
                for b in self.batches:
                    v = self.on_mean[est][b][j]
                    row[f"{b:,}"] = v + (" *" if v != ref[j] else "")
                rows.append(row)
        return pd.DataFrame(rows)

    def down_to(self) -> int:
        """The smallest size the claims test: the paper's 128, or the second largest."""
        return min(ch10.PAPER_SMALLEST_BATCH, self.batches[-2])

    def comparison_numbers(self, chapter4: Sequence[tuple[str, float] | None]
                           ) -> dict[str, object]:
        """Where the reference (unbiased, largest size) disagrees with Chapter 4, and how
        often a verdict flips with the size, per probe set and on the means."""
        names, largest = NAMES, self.largest
        reference = self.values(self.mean["unbiased"][-1])
        differ = [f"{name}, {ch4[0]} in Chapter 4 (statistic {ch4[1]:.4f}) and {v} here "
                  f"({x:.4f}), against {ch04.DECLARATIONS[k].threshold}"
                  for name, k, v, x, ch4 in zip(names, POINT, self.on_mean["unbiased"][largest],
                                                reference, chapter4, strict=True)
                  if ch4 and ch4[0] != v]
        out: dict[str, object] = {
            "vs_ch4": "none: every claim keeps Chapter 4's verdict" if all(chapter4)
            and not differ else "; ".join(differ) if differ
            else "unknown: Chapter 4 has not been run on this preset"}
        down_to = self.down_to()
        checked = [i for i, b in enumerate(self.batches[:-1]) if b >= down_to]
        out["down_to"] = f"{down_to:,}"
        for est in ESTIMATORS:
            runs = [[self.verdicts(m) for m in run] for run in self.per[est]]
            flipped = [name for run in runs for i in checked
                       for name, v, r in zip(names, run[i], run[-1], strict=True) if v != r]
            out[f"flips_{est}"] = f"{len(flipped)} of {len(checked) * len(POINT) * len(runs)}"
            out[f"flip_claims_{est}"] = ", ".join(sorted(set(flipped))) or "none"
        for est in ESTIMATORS:
            changed = [f"{name} at {b:,}" for b in self.batches[:-1]
                       for name, v, r in zip(names, self.on_mean[est][b],
                                             self.on_mean[est][largest], strict=True) if v != r]
            out[f"changed_{est}"] = "; ".join(changed) or "none"
        return out

    def off_diagonal(self, est: str, i: int) -> float:
        """The mean CKA of distinct layer pairs of the mean matrix at size index ``i``."""
        return estimators.mean_similarity(self.mean[est][i], within=True)

    def inflation(self, means: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, object]]:
        """How far each estimator's mean similarity moves with the size: the table and the
        numbers the text quotes. ``means``: the summary's mean by (estimator, part) × size."""
        p, m, od = self.preset, self.mean, self.off_diagonal
        smallest, largest, down = self.batches[0], self.largest, self.batches.index(self.down_to())
        shift = {est: od(est, 0) - od(est, -1) for est in ESTIMATORS}
        change = {est: float(np.nanmax(np.abs(m[est][down] - m[est][-1]))) for est in ESTIMATORS}
        by_part = means.loc["biased", smallest] - means.loc["biased", largest]
        small_biased, reference = self.values(m["biased"][0]), self.values(m["unbiased"][-1])
        numbers: dict[str, object] = {
            "shift_biased": f"{shift['biased']:.3f}", "shift_unbiased": f"{shift['unbiased']:+.3f}",
            "gap_full": f"{od('biased', -1) - od('unbiased', -1):.3f}",
            "gap_small": f"{od('biased', 0) - od('unbiased', -1):.3f}",
            "max_change": f"{change['unbiased']:.3f}",
            "max_change_biased": f"{change['biased']:.3f}",
            "inflation_vit": f"{by_part[p.vit]:.3f}",
            "inflation_resnet": f"{by_part[p.resnet]:.3f}",
            "inflation_cross": f"{by_part[f'{p.vit} × {p.resnet}']:.3f}",
            "last_step": f"{od('biased', -2) - od('biased', -1):.3f}",
            "second_largest": f"{self.batches[-2]:,}"}
        # Chapter 4's contrasts, biased at the smallest size against unbiased at the reference.
        for key, name in (("uniform", "fig1_uniformity"), ("stages", "fig1_resnet_stages"),
                          ("lower", "fig2_lower_half")):
            j = POINT.index(name)
            numbers[f"{key}_biased_small"] = f"{small_biased[j]:.2f}"
            numbers[f"{key}_ref"] = f"{reference[j]:.2f}"
        table = pd.DataFrame({
            "quantity": [f"mean CKA, minibatch {smallest:,}", f"mean CKA, minibatch {largest:,}",
                         "smallest minus largest",
                         f"largest |change| of one entry, {self.down_to():,} vs {largest:,}"],
            **{f"{est} HSIC": [od(est, 0), od(est, -1), shift[est], change[est]]
               for est in ("biased", "unbiased")}})
        return table, numbers

    def claims(self) -> list[Claim]:
        """The chapter's claims. Their statistics are of the matrices averaged over the probe
        sets; their intervals come from averages over the probe sets resampled with
        replacement (none with one probe set)."""
        p, batches, mean, per = self.preset, self.batches, self.mean, self.per

        def by_size(matrices: np.ndarray) -> tuple[dict[int, list[str]], list[str]]:
            got = {b: self.verdicts(m) for b, m in zip(batches, matrices, strict=True)}
            return {b: got[b] for b in batches[:-1]}, got[self.largest]

        resampled = {est: resample.bootstrap_means(per[est], plan.BOOTSTRAP)
                     for est in ESTIMATORS}
        draws = {est: [] if r is None else list(r) for est, r in resampled.items()}
        varies = (f"{plan.BOOTSTRAP} resamplings of the {p.estimator_repeats} probe sets "
                  "(one training seed)")
        repeats = range(p.estimator_repeats)
        return [
            ch10.judge_batch_sizes(*by_size(mean["unbiased"]), *by_size(mean["biased"]),
                                   draws=[by_size(d) for d in draws["unbiased"]],
                                   biased_draws=[by_size(d) for d in draws["biased"]],
                                   down_to=self.down_to(), varies=varies),
            ch10.judge_examples([self.verdicts(per["unbiased"][k, -1]) for k in repeats],
                                self.verdicts(mean["unbiased"][-1]),
                                [self.verdicts(per["biased"][k, 0]) for k in repeats],
                                references=[self.verdicts(d[-1]) for d in draws["unbiased"]],
                                varies=varies),
            ch10.judge_biased_inflation(mean["biased"], mean["unbiased"], batches,
                                        draws=list(zip(draws["biased"], draws["unbiased"],
                                                       strict=True)), varies=varies)]


def runs(p: Preset) -> Runs:
    """The estimator study on each of the preset's probe sets, from the results layer."""
    study = plan.estimator_study(p)
    largest = study.batches[-1]
    if p.estimator_examples % largest:
        raise ValueError(f"{p.estimator_examples} examples do not split into minibatches of "
                         f"{largest}")
    got = [results.one(p, study, purpose="estimators", repeat=k, batch_size=largest)
           for k in range(p.estimator_repeats)]
    return Runs(p, study, {est: np.stack([run[est] for run in got]) for est in ESTIMATORS})


def chapter4_rows(preset: str) -> list[tuple[str, float] | None]:
    """Chapter 4's own ``(verdict, statistic)`` of each :data:`POINT` claim, from its results
    table; None for each when Chapter 4 has not run on this preset, or its table predates
    claim keys (then it must be rebuilt)."""
    try:
        rows = claims.read_all(preset)
    except ValueError:
        rows = claims.table([])
    rows = rows[rows.chapter == ch04.CHAPTER]
    by_key = dict(zip(rows.key, zip(rows.verdict, rows.value, strict=True), strict=True))
    return [by_key.get(k) for k in POINT]


def mean_table(stats: pd.DataFrame) -> pd.DataFrame:
    """The mean over probe sets of each estimator and block of pairs (rows) by size."""
    table = stats["mean"].unstack("batch").reset_index().rename(columns={"part": "layer pairs"})
    table.columns = [f"{c:,}" if isinstance(c, int | np.integer) else c for c in table.columns]
    return table
