"""Chapter 6's page: the skip statistics of the ViT and the ResNet, the ViTs retrained
without a block's skips, and what the text quotes of them.

:func:`statistics` reads each model's norm ratios and cosines (with their bootstrap draws
over the probe images) from the results layer; :func:`skip_removed` the CKA heatmaps of the
intact and the retrained ViTs; :class:`SkipRemoved` reads the claims' across-block CKA and
accuracy cost off them; :func:`claims` judges the chapter's claims.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from seelike import resample, skips, weights, zoo
from seelike.accuracy import accuracy_gap
from seelike.book import plan, results, roles
from seelike.book.claims import ch06
from seelike.book.claims.table import Claim
from seelike.book.claims.verdict import Measured
from seelike.book.presets import Preset
from seelike.layers import layer_names

__all__ = ["SkipRemoved", "claims", "cls_numbers", "skip_removed", "statistics"]

Stats = Mapping[str, Mapping[str, np.ndarray]]


def statistics(p: Preset) -> dict[str, Stats]:
    """Each model's skip statistics by name: the ViT, the ResNet, then their other seeds."""
    return {name: skips.unflatten(r) for name, r in results.keyed(
        p, plan.skip_statistics(p), key=lambda a: a.model).items()}


@dataclass(frozen=True)
class SkipRemoved:
    """The CKA heatmaps (``got[name]``: ``cka`` and its ``boot`` draws) of the intact ViT,
    the ViTs retrained without a block's skips and their other seeds."""

    preset: Preset
    got: Mapping[str, Mapping[str, np.ndarray]]
    variants: list[str]
    n_draws: int

    @property
    def blocks_removed(self) -> dict[str, int]:
        return {name: zoo.spec_of(name).noskip_block for name in self.variants}

    def across(self, name: str, block: int, draw: int | None = None) -> float:
        """Mean CKA across ``block`` in ``name``'s heatmap (one draw, or the point)."""
        m = self.got[name]["cka"] if draw is None else self.got[name]["boot"][draw]
        return ch06.across_block(m, layer_names(name), block)

    def rows(self) -> pd.DataFrame:
        """Across-block CKA of each retrained ViT and of the intact one, with their seeds."""
        intact_seeds = roles.other_seeds(self.preset.vit)

        def seeds(names: list[str], k: int) -> str:
            return ", ".join(f"{self.across(s, k):.3f}" for s in names) or "one seed"

        return pd.DataFrame([{"block": k, "retrained": self.across(name, k),
                              "retrained, other seeds": seeds(roles.other_seeds(name), k),
                              "intact ViT": self.across(self.preset.vit, k),
                              "intact, other seeds": seeds(intact_seeds, k)}
                             for name, k in self.blocks_removed.items()])

    def _largest(self, model_of: Callable[[str], str], draw: int | None = None) -> float:
        """The largest across-block CKA over the removed blocks, ``model_of(name)`` giving
        the model measured at each (a retrained ViT, a seed of it, or the intact ViT)."""
        return max(self.across(model_of(name), k, draw) for name, k in self.blocks_removed.items())

    def split(self) -> tuple[Measured | None, Measured | None]:
        """The claims' split (retrained) and its control (the intact ViT), each on the
        point, each draw and each seed; None without retrained ViTs. Seed k: the ViT
        retrained without the middle block's skips (the one with seeds) replaced by its
        seed k; the control: the intact ViT's seed k across the same blocks."""
        if not self.variants:
            return None, None
        middle, vit, draws = roles.middle_no_skip(self.preset)[0], self.preset.vit, range(
            self.n_draws)
        split = Measured(
            self._largest(lambda n: n), tuple(self._largest(lambda n: n, d) for d in draws),
            tuple(self._largest(lambda n, s=s: s if n == middle else n)
                  for s in roles.other_seeds(middle)))
        intact = Measured(
            self._largest(lambda n: vit), tuple(self._largest(lambda n: vit, d) for d in draws),
            tuple(self._largest(lambda n, s=s: s) for s in roles.other_seeds(vit)))
        return split, intact

    def cost(self) -> tuple[Measured | None, Measured | None, pd.DataFrame]:
        """The accuracy the middle block's skips cost (on the point, each resampling of the
        test images and each seed), the same gap between two seeds of the intact ViT (the
        control), and the accuracy table."""
        if not self.variants:
            return None, None, pd.DataFrame([])
        middle = roles.middle_no_skip(self.preset)[0]
        pairs = list(zip(zoo.seed_variants(self.preset.vit), zoo.seed_variants(middle),
                         strict=False))
        correct = {n: weights.test_correct(n) for pair in pairs for n in pair}
        draw_weights = resample.multinomial_weights(len(correct[self.preset.vit]), self.n_draws)

        def gap(a: str, b: str) -> Measured:
            return Measured(accuracy_gap(correct[a], correct[b]),
                            tuple(accuracy_gap(correct[a], correct[b], w)
                                  for w in draw_weights))

        first = gap(*pairs[0])
        cost = Measured(first.value, first.draws, tuple(gap(*pair).value for pair in pairs[1:]))
        seed_cost = gap(self.preset.vit, pairs[1][0]) if len(pairs) > 1 else None
        table = pd.DataFrame([{"seed": zoo.spec_of(intact).seed,
                               "intact ViT": 100 * correct[intact].mean(),
                               f"without block {self.blocks_removed[middle]}'s skips":
                                   100 * correct[retrained].mean(),
                               "cost (points)": accuracy_gap(correct[intact], correct[retrained])}
                              for intact, retrained in pairs])
        return cost, seed_cost, table


def skip_removed(p: Preset, n_draws: int) -> SkipRemoved:
    """The intact ViT, the retrained ones, then their other seeds: one pass."""
    got = results.keyed(p, plan.skip_removed(p), key=lambda r: r.model_a)
    return SkipRemoved(p, got, roles.no_skip(p), n_draws)


def _skips_of(stats: Mapping[str, Stats], vit: str, resnet: str,
              draw: int | None = None) -> ch06.Skips:
    """The ratios and cosines the claims read (one bootstrap draw, or the point)."""
    def pick(name: str, what: str) -> dict[str, np.ndarray]:
        values = stats[name][what if draw is None else f"boot_{what}"]
        return {b: (v if draw is None else v[draw]) for b, v in values.items()}

    return ch06.Skips(pick(vit, "ratio"), pick(resnet, "ratio"), pick(vit, "output_cosine"))


def claims(p: Preset, stats: Mapping[str, Stats], removed: SkipRemoved, *,
           prefix: int) -> list[Claim]:
    """The chapter's claims on the ViT and the ResNet, their draws and other seeds."""
    split, intact_split = removed.split()
    cost, seed_cost, _ = removed.cost()
    n = removed.n_draws
    return ch06.chapter6_claims(
        _skips_of(stats, p.vit, p.resnet), prefix,
        draws=[_skips_of(stats, p.vit, p.resnet, d) for d in range(n)],
        seeds=[_skips_of(stats, v, r) for v, r in roles.seed_pairs(p)], split=split,
        intact_split=intact_split, cost=cost, seed_cost=seed_cost,
        varies=f"{n} resamplings of the probe images",
        accuracy_varies=f"{n} resamplings of the 10,000 test images, the models paired")


def cls_numbers(ratio: Mapping[str, np.ndarray], prefix: int) -> dict[str, object]:
    """What the text quotes of the CLS token's norm ratio (nothing without a CLS token)."""
    if not prefix:
        return {}
    cls0 = ratio["attn"][0, 0]
    return {"cls_b0": f"{cls0:.2f}",
            "cls_b0_story": "the branch rewrites the CLS token" if cls0 < 1
            else "the skip carries the CLS token",
            "cls_last": f"{ratio['attn'][-1, 0]:.2f}",
            "spatial_last": f"{ratio['attn'][-1, prefix:].mean():.2f}"}
