"""Chapter 7's page: token-to-patch CKA and linear probes of the CLS ViT, the GAP ViT and
the ResNet, as it shows them, and the numbers its text quotes.

:func:`token_cka` reads each model's token-to-patch CKA (with its bootstrap draws over the
probe images) from the results layer; :func:`probes` each model's probe accuracies on every
draw of the few-shot training set and on the full one; :meth:`TokenCKA.summary` reads the
localization statistics off every layer; :func:`claims` judges the chapter's claims on the
three models and on their other training seeds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from seelike import localization as loc
from seelike.book import claims as book_claims
from seelike.book import plan, plots, results, roles
from seelike.book.claims import ch07
from seelike.book.claims.table import Claim
from seelike.book.figures.localization import Look, draws_of
from seelike.book.presets import Preset
from seelike.layers import layer_names, short_label
from seelike.structure import depth_fraction

__all__ = ["Probes", "TokenCKA", "claims", "looks", "probes", "token_cka"]

Accuracies = Mapping[str, np.ndarray]


def looks(p: Preset) -> dict[str, Look]:
    """Each model's label, declared colour and line style: the styles differ so that lines
    drawn on top of each other stay visible."""
    styles = {p.vit: ("CLS ViT", dict(ls="-", marker="o", ms=7, lw=2.4, zorder=2)),
              p.vit_gap: ("GAP ViT", dict(ls="--", marker="s", ms=4, lw=1.6, zorder=3)),
              p.resnet: ("ResNet", dict(ls=":", marker="^", ms=5, lw=1.8, zorder=4))}
    return {n: (label, plots.model_colour(n), style) for n, (label, style) in styles.items()}


@dataclass(frozen=True)
class TokenCKA:
    """Token-to-patch CKA of each model (``by_model[name]``: the result with its ``grid``
    per layer and ``boot`` draws) over the layers the plan names."""

    by_model: Mapping[str, Mapping[str, np.ndarray]]
    layers_of: Mapping[str, list[str]]

    def grid(self, name: str, i: int) -> tuple[int, int]:
        return tuple(int(v) for v in self.by_model[name]["grid"][i])

    @property
    def n_boot(self) -> int:
        return len(next(iter(self.by_model.values()))["boot"])

    def middle(self, resnet: str) -> int:
        """The ResNet's last unit of the stage below its last."""
        grids = self.by_model[resnet]["grid"].tolist()
        return max(i for i, g in enumerate(grids) if g != grids[-1])

    def contrast(self, name: str, i: int, draw: int | None = None) -> float:
        """Interior tokens' own-patch contrast of layer ``i`` (of one bootstrap draw)."""
        return loc.own_other_contrast(loc.layer_matrix(self.by_model[name], i, draw),
                                      loc.interior(self.grid(name, i)))

    def summary(self, names: Sequence[str], looks: Mapping[str, Look]) -> pd.DataFrame:
        """One row per model's layer: its grid, depth, top-1, rank and contrast (with the
        band of the contrast over the bootstrap draws)."""
        rows = []
        for name in names:
            blocks = layer_names(name, "blocks")
            for i, layer in enumerate(self.layers_of[name]):
                grid = self.grid(name, i)
                s = loc.localization_summary(loc.layer_matrix(self.by_model[name], i))
                low, high = book_claims.interval([self.contrast(name, i, k)
                                                  for k in range(self.n_boot)])
                rows.append(dict(model=looks[name][0], layer=short_label(layer),
                                 grid=f"{grid[0]}×{grid[1]}",
                                 depth=(blocks.index(layer) + 0.5) / len(blocks),
                                 top1=s["top1"], chance_top1=s["chance_top1"],
                                 normalised_rank=s["normalised_rank"],
                                 contrast=self.contrast(name, i), contrast_low=low,
                                 contrast_high=high))
        return pd.DataFrame(rows)

    def final_numbers(self, keys: Mapping[str, str]) -> dict[str, object]:
        """The final layer's top-1, mean and chance rank and edge preference of each model
        (``keys[name]``: the name's prefix in the text)."""
        out: dict[str, object] = {}
        for name, key in keys.items():
            final = loc.layer_matrix(self.by_model[name], -1)
            s = loc.localization_summary(final)
            out |= {f"{key}_top1": f"{s['top1']:.2f}", f"{key}_rank": f"{s['mean_rank']:.1f}",
                    f"{key}_chance_rank": f"{s['chance_rank']:.1f}",
                    f"{key}_edge": f"{loc.edge_preference(final, self.grid(name, -1)):.3f}"}
        return out


def token_cka(p: Preset, resnet_stages: int) -> TokenCKA:
    """Each spatial model's token-to-patch CKA, one pass over the CKA images."""
    analyses = plan.localization(p, resnet_stages=resnet_stages)
    return TokenCKA(results.keyed(p, analyses, key=lambda a: a.model),
                    {a.model: list(a.layers) for a in analyses})


@dataclass(frozen=True)
class Probes:
    """Probe accuracies per model: ``few[name]`` on each draw of the few-shot training set,
    ``full[name]`` (one draw) on the full one."""

    shots: int
    full_shots: int
    few: Mapping[str, list[Accuracies]]
    full: Mapping[str, list[Accuracies]]

    def last(self, name: str, pick: str) -> float:
        """The mean over draws of the few-shot ``pick`` accuracy at the last block."""
        return draws_of(self.few[name], lambda a: a[pick]).mean(axis=0)[-1]

    def numbers(self, p: Preset, keys: Mapping[str, str]) -> dict[str, object]:
        """What the text quotes of the probes (``keys[name]``: the name's prefix)."""
        cls_token = draws_of(self.few[p.vit], lambda a: a["token_mean"]).mean(axis=0)
        first = draws_of(self.few[p.vit_gap], lambda a: a["token"][:, 0]).mean(axis=0)
        out: dict[str, object] = {"shots": self.shots, "full_shots": self.full_shots}
        for name, key in keys.items():
            out |= {f"full_{key}": f"{self.full[name][0]['token_mean'][-1]:.2f}",
                    f"{key}_token_last": f"{self.last(name, 'token_mean'):.2f}",
                    f"{key}_gap_last": f"{self.last(name, 'gap'):.2f}"}
        return out | {
            "cls_token_best": f"{np.nanmax(cls_token):.2f}",
            "cls_token_peak_depth":
                f"{depth_fraction(len(cls_token))[np.nanargmax(cls_token)]:.2f}",
            "cls_cls_last": f"{self.last(p.vit, 'cls'):.2f}",
            "gap_first_last": f"{first[-1]:.2f}"}


def probes(p: Preset, names: Sequence[str], shots: int) -> Probes:
    """Each model's probes on every draw of ``shots`` per class, and on the full training
    set (on a preset whose full probe set is the few-shot one, the full probes are draw 0)."""
    full_shots = plan.probe_shots(p, shots=shots)[-1]
    draws = plan.shot_draws(shots, claims_shots=shots)
    return Probes(shots, full_shots,
                  {n: [results.probe_accuracies(p, n, shots=shots, draw=d) for d in draws]
                   for n in names},
                  {n: [results.probe_accuracies(p, n, shots=full_shots)] for n in names})


def claims(p: Preset, cka: TokenCKA, few: Probes, *, n_cka: int) -> tuple[list[Claim], int]:
    """The chapter's claims on the three models and on each other training seed of the
    three (seed k of each together), and how many seeds that is."""
    draws = plan.shot_draws(few.shots, claims_shots=few.shots)
    seed_cka = results.keyed(p, plan.localization_by_seed(p), key=lambda a: a.model)
    seed_names = roles.seed_models(p)
    seed_sets = [seed_names[i:i + 3] for i in range(0, len(seed_names), 3)]
    seed_probes = {n: [results.probe_accuracies(p, n, shots=few.shots, draw=d) for d in draws]
                   for n in seed_names}
    by = cka.by_model
    found = (ch07.localization_claims(
        by[p.vit], by[p.vit_gap], by[p.resnet], cka.middle(p.resnet),
        varies=f"{cka.n_boot} resamplings of the {n_cka:,} probe images",
        seeds=[tuple(seed_cka[n] for n in trio) for trio in seed_sets])
        + ch07.probe_claims(few.few[p.vit], few.few[p.vit_gap], few.few[p.resnet],
                            varies=f"{len(draws)} draws of the {few.shots}-shot probe "
                                   "training set",
                            seeds=[tuple(seed_probes[n] for n in trio) for trio in seed_sets]))
    return found, len(seed_sets) + 1
