"""Chapter 9's page: the Mixer's CKA with itself, the ViT and the ResNet (and the other
CNNs and training seeds the preset has), the readings of H.2's sentence, and the numbers its
text quotes.

:func:`comparison` reads the plan's Mixer requests from the results layer, one matrix and
its bootstrap draws each, told apart by the model the Mixer is compared with (None: itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from seelike import zoo
from seelike.analyses import CKARequest
from seelike.book import plan, results, roles
from seelike.book.claims import ch09
from seelike.book.claims.table import Claim
from seelike.book.claims.verdict import decide
from seelike.book.presets import Preset
from seelike.layers import layer_names
from seelike.structure import two_block_split

__all__ = ["MixerComparison", "comparison", "reading_table"]


@dataclass(frozen=True)
class MixerComparison:
    """``got[model]``: the Mixer against ``model`` (None: itself), ``cka`` and ``boot``."""

    preset: Preset
    got: Mapping[str | None, Mapping[str, np.ndarray]]

    @property
    def names(self) -> dict[str, str]:
        """The models by role: ``mixer``, ``vit``, ``resnet``."""
        p = self.preset
        return {"mixer": p.mixer, "vit": p.vit, "resnet": p.resnet}

    @cached_property
    def layers(self) -> dict[str, list[str]]:
        """Each model's layers, by model name."""
        return {n: layer_names(n) for n in self.names.values()}

    @cached_property
    def blocks(self) -> dict[str, set[str]]:
        return {n: set(layer_names(n, "blocks")) for n in self.names.values()}

    def matrix(self, role: str) -> np.ndarray:
        """The Mixer's CKA with itself (``within``), the ViT or the ResNet."""
        return self.got[None if role == "within" else self.names[role]]["cka"]

    def boot(self, role: str) -> np.ndarray:
        return self.got[None if role == "within" else self.names[role]]["boot"]

    def block_mask(self, role: str) -> np.ndarray:
        """Which of the model's layers are block outputs."""
        name = self.names[role]
        return np.array([n in self.blocks[name] for n in self.layers[name]])

    def seeds_of(self, rows: slice | np.ndarray = slice(None),
                 vit_cols: slice | np.ndarray = slice(None),
                 res_cols: slice | np.ndarray = slice(None)
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Mixer × ViT and Mixer × ResNet of each other seed pair, cut to the given layers."""
        return [(self.got[v]["cka"][rows][:, vit_cols], self.got[r]["cka"][rows][:, res_cols])
                for v, r in roles.seed_pairs(self.preset)]

    def numbers(self, examples: int) -> dict[str, object]:
        """The set-up the text quotes; ``examples``: the probe images in each matrix."""
        seeds = len(roles.seed_pairs(self.preset)) + 1
        # A paper Mixer is timm's: the zoo's spec (and its size) exists for zoo models only.
        arch = zoo.spec_of(self.preset.mixer).arch if self.preset.mixer in zoo.ZOO else {}
        return {
            "examples": f"{examples:,}", "n_layers": len(self.layers[self.preset.mixer]),
            "bootstrap": f"{len(self.boot('within')):,}",
            "mixer_size": f"{arch['num_blocks']} blocks of width {arch['embed_dim']}"
            if "num_blocks" in arch else self.preset.mixer,
            "seed_text":
                f"one Mixer, so every claim of this chapter rests on one training seed of it; "
                f"the ViT and the ResNet have {seeds} seeds each, and H.2 is also measured "
                "against each of them (the Mixer fixed)" if seeds > 1 else
                "one seed of each model here, so every claim of this chapter rests on one "
                "training seed of each"}

    def split_numbers(self) -> dict[str, object]:
        """Where the Mixer's two blocks meet, on the point and on each resampling."""
        lay = self.layers[self.preset.mixer]
        cut, _ = two_block_split(self.matrix("within"))
        cuts = np.array([two_block_split(b)[0] for b in self.boot("within")])
        return {"cut": cut, "cut_layer": lay[cut - 1].removeprefix("net."),
                "order": "the smaller block comes first, as in the paper"
                if cut / len(lay) < 0.5
                else "the larger block comes first, the opposite of the paper's order",
                "cut_range": f"{cuts.min()} to {cuts.max()}" if cuts.min() < cuts.max()
                else f"{cuts.min()} on every one"}

    def best(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Each Mixer layer's best match in the ViT and the ResNet, and on each draw."""
        return ({self.names[k]: np.nanmax(self.matrix(k), axis=1) for k in ("vit", "resnet")},
                {self.names[k]: np.nanmax(self.boot(k), axis=2) for k in ("vit", "resnet")})

    def best_numbers(self) -> dict[str, object]:
        """Which model matches the Mixer's layers best, and where that changes."""
        best, _ = self.best()
        vit, res = best[self.preset.vit], best[self.preset.resnet]
        wins = vit > res
        last_win = np.flatnonzero(wins)[-1] if wins.any() else -1
        return {"best_vit": f"{np.nanmean(vit):.3f}", "best_resnet": f"{np.nanmean(res):.3f}",
                "vit_wins": f"{wins.mean():.0%}",
                "top": "the top Mixer layer is better matched in the ViT"
                if last_win == len(wins) - 1 else
                f"from {(last_win + 1) / len(wins):.0%} of its depth on, every Mixer layer is "
                "better matched in the ResNet: the top of our Mixer is more ResNet-like"}

    def readings(self) -> dict[str, Claim]:
        """H.2 under each reading: the declared one, block outputs only, each other CNN,
        and the depth-aligned match."""
        p, m, b = self.preset, self.matrix, self.boot
        mix, vit, res = (self.block_mask(k) for k in ("mixer", "vit", "resnet"))
        return {
            "declared: best match, all layers, our ResNet": ch09.judge_vit_like(
                m("vit"), m("resnet"), draws=(b("vit"), b("resnet")), seeds=self.seeds_of()),
            "block outputs only": ch09.judge_vit_like(
                m("vit")[mix][:, vit], m("resnet")[mix][:, res],
                draws=(b("vit")[:, mix][:, :, vit], b("resnet")[:, mix][:, :, res]),
                seeds=self.seeds_of(mix, vit, res)),
            **{f"against {cnn} instead of {p.resnet}": ch09.judge_vit_like(
                m("vit"), self.got[cnn]["cka"], draws=(b("vit"), self.got[cnn]["boot"]))
               for cnn in roles.resnets(p)[1:]},
            "depth-aligned match, all layers, our ResNet": ch09.judge_vit_like(
                m("vit"), m("resnet"), match=ch09.depth_aligned_match,
                draws=(b("vit"), b("resnet")), seeds=self.seeds_of())}

    def claims(self, vit_itself: Mapping[str, np.ndarray], examples: int) -> list[Claim]:
        """The chapter's claims; ``vit_itself``: the ViT with itself (H.1's control)."""
        m, b = self.matrix, self.boot
        seeds = len(roles.seed_pairs(self.preset)) + 1
        return ch09.chapter9_claims(
            m("within"), vit_itself["cka"], m("vit"), m("resnet"),
            draws=(b("within"), vit_itself["boot"], b("vit"), b("resnet")),
            seeds=self.seeds_of(),
            varies=f"{len(b('within'))} resamplings of the {examples:,} probe images",
            seed_varies=f"{seeds} training seeds of the ViT and the ResNet (one Mixer)")


def reading_table(readings: Mapping[str, Claim]) -> tuple[pd.DataFrame, dict[str, str]]:
    """Each reading's verdict, value, interval and spread over seeds, and its verdict from
    the value alone (the rule before intervals: where the readings' values fall on either
    side of the bar, the choice of reading decides the old verdict)."""
    h2 = ch09.DECLARATIONS["h2_vit_like"]
    alone = {name: decide(c.value, c.value, h2.direction, h2.pass_bar, h2.partly_bar)
             for name, c in readings.items()}
    table = pd.DataFrame({
        "reading": list(readings), "verdict": [c.verdict for c in readings.values()],
        "value": [c.value for c in readings.values()], "value alone": list(alone.values()),
        "90 % interval": [f"{c.low:.3f} to {c.high:.3f}" for c in readings.values()],
        "over seeds": [f"{c.seed_low:.3f} to {c.seed_high:.3f}" if np.isfinite(c.seed_low)
                       else "–" for c in readings.values()]})
    return table, alone


def comparison(p: Preset) -> tuple[MixerComparison, Mapping[str, np.ndarray]]:
    """The Mixer against itself and every other model, and the ViT with itself (Chapter 4's
    matrix, from the same pass and resamplings: H.1's control)."""
    got = results.keyed(p, plan.mixer_comparison(p), key=lambda r: r.model_b)
    return MixerComparison(p, got), results.one(p, CKARequest(p.vit))
