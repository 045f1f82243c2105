"""The paper-preset benchmark at a tiny size on the CPU: every analysis of the plan runs on
the paper's architectures (random init, synthetic images) and lands in a row of the table."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from seelike.book import plan, roles, schedule
from seelike.book.presets import get_preset, parse_overrides

ROOT = Path(__file__).resolve().parents[1]
TINY = ["cka_examples=8", "cka_batch=4", "attention_examples=4", "receptive_field_examples=2",
        "probe_train_per_class=2", "probe_test_examples=4", "estimator_batches=(4, 8)",
        "estimator_examples=8", "estimator_repeats=1"]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_paper",
                                                  ROOT / "benchmarks" / "bench_paper.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_planned_analysis_of_the_paper_preset_runs_and_is_timed(bench, tmp_path) -> None:
    out = tmp_path / "bench.json"
    result = bench.main(["--device", "cpu", "--shots", "2", "--out", str(out), "--set", *TINY])
    p = get_preset("paper", **parse_overrides(TINY))
    written = json.loads(out.read_text())
    assert written["rows"] == result["rows"] and written["complete"] and result["complete"]
    assert out.with_suffix(".md").read_text().startswith("| chapter | analysis |")
    # One timed pass per scheduled probe set, and one receptive-field run per model.
    assert [(x["purpose"], x["repeat"]) for x in result["passes"]] == (
        [(purpose, r) for _, purpose, r in schedule.schedule(p, shots=2)]
        + [("receptive_field", 0)] * len(roles.receptive_field_models(p)))
    chapters = {r["chapter"] for r in result["rows"]}
    assert chapters == {"all (shared pass)", "02_cka", "04_representation_structure",
                        "05_local_global", "06_skip_connections", "07_localization",
                        "08_scale", "09_mixer", "10_estimators"}
    analyses = {r["analysis"] for r in result["rows"]}
    assert {"token-to-patch CKA", "few-shot linear probes: fit", "linear probes: evaluation",
            "mean attention distances", "effective receptive fields",
            "minibatch CKA estimators", "CKA curve and full-batch CKA (Ch. 2)"} <= analyses
    assert all(r["seconds"] >= 0 and r["peak_gib"] is None for r in result["rows"])
    assert result["total_seconds"] == pytest.approx(
        sum(x["seconds"] for x in result["passes"]), abs=0.2)


def test_every_analysis_of_the_plan_has_a_chapter(mirror: Path) -> None:
    p = get_preset("paper")
    # Found in the CKA pass, before any probe set of the paper preset is drawn.
    assert schedule.chapter_of(p, plan.cka_analysis(plan.first_heatmap(p))) == "02_cka"
    smoke = get_preset("smoke")
    with pytest.raises(KeyError, match="in no chapter's row"):
        schedule.chapter_of(smoke, plan.cka_analysis(plan.CKARequest(smoke.mixer, None,
                                                                 smoke.vit_gap)))
