"""Chapter 6's page module and its figures on statistics whose answers are known: the
across-block CKA of a heatmap split at a block, the split and cost of a preset without
retrained ViTs, the CLS numbers the text quotes, and every figure at page width."""

from __future__ import annotations

import numpy as np
from figure_checks import fits_page

from seelike.book.claims import ch06
from seelike.book.figures import skips as skip_figures
from seelike.book.pages import ch06 as page
from seelike.book.presets import PRESETS
from seelike.layers import block_index, layer_names

P = PRESETS["smoke"]


def _split_heatmap(name: str, block: int) -> np.ndarray:
    """CKA 1 within each side of ``block`` and 0.2 across it."""
    side = np.array([block_index(n) or 0 for n in layer_names(name)]) > block
    return np.where(side[:, None] == side[None, :], 1.0, 0.2)


def test_across_block_reads_the_heatmap_split_at_the_removed_block() -> None:
    variant = "vit_cifar_noskip7"
    m = _split_heatmap(variant, 7)
    removed = page.SkipRemoved(P, {variant: {"cka": m, "boot": np.stack([m, m * 0.5])}},
                               [variant], 2)
    assert removed.blocks_removed == {variant: 7}
    assert removed.across(variant, 7) == ch06.across_block(m, layer_names(variant), 7)
    assert removed.across(variant, 7, draw=1) < removed.across(variant, 7)


def test_without_retrained_vits_there_is_no_split_and_no_cost() -> None:
    removed = page.SkipRemoved(P, {}, [], 3)
    assert removed.split() == (None, None)
    cost, seed_cost, table = removed.cost()
    assert cost is None and seed_cost is None and table.empty
    assert removed.rows().empty


def test_cls_numbers_quote_the_first_and_last_blocks() -> None:
    ratio = {"attn": np.array([[0.5, 2.0, 2.0], [3.0, 1.0, 1.0]]),
             "mlp": np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])}
    n = page.cls_numbers(ratio, prefix=1)
    assert (n["cls_b0"], n["cls_last"], n["spatial_last"]) == ("0.50", "3.00", "1.00")
    assert n["cls_b0_story"] == "the branch rewrites the CLS token"
    assert page.cls_numbers(ratio, prefix=0) == {}


def _stats(blocks: int = 4, tokens: int = 5, units: int = 3, draws: int = 6) -> dict:
    rng = np.random.default_rng(0)

    def per_token(low: float, high: float) -> dict[str, np.ndarray]:
        return {b: rng.uniform(low, high, (blocks, tokens)) for b in ("attn", "mlp")}

    def boot(x: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {b: np.stack([v * rng.uniform(0.9, 1.1) for _ in range(draws)])
                for b, v in x.items()}

    vit = {"ratio": per_token(0.5, 20), "cosine": per_token(-0.5, 0.5),
           "output_cosine": per_token(0.5, 1)}
    vit |= {"boot_ratio": boot(vit["ratio"]), "boot_output_cosine": boot(vit["output_cosine"])}
    res = {k: {"unit": rng.uniform(0.5, 1, units)} for k in ("ratio", "cosine", "output_cosine")}
    res |= {f"boot_{k}": {"unit": rng.uniform(0.5, 1, (draws, units))}
            for k in ("ratio", "output_cosine")}
    return {"vit": vit, "res": res}



def test_the_figures_fit_the_page() -> None:
    s = _stats()
    for prefix in (0, 1):
        fits_page(skip_figures.ratio_tokens(s["vit"]["ratio"], prefix))
        fits_page(skip_figures.ratio_depth(s["vit"], s["res"], prefix=prefix,
                                           colours=("C0", "C1")))
        fits_page(skip_figures.cosine_panels(s["vit"], s["res"], prefix=prefix,
                                             colours=("C0", "C1")))
    names = [P.vit, "vit_cifar_noskip7", "vit_cifar_noskip10"]
    fits_page(skip_figures.noskip_heatmaps({n: _split_heatmap(n, 7) for n in names}, names))
