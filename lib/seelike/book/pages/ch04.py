"""Chapter 4's page: the ViT's and the CNNs' layer-by-layer CKA matrices averaged over the
probe sets, the claims judged on them, and what the text quotes of them.

:func:`structure` reads every matrix the plan asks for Figs 1 and 2 from the results layer,
for each independently drawn probe set; :class:`Structure` averages them, reads Chapter 4's
statistics off the average, its bootstrap draws and the other training seeds, and tabulates
how stable each verdict is from one probe set to the next.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from seelike import structure as stats
from seelike.book import plan, results, roles
from seelike.book.claims import ch04
from seelike.book.claims.table import Claim
from seelike.book.presets import Preset
from seelike.layers import kinds_and_blocks, layer_names, short_label

__all__ = ["Structure", "appendix", "seed_floors", "structure"]

Pair = tuple[str, str]


@dataclass(frozen=True)
class Structure:
    """Each pair's CKA matrix on every probe set (``runs[k][pair]``), and repeat 0's
    result with its bootstrap draws (``first[pair]``: ``cka``, ``boot``)."""

    preset: Preset
    resnets: list[str]
    first: Mapping[Pair, Mapping[str, np.ndarray]]
    runs: list[dict[Pair, np.ndarray]]

    @property
    def names(self) -> list[str]:
        return [self.preset.vit, *self.resnets]

    @cached_property
    def layers(self) -> dict[str, list[str]]:
        """Each model's layers, as the paper's figures show them."""
        return {name: layer_names(name, "paper") for name in self.names}

    @cached_property
    def blocks(self) -> dict[str, set[str]]:
        return {name: set(layer_names(name, "blocks")) for name in self.names}

    @cached_property
    def mean(self) -> dict[Pair, np.ndarray]:
        """Each pair's matrix averaged over the probe sets."""
        return {pair: np.mean([run[pair] for run in self.runs], axis=0) for pair in self.first}

    def three(self, matrices: Mapping[Pair, np.ndarray], cnn: str | None = None
              ) -> ch04.Structure:
        """The claims' three matrices (ViT, CNN, ViT × CNN) from a mapping by pair."""
        vit, cnn = self.preset.vit, cnn or self.preset.resnet
        return ch04.Structure(matrices[(vit, vit)], matrices[(cnn, cnn)], matrices[(vit, cnn)])

    def numbers(self, examples: int) -> dict[str, object]:
        """What the text quotes of the set-up; ``examples``: the images in each matrix."""
        p = self.preset
        spread = max(float(np.nanmax(np.abs(a[pair] - b[pair]))) for a in self.runs
                     for b in self.runs for pair in self.first)
        return {"examples": f"{examples:,}", "batch": f"{p.cka_batch:,}",
                "minibatches": examples // p.cka_batch, "repeats": p.cka_repeats,
                "n_vit": len(self.layers[p.vit]), "n_resnet": len(self.layers[p.resnet]),
                "n_matrices": len(self.first) * p.cka_repeats,
                "spread": f"{spread:.3f}" if p.cka_repeats > 1 else "not measured (one repeat)",
                "draws": plan.BOOTSTRAP}

    def claims(self) -> tuple[list[Claim], int]:
        """The chapter's claims and the number of training seeds they read. Their draws are
        repeat 0's bootstrap draws centred on the repeats' mean: the spread of one probe set
        of this size, a conservative interval for a mean over several."""
        p, mean = self.preset, self.mean
        shift = {pair: d["boot"] - d["cka"] for pair, d in self.first.items()}
        draws = [self.three({k: m + shift[k][d] for k, m in mean.items()})
                 for d in range(plan.BOOTSTRAP)]
        seed_matrices = {pair: d["cka"] for pair, d in results.keyed(
            p, plan.seed_structure(p), key=lambda r: r.pair).items()}
        seeds = [ch04.Structure(seed_matrices[(v, v)], seed_matrices[(r, r)],
                                seed_matrices[(v, r)]) for v, r in roles.seed_pairs(p)]
        second = self.resnets[1] if len(self.resnets) > 1 else None
        alt = (mean[(second, second)], mean[(p.vit, second)]) if second else None
        alt_draws = ([(mean[(second, second)] + shift[(second, second)][d],
                       mean[(p.vit, second)] + shift[(p.vit, second)][d])
                      for d in range(plan.BOOTSTRAP)] if second else None)
        found = ch04.chapter4_claims(
            self.three(mean), self.layers[p.vit], layer_names(p.vit, "blocks"),
            self.layers[p.resnet], layer_names(p.resnet, "blocks"), draws=draws, seeds=seeds,
            alt=alt, alt_draws=alt_draws,
            varies=f"{plan.BOOTSTRAP} resamplings of the probe images")
        return found, len(seeds) + 1

    def agreement(self) -> tuple[pd.DataFrame, list[str]]:
        """Each claim's verdict on the mean, on each probe set and with the second CNN; and
        the claims whose verdict is not the same on every probe set and the mean."""
        res = self.layers[self.preset.resnet]
        second = self.resnets[1] if len(self.resnets) > 1 else None
        table = pd.DataFrame({
            "claim": list(ch04.POINT_KEYS),
            "on the mean": ch04.point_verdicts(self.three(self.mean), res),
            **{f"repeat {k}": ch04.point_verdicts(self.three(run), res)
               for k, run in enumerate(self.runs)},
            **({f"with {second}": ch04.point_verdicts(self.three(self.mean, second),
                                                      self.layers[second])}
               if second else {})})
        repeats = [c for c in table if c.startswith("repeat")]
        flips = [key for key, row in table.set_index("claim").iterrows()
                 if len(set(row[["on the mean", *repeats]])) > 1]
        return table, flips

    def last_third_numbers(self) -> dict[str, object]:
        """The ViT's final-third layer and the ResNet layer most similar to it."""
        p = self.preset
        vit, cnn = self.layers[p.vit], self.layers[p.resnet]
        cross = self.mean[(p.vit, p.resnet)]
        last = stats.depth_fraction(len(vit)) > 2 / 3
        rows_last = np.flatnonzero(last)
        block = np.where(np.isfinite(cross[last]), cross[last], -np.inf)
        i, j = np.unravel_index(np.argmax(block), block.shape)
        return {"last_vit_layer": short_label(vit[rows_last[i]]),
                "last_cnn_layer": short_label(cnn[j]),
                "last_cnn_depth": f"{stats.depth_fraction(len(cnn))[j]:.2f}",
                "last_max": f"{block[i, j]:.3f}"}

    def by_kind(self) -> tuple[pd.Series, dict[str, object]]:
        """The ViT's mean CKA with its other layers by kind of layer, darkest first, and
        the darkest and brightest kinds for the text."""
        p = self.preset
        vit = self.layers[p.vit]
        off = np.where(np.eye(len(vit), dtype=bool), np.nan, self.mean[(p.vit, p.vit)])
        kind = pd.Series(kinds_and_blocks(vit, layer_names(p.vit, "blocks"))[0],
                         name="layer kind")
        means = (pd.Series(np.nanmean(off, axis=1)).groupby(kind).mean()
                 .sort_values().rename("mean CKA with the other layers"))
        return means, {"darkest_kind": means.index[0], "darkest_cka": f"{means.iloc[0]:.2f}",
                       "brightest_kind": means.index[-1],
                       "brightest_cka": f"{means.iloc[-1]:.2f}"}


def structure(p: Preset) -> Structure:
    """Figs 1 and 2 on every probe set: each model alone, and the ViT against each CNN (the
    preset's ResNet and, on CIFAR, the external ResNet-56, much deeper)."""
    requests = plan.representation_structure(p)
    first = results.keyed(p, requests, key=lambda r: r.pair)
    runs = [{pair: d["cka"] for pair, d in first.items()}] + [
        {pair: d["cka"] for pair, d in results.keyed(p, requests, key=lambda r: r.pair,
                                                     repeat=k).items()}
        for k in range(1, p.cka_repeats)]
    return Structure(p, roles.resnets(p), first, runs)


def seed_floors(p: Preset) -> tuple[dict[str, np.ndarray], str]:
    """Each model's seed 0 against its seed 1, and the mean CKA of each layer with itself
    across seeds for the text; empty on a preset with one training seed."""
    requests = plan.noise_floor(p)
    if not requests:
        return {}, "not measured: this preset's models have one training seed"
    floors = {name: d["cka"] for name, d in results.keyed(
        p, requests, key=lambda r: r.model_a).items()}
    same = {name: float(np.nanmean(np.diag(m))) for name, m in floors.items()}
    return floors, " and ".join(f"{same[m]:.3f} ({kind})" for m, kind in
                                ((p.vit, "ViT"), (p.resnet, "ResNet")) if m in same)


def appendix(s: Structure) -> pd.DataFrame:
    """Every model's layers side by side, by index."""
    rows = [dict(model=name, index=i, layer=layer, depth=round(frac, 3),
                 block_output=layer in s.blocks[name])
            for name in s.names
            for i, (layer, frac) in enumerate(zip(s.layers[name],
                                                  stats.depth_fraction(len(s.layers[name])),
                                                  strict=True))]
    return (pd.DataFrame(rows).pivot_table(index="index", columns="model", values="layer",
                                           aggfunc="first").fillna("")[s.names]
            .rename_axis(index="layer", columns=None).reset_index())
