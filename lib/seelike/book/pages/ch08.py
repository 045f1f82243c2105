"""Chapter 8's page: the ViTs trained on less data against the full-data ViT, block by
block, their probes and the ResNet's, and the numbers its text quotes.

:func:`data_scale` reads the plan's CKA of each less-data ViT (and of the full-data ViT's
second seed, the floor) with the ViT from the results layer; :func:`probes` each model's
few-shot probe accuracies on every draw of the probe training set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from seelike.book import plan, results, roles
from seelike.book.claims import ch08
from seelike.book.claims.table import Claim
from seelike.book.presets import Preset
from seelike.structure import depth_fraction, diagonal_by_third

__all__ = ["DataScale", "data_scale", "probe_numbers", "probes"]

Accuracies = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class DataScale:
    """``cross[name]`` (``cka``, ``boot``): each less-data ViT's blocks against the ViT's;
    ``floor``: the full-data ViT's second seed against it (None with one seed)."""

    preset: Preset
    less: list[str]
    cross: Mapping[str, Mapping[str, np.ndarray]]
    floor_name: str | None
    floor: Mapping[str, np.ndarray] | None

    @property
    def fraction(self) -> dict[str, float | None]:
        """The share of the data each ViT saw (None for a paper model)."""
        return {n: roles.data_share(n) for n in [self.preset.vit, *self.less]}

    @property
    def labels(self) -> dict[str, str]:
        """Each ViT's name with its share of the data; ``floor``: the floor's label."""
        out = {n: roles.data_label(n) for n in [self.preset.vit, *self.less]}
        return out | {"floor": f"{self.floor_name} (the seed floor)"}

    def third_numbers(self) -> dict[str, str]:
        """The least-data ViT's diagonal CKA in the lowest and highest thirds."""
        if not self.less:
            return {"low": "not measured", "high": "not measured"}
        low, high = diagonal_by_third(self.cross[self.less[-1]]["cka"])
        return {"low": f"{low:.2f}", "high": f"{high:.2f}"}

    def claims(self, middles: Mapping[str, list[float]], *, examples: int,
               shots: int) -> list[Claim]:
        """The chapter's claims; ``middles``: each model's middle-third probe accuracy on
        each draw."""
        p, least, floor = self.preset, (self.less or [None])[-1], self.floor
        seed_pairs = roles.seed_pairs(p)
        draws = plan.shot_draws(shots, claims_shots=shots)
        return ch08.chapter8_claims(
            self.cross[least]["cka"] if least else None,
            self.cross[least]["boot"] if least else None,
            floor["cka"] if floor else None, floor["boot"] if floor else None,
            middles, [p.vit, *self.less], p.resnet,
            other_seed=seed_pairs[0][0] if seed_pairs else None, seed_pairs=seed_pairs,
            cka_varies=f"{plan.BOOTSTRAP} resamplings of the {examples:,} probe images",
            shot_varies=f"{len(draws)} draws of the {shots}-shot probe training set")


def data_scale(p: Preset) -> DataScale:
    """Each less-data ViT (and the ViT's second seed, the floor) against the ViT."""
    by_model = results.keyed(p, plan.data_scale(p), key=lambda r: r.model_a)
    less = roles.less_data(p)
    floor_name = next(iter(roles.other_seeds(p.vit)), None)
    return DataScale(p, less, {n: by_model[n] for n in less}, floor_name,
                     by_model.get(floor_name))


def probes(p: Preset, names: Sequence[str], shots: int) -> dict[str, list[Accuracies]]:
    """Each model's (and each other training seed's) probes on every draw of ``shots``
    images per class."""
    draws = plan.shot_draws(shots, claims_shots=shots)
    every = dict.fromkeys([*names, *(n for pair in roles.seed_pairs(p) for n in pair)])
    return {n: [results.probe_accuracies(p, n, shots=shots, draw=d) for d in draws]
            for n in every}


def probe_numbers(p: Preset, vits: Sequence[str], acc: Mapping[str, list[Accuracies]]
                  ) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Each model's middle-third accuracy on each draw (what the Fig 13 claims read), and
    what the text quotes: the ViTs' (``vits``, most data first) and the ResNet's middle and
    upper-half accuracy."""
    middles = {n: [ch08.middle_third(a["gap"]) for a in per_draw] for n, per_draw in acc.items()}
    upper = {n: float(np.mean([np.mean(a["gap"][depth_fraction(len(a["gap"])) >= 0.5])
                               for a in per_draw])) for n, per_draw in acc.items()}
    numbers = {f"mid{i}": f"{np.mean(middles[n]):.1%}" for i, n in enumerate(vits)}
    return middles, numbers | {
        "mid_resnet": f"{np.mean(middles[p.resnet]):.1%}",
        "upper_vit": f"{upper[p.vit]:.1%}", "upper_resnet": f"{upper[p.resnet]:.1%}",
        "upper_story": "above" if upper[p.resnet] > upper[p.vit] else "below"}
