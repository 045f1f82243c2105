"""Chapter 5's page: attention distances, head subsets and receptive fields, as it shows them.

Each function reads one measurement of the preset's models from the results layer (the
plan's analyses, one pass per probe set), resamples it by image the way the claims are
resampled, and returns the arrays the figures draw; ``*_numbers`` give the values the text
quotes, formatted once, keyed by the name the page glues them under (without ``ch5_``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from IPython.display import Markdown
from pandas.io.formats.style import Styler
from torch import nn

from seelike import analyses, attention, passes, resample, structure, weights, zoo
from seelike import receptive_field as rf
from seelike.book import codenames, plan, results, roles, tables
from seelike.book.claims import ch05
from seelike.book.claims.table import Claim
from seelike.book.claims.verdict import percentile_band
from seelike.book.images import probe_set
from seelike.book.presets import Preset
from seelike.layers import layer_names, short_label, stage_of

__all__ = ["Distances", "Geometry", "ReceptiveFields", "Subsets", "claims",
           "distances", "erf_numbers", "fig4_reading", "reading_numbers", "receptive_fields",
           "seed_receptive_fields", "seed_subsets", "subset_distances", "subsets"]


@dataclass(frozen=True)
class Geometry:
    """The ViT's patch grid, patch size and prefix tokens, and the image size (px)."""

    grid: tuple[int, int]
    patch: int
    prefix: int
    image_px: int

    @classmethod
    def of(cls, vit: nn.Module, image_px: int) -> Geometry:
        """Read off a timm ViT (:func:`seelike.attention.vit_geometry`)."""
        return cls(*attention.vit_geometry(vit), image_px)

    @property
    def uniform(self) -> float:
        """U: the mean attention distance (px) of uniform attention over the grid."""
        return attention.uniform_attention_distance(self.grid, self.patch)

    @property
    def patches(self) -> int:
        return self.grid[0] * self.grid[1]

    def numbers(self) -> dict[str, object]:
        """The grid, patch, image size and U, absolute and relative to the image."""
        u = self.uniform
        return {"grid": f"{self.grid[0]} × {self.grid[1]}", "patch": self.patch,
                "image": self.image_px, "U": f"{u:.1f}", "U_rel": f"{u / self.image_px:.2f}",
                "U_paper_rel": f"{117 / 224:.2f}"}  # the paper's ViT-B/16 at 224 px


@dataclass(frozen=True)
class Distances:
    """Mean attention distances of every ViT the preset measures, both CLS treatments.

    ``by_model[name]`` holds ``drop`` and ``renormalise`` ``(blocks, heads)`` and their
    ``*_per_example`` ``(images, blocks, heads)``; ``weights`` the resamplings of the
    attention images shared by every model (paired draws).
    """

    by_model: Mapping[str, Mapping[str, np.ndarray]]
    weights: np.ndarray
    uniform: float

    def of(self, name: str, cls: str = "drop") -> np.ndarray:
        """``(blocks, heads)`` distances of ``name``."""
        return self.by_model[name][cls]

    def draws(self, name: str, cls: str = "drop") -> np.ndarray:
        """``(draws, blocks, heads)`` distances of ``name`` over resampled images."""
        return resample.weighted_means(self.by_model[name][f"{cls}_per_example"],
                                       self.weights)

    def numbers(self, vit: str, seeds: Sequence[str]) -> dict[str, object]:
        """What the text quotes of ``vit``'s distances, its band and its other ``seeds``."""
        dist, renorm, u = self.of(vit), self.of(vit, "renormalise"), self.uniform
        low, high = dist[:2].ravel(), dist[-2:].ravel()
        band = percentile_band(self.draws(vit).min(axis=(1, 2)) / u)
        return {"n_attn": f"{self.weights.shape[1]:,}",
                "n_heads": dist.shape[1], "n_blocks": dist.shape[0],
                "low_min": f"{low.min():.1f}", "low_max": f"{low.max():.1f}",
                "high_min": f"{high.min():.1f}", "high_max": f"{high.max():.1f}",
                "n_local_all": int(ch05.local_heads(dist, u).sum()),
                "n_local_low": ch05.lowest_local_count(dist, u),
                "renorm_maxdiff": f"{np.max(renorm - dist):.2f}",
                "min_rel": f"{dist.min() / u:.2f}",
                "min_rel_interval": f"{band[0]:.2f} to {band[1]:.2f}",
                "seed_min_rel": ", ".join(f"{self.of(s).min() / u:.2f}" for s in seeds)
                or "none"}

    def less_data_table(self, names: Sequence[str]) -> Styler:
        """Fig 4's table: each model's share of the data, accuracy and lowest blocks."""
        frame = pd.DataFrame([
            {"model": n, "data": "–" if roles.data_share(n) is None
             else f"{roles.data_share(n):.0%}",
             "test accuracy (%)": weights.read_manifest(n)["test_accuracy"],
             "blocks 0-1: mean distance (px)": self.of(n)[:2].mean(),
             "blocks 0-1: local heads": ch05.lowest_local_count(self.of(n), self.uniform)}
            for n in names])
        return tables.styled(frame, formats={"test accuracy (%)": "{:.2f}",
                                             "blocks 0-1: mean distance (px)": "{:.2f}"})


def distances(p: Preset, uniform: float) -> Distances:
    """The ViT, its less-data twins and its other training seeds: one pass, both CLS
    treatments, resampled by image."""
    by_model = results.keyed(p, plan.attention_distances(p), key=lambda a: a.model,
                             purpose="attention")
    draws = resample.multinomial_weights(len(probe_set(p, "attention")), plan.BOOTSTRAP)
    return Distances(by_model, draws, uniform)


def subset_distances(distances: np.ndarray, request: analyses.HeadSubsetCKA) -> np.ndarray:
    """Each subset's mean distance (px), over the heads of the blocks ``request`` pools."""
    pooled = distances[list(request.blocks)].ravel()          # block-major, as the plan
    return np.array([pooled[list(s)].mean() for s in request.subsets])


@dataclass(frozen=True)
class Subsets:
    """Fig 5: windows of heads of the lowest blocks, local to global, against the ResNet's
    lower layers: each window's mean distance, its CKA and the CKA over resampled images."""

    request: analyses.HeadSubsetCKA
    distance: np.ndarray       # (subsets,) px
    cka: np.ndarray            # (subsets, layers)
    draws: np.ndarray          # (draws, subsets, layers)
    pooled: int                # heads in the pooled blocks

    def title(self) -> str:
        pool = self.request.blocks
        return (f"windows of {len(self.request.subsets[0])} of the {self.pooled} heads of "
                f"blocks {pool[0]}–{pool[-1]}, local → global")

    def numbers(self, examples: int) -> dict[str, object]:
        """What the text quotes; ``examples``: the images that entered the CKA."""
        pool = self.request.blocks
        return {"n_cka": f"{examples:,}", "n_subsets": len(self.request.subsets),
                "subset_min": f"{self.distance.min():.1f}",
                "subset_max": f"{self.distance.max():.1f}",
                "pool": f"blocks {pool[0]}–{pool[-1]}" if len(pool) > 1 else f"block {pool[0]}",
                "pooled": self.pooled, "window": len(self.request.subsets[0]),
                "lower_layers": ", ".join(short_label(n) for n in self.request.cnn_layers)}


def subsets(p: Preset, distances: np.ndarray, **knobs: object) -> Subsets:
    """Fig 5 on the preset's ViT: its subsets from its ``distances``, their CKA from the
    results layer."""
    request = plan.head_subsets_vs_resnet(p, distances, **knobs)
    out = results.one(p, request)
    return Subsets(request, subset_distances(distances, request), out["cka"], out["boot"],
                   len(request.blocks) * distances.shape[1])


def seed_subsets(p: Preset, d: Distances, **knobs: object) -> list[tuple[np.ndarray,
                                                                             np.ndarray]]:
    """Fig 5 on every other training seed of the ViT and the ResNet, with its own subsets:
    ``(distance, cka)`` for each."""
    requests = [results.resolve(a) for a in plan.head_subsets_by_seed(p, **knobs)]
    outs = results.keyed(p, requests, key=lambda r: r.vit)
    return [(subset_distances(d.of(r.vit), r), outs[r.vit]["cka"]) for r in requests]


@dataclass(frozen=True)
class ReceptiveFields:
    """ERF maps and per-image moments of a ViT (attention and MLP sublayers of each block)
    and a ResNet (its stem and blocks), after and before the residual."""

    vit: results.ReceptiveFields
    resnet: results.ReceptiveFields
    vit_blocks: tuple[str, ...]
    resnet_blocks: tuple[str, ...]
    stem: str
    weights: np.ndarray        # (draws, images): resamplings of the receptive-field images
    patches: int
    image_px: int

    @property
    def vit_attn(self) -> list[str]:
        return [f"{b}.attn" for b in self.vit_blocks]

    @property
    def vit_mlp(self) -> list[str]:
        return [f"{b}.mlp" for b in self.vit_blocks]

    @property
    def resnet_all(self) -> list[str]:
        return [self.stem, *self.resnet_blocks]

    @property
    def spread_uniform(self) -> float:
        """The spread (px) of a map uniform over the image."""
        return rf.erf_spread(np.ones((self.image_px, self.image_px)))

    def inputs(self, vit: results.ReceptiveFields | None = None,
               resnet: results.ReceptiveFields | None = None) -> tuple[np.ndarray, ...]:
        """``(layers, images, 5)`` moments in :class:`ch05.ErfSummary`'s order: ViT
        attention post, pre; MLP post, pre; ResNet post (stem first), pre."""
        v, r = (vit or self.vit).moments, (resnet or self.resnet).moments

        def per_image(moments: Mapping[tuple[str, str], np.ndarray], names: Sequence[str],
                      where: str) -> np.ndarray:
            return np.stack([moments[(n, where)] for n in names])

        return (per_image(v, self.vit_attn, "post"), per_image(v, self.vit_attn, "pre"),
                per_image(v, self.vit_mlp, "post"), per_image(v, self.vit_mlp, "pre"),
                per_image(r, self.resnet_all, "post"), per_image(r, self.resnet_blocks, "pre"))

    def summary(self, inputs: Sequence[np.ndarray] | None = None) -> ch05.ErfSummary:
        """The ERF summary of the maps averaged over all images."""
        inputs = self.inputs() if inputs is None else inputs
        return ch05.ErfSummary.of(*(x.sum(axis=1) for x in inputs), self.patches,
                                  self.spread_uniform)

    def draws(self) -> list[ch05.ErfSummary]:
        """The summary on each resampling of the images."""
        return ch05.ErfSummary.draws(*self.inputs(), self.patches, self.spread_uniform,
                                     self.weights)

    def spread_series(self) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
        """``(model, where) -> (depth, moments)`` of the ViT's attention sublayers and the
        ResNet (its stem at depth 0, after the residual only), depth as a fraction of blocks."""
        x = self.inputs()
        vit = structure.depth_fraction(len(self.vit_blocks))
        res = np.concatenate([[0.0], structure.depth_fraction(len(self.resnet_blocks))])
        return {("vit", "post"): (vit, x[0]), ("vit", "pre"): (vit, x[1]),
                ("res", "post"): (res, x[4]), ("res", "pre"): (res[1:], x[5])}

    def centre_series(self) -> dict[str, dict[str, np.ndarray]]:
        """``sublayer -> where -> moments`` of the ViT's attention and MLP sublayers."""
        x = self.inputs()
        return {"attention": {"post": x[0], "pre": x[1]}, "MLP": {"post": x[2], "pre": x[3]}}

    def maps(self, model: str) -> dict[str, dict[str, np.ndarray]]:
        """``{"post": {layer: map}, "pre": {...}}`` of the ``"vit"`` attention sublayers or
        the ``"resnet"`` (its stem has no residual, so no pre-residual map)."""
        if model == "vit":
            return {w: {n: self.vit.maps[(n, w)] for n in self.vit_attn} for w in ("post", "pre")}
        return {"post": {n: self.resnet.maps[(n, "post")] for n in self.resnet_all},
                "pre": {n: self.resnet.maps[(n, "pre")] for n in self.resnet_blocks}}

    def vit_columns(self) -> list[str]:
        """The attention sublayers at the paper's relative depths (blocks 0, 2, 5, 8, 11 of
        12)."""
        n = len(self.vit_blocks)
        at = np.unique(np.round(np.array([0, 2, 5, 8, 11]) / 11 * (n - 1)).astype(int))
        return [self.vit_attn[i] for i in at]

    def resnet_columns(self) -> list[str]:
        """The stem and the last block of each stage."""
        blocks = self.resnet_blocks
        return [self.stem, *(n for i, n in enumerate(blocks)
                             if i + 1 == len(blocks) or stage_of(blocks[i + 1]) != stage_of(n))]


def receptive_fields(p: Preset, vit: str, resnet: str, patches: int) -> ReceptiveFields:
    """The ERFs the plan requests of ``vit`` and ``resnet`` on the receptive-field images."""
    return ReceptiveFields(
        results.receptive_fields(p, vit, plan.receptive_field_requests(p, vit)),
        results.receptive_fields(p, resnet, plan.receptive_field_requests(p, resnet)),
        tuple(layer_names(vit, "blocks")), tuple(layer_names(resnet, "blocks")),
        plan.stem(resnet),
        resample.multinomial_weights(len(probe_set(p, "receptive_field")), plan.BOOTSTRAP),
        patches, p.image_size)


def seed_receptive_fields(p: Preset, erf: ReceptiveFields) -> list[ch05.ErfSummary]:
    """The ERF summary of every other training seed of the ViT and the ResNet, by seed."""
    return [erf.summary(erf.inputs(
        results.receptive_fields(p, v, plan.receptive_field_requests(p, v)),
        results.receptive_fields(p, r, plan.receptive_field_requests(p, r))))
        for v, r in roles.seed_pairs(p)]


def erf_numbers(point: ch05.ErfSummary, erf: ReceptiveFields) -> dict[str, object]:
    """What the text quotes of the spreads and centre shares."""
    attn_post = rf.centre_share(erf.inputs()[0].sum(axis=1))
    return {"spread_uniform": f"{erf.spread_uniform:.1f}",
            "spread_vit0": f"{point.vit_spread[0]:.1f}",
            "spread_res0": f"{point.resnet_spread[1]:.1f}",
            "spread_vit_mid": f"{ch05.middle_third(point.vit_spread).mean():.1f}",
            "spread_res_mid": f"{ch05.middle_third(point.resnet_spread[1:]).mean():.1f}",
            "spread_vit_last": f"{point.vit_spread[-1]:.1f}",
            "spread_res_last": f"{point.resnet_spread[-1]:.1f}",
            "centre_post_min": f"{attn_post.min():.2f}",
            "centre_post0": f"{attn_post[0]:.2f}",
            "centre_post_last": f"{attn_post[-1]:.2f}"}


def fig4_reading(least: str | None, full: np.ndarray, uniform: float) -> str:
    """How to read Fig 4's claim on this preset, given its least-data ViT (if any) and the
    full-data ViT's distances."""
    if not least:
        return "This preset has no ViT trained on less data, so Fig 4 is not tested."
    if ch05.lowest_local_count(full, uniform) == 0:
        return ("The full-data ViT has no local head in its lowest blocks to lose, so the ratio "
                "is 0 / 0 and the claim is untestable here, whatever the less-data models do.")
    return "The claims table gives the ratio of local heads and its interval."


def reading_numbers(p: Preset, d: Distances) -> dict[str, object]:
    """The Fig 3 clauses under the other CLS convention (shown, not written to the table),
    and how Fig 4 reads on this preset's least-data ViT."""
    renorm = ch05.attention_claims(d.of(p.vit, "renormalise"), d.uniform,
                                   draws=d.draws(p.vit, "renormalise"))
    least = (roles.less_data(p) or [None])[-1]
    return {"fig3_mix_renorm": renorm[0].verdict, "fig3_global_renorm": renorm[1].verdict,
            "least": Markdown(codenames.as_markdown(least or "no less-data model")),
            "least_local": ch05.lowest_local_count(d.of(least), d.uniform) if least else 0,
            "fig4_reading": fig4_reading(least, d.of(p.vit), d.uniform)}


def claims(p: Preset, d: Distances, fig5: Subsets, erf: ReceptiveFields,
           **knobs: object) -> list[Claim]:
    """Every claim of the chapter, judged on the page's measurements, with what varies
    (the images of each probe set that enter each measurement)."""
    draws = plan.BOOTSTRAP
    examples = {"attention": len(probe_set(p, "attention")),
                "cka": passes.examples_used(len(probe_set(p, "cka")), p.cka_batch),
                "receptive_field": len(probe_set(p, "receptive_field"))}
    seeds = [d.of(n) for n in roles.other_seeds(p.vit)]
    least = (roles.less_data(p) or [None])[-1]
    less = d.of(least) if least else None
    varies = f"{draws} resamplings of the {examples['attention']:,} attention images"
    found = ch05.attention_claims(d.of(p.vit), d.uniform, draws=d.draws(p.vit), seeds=seeds,
                                  least=less, varies=varies,
                                  least_draws=d.draws(least) if least else None)
    found.append(ch05.less_data_claim(
        d.of(p.vit), less, d.uniform, varies=varies,
        draws=(d.draws(p.vit), d.draws(least)) if least else None,
        other_seed=seeds[0] if seeds else None))
    # Fig 4's accuracy: which of the 10,000 CIFAR-10 test images each model gets right, as
    # its manifest records (zoo models only), resampled image by image for all together.
    other = roles.other_seeds(p.vit)[:1]
    correct = {n: weights.test_correct(n) for n in [p.vit, least, *other]
               if n and zoo.split_seed(n)[0] in zoo.ZOO}
    found.append(ch05.accuracy_claim(
        correct.get(p.vit), correct.get(least), correct.get(other[0]) if other else None,
        resample.multinomial_weights(len(correct[p.vit]), draws) if p.vit in correct else None,
        varies=f"{draws} resamplings of the 10,000 CIFAR-10 test images, paired by image"))
    found += ch05.subsets_claims(fig5.distance, fig5.cka, draws=fig5.draws,
                                 seeds=seed_subsets(p, d, **knobs),
                                 varies=f"{draws} resamplings of the {examples['cka']:,} CKA "
                                        "images")
    found += ch05.receptive_field_claims(
        erf.summary(), draws=erf.draws(), seeds=seed_receptive_fields(p, erf),
        varies=f"{draws} resamplings of the {examples['receptive_field']} receptive-field "
               "images")
    return found
