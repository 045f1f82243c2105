"""seelike.book.plan: what each chapter asks for is what the plan runs, and the knobs agree.

A chapter's analysis that the plan's :func:`~seelike.book.schedule.analyses` leaves out of its
probe set would cost a second forward pass of every model it needs (``results`` joins the
plan only); and a chapter's parameters cell must offer exactly the knobs of
:data:`~seelike.book.knobs.KNOBS`, at the book's values, or ``setup`` refuses (an unknown
knob) or the book's own run writes under another name (another value).
"""

from __future__ import annotations

import ast
import operator
from pathlib import Path

import jupytext
import numpy as np
import pytest

from seelike import datasets
from seelike.analyses import Declaration
from seelike.book import plan, results, roles, schedule, store
from seelike.book.chapter import setup
from seelike.book.images import probe_set
from seelike.book.knobs import KNOBS
from seelike.book.presets import PRESETS, get_preset
from seelike.config import repo_root
from seelike.datasets import IMAGENETTE_CLASSES
from seelike.layers import layer_names

CHAPTERS = repo_root() / "chapters"


def _ident(a: Declaration | plan.After) -> tuple[str, str]:
    a = results.resolve(a)
    return a.name, repr(a.params())


def _requested(p) -> dict[str, list[Declaration | plan.After]]:
    """Every analysis the chapters request through the plan's functions, by probe purpose."""
    cka = [*plan.representation_structure(p), *plan.seed_structure(p), *plan.noise_floor(p),
           *plan.skip_removed(p), *plan.data_scale(p), *plan.mixer_comparison(p),
           plan.first_heatmap(p)]
    return {
        "cka": [*(plan.cka_analysis(r) for r in cka),
                plan.cka_walkthrough(p), *plan.zoo_accuracy(p), *plan.skip_statistics(p),
                *plan.localization(p), *plan.localization_by_seed(p),
                plan.head_subsets_vs_resnet(p, results.vit_distances(p)),
                *plan.head_subsets_by_seed(p)],
        "attention": plan.attention_distances(p),
        "estimators": [plan.estimator_study(p)],
        # Chapters 7 and 8 probe the spatial models, their other seeds and the less-data ViTs.
        "probe_train": [plan.probe_fit(p, name)
                        for name in [*roles.spatial_models(p), *roles.less_data(p),
                                     *roles.seed_models(p)]],
    }


@pytest.fixture(scope="module")
def smoke_requests(mirror: Path) -> dict[str, list[Declaration]]:
    return _requested(get_preset("smoke"))


@pytest.mark.parametrize("purpose", ["cka", "attention", "estimators", "probe_train"])
def test_every_requested_analysis_is_planned_for_its_probe_set(
        smoke_requests: dict[str, list[Declaration]], purpose: str) -> None:
    smoke = get_preset("smoke")
    requested = smoke_requests[purpose]
    assert requested, f"no {purpose} analyses requested"
    planned = {_ident(a) for a in schedule.analyses(smoke, purpose)}
    missing = [_ident(a)[0] for a in requested if _ident(a) not in planned]
    assert not missing, f"{purpose}: requested but not planned: {missing}"


def test_every_planned_analysis_is_unique_and_of_its_probe_set(
        smoke_requests: dict[str, list[Declaration]]) -> None:
    smoke = get_preset("smoke")
    by_purpose = {purpose: [_ident(a) for a in schedule.analyses(smoke, purpose)]
                  for purpose in smoke_requests}
    for purpose, idents in by_purpose.items():
        assert len(idents) == len(set(idents)), purpose
    # The plan runs nothing on a probe set that no chapter asks for there.
    assert set(by_purpose["cka"]) == {_ident(a) for a in smoke_requests["cka"]}
    # Chapter 4's spread over probe sets: repeats other than 0 carry Fig 1 and 2 only, and
    # only the repeats the preset makes.
    spread = smoke.with_overrides(cka_repeats=2)
    repeat = {_ident(a) for a in schedule.analyses(spread, "cka", repeat=1)}
    assert repeat == {_ident(plan.cka_analysis(r))
                      for r in plan.representation_structure(spread)}
    assert schedule.analyses(smoke, "cka", repeat=1) == []
    assert schedule.analyses(smoke, "attention", repeat=1) == []


def test_the_plan_table_derives_schedule_and_chapters(mirror: Path) -> None:
    cifar = get_preset("cifar")
    passes = schedule.schedule(cifar)
    purposes = [purpose for _, purpose, _ in passes]
    assert purposes == sorted(purposes, key=schedule.PASS_ORDER.index)
    assert purposes.count("cka") == cifar.cka_repeats
    assert purposes.count("probe_train") == plan.SHOT_DRAWS + 1  # five 10-shot draws, full set
    # Every planned analysis has the chapter of the first PLAN row that asks for it.
    for q, purpose, repeat in passes:
        for a in schedule.analyses(q, purpose, repeat):
            chapter = schedule.chapter_of(cifar, a)
            rows = [row.chapter for row in plan.PLAN if row.purpose == purpose]
            assert chapter in rows, (a, chapter)
    assert schedule.chapter_of(cifar, plan.cka_analysis(plan.first_heatmap(cifar))) == "02_cka"
    assert schedule.chapter_of(cifar, plan.probe_fit(cifar, roles.less_data(cifar)[0])) \
        == "08_scale"
    assert schedule.chapter_of(cifar, plan.probe_evaluation(cifar, cifar.vit_gap)) \
        == "07_localization"
    # A row added to the table reaches the pass, the schedule and chapter_of at once.
    extra = plan.CKARequest(cifar.mixer, None, cifar.vit_gap)
    row = plan.Row("09_mixer", "cka", lambda p, r, s: [plan.cka_analysis(extra)])
    try:
        plan.PLAN = (*plan.PLAN, row)
        schedule._chapters_of_pass.cache_clear()
        assert _ident(plan.cka_analysis(extra)) in {
            _ident(a) for a in schedule.analyses(cifar, "cka")}
        assert schedule.chapter_of(cifar, plan.cka_analysis(extra)) == "09_mixer"
    finally:
        plan.PLAN = plan.PLAN[:-1]
        schedule._chapters_of_pass.cache_clear()


def test_a_reader_s_knob_builds_analyses_outside_the_book_s_plan(mirror: Path) -> None:
    smoke = get_preset("smoke")
    planned = {_ident(a) for a in schedule.analyses(smoke, "cka")}
    stages = {_ident(a) for a in plan.localization(smoke, resnet_stages=1)}
    assert stages - planned  # the ResNet's last stage alone: another analysis
    window = plan.head_subsets_vs_resnet(smoke, results.vit_distances(smoke), head_window=0.5)
    assert _ident(window) not in planned
    # Each chapter's defaults are the plan's: setup's knobs rebuild the book's analyses.
    knobs = setup("05_local_global", smoke).knobs
    fig5 = plan.head_subsets_vs_resnet(smoke, results.vit_distances(smoke), **knobs)
    assert _ident(fig5) in planned
    ch7 = setup("07_localization", smoke).knobs
    assert {_ident(a) for a in plan.localization(
        smoke, resnet_stages=ch7["resnet_stages"])} <= planned
    assert plan.probe_shots(smoke, shots=ch7["shots"])[0] == ch7["shots"]


def test_knobs_name_chapters_and_preset_fields_or_plan_keywords() -> None:
    fields = set(PRESETS["cifar"].__dataclass_fields__)
    for chapter, knobs in KNOBS.items():
        assert (CHAPTERS / f"{chapter}.md").exists(), chapter
        for knob, default in knobs.items():
            # A knob with no default of its own is a Preset field; the others are not.
            assert (default is None) == (knob in fields), (chapter, knob)


# --- the chapters' parameters cells ---------------------------------------------------------


_DIVIDE = {ast.Div: operator.truediv, ast.Mult: operator.mul}


def _value(node: ast.expr) -> object:
    """``ast.literal_eval`` of a parameter, plus a quotient of numbers such as ``1 / 3``."""
    try:
        return ast.literal_eval(node)
    except ValueError:
        if isinstance(node, ast.BinOp) and type(node.op) in _DIVIDE:
            left, right = _value(node.left), _value(node.right)
            if all(isinstance(v, int | float) and not isinstance(v, bool)
                   for v in (left, right)):
                return _DIVIDE[type(node.op)](left, right)
        raise


def parameters(chapter: str) -> dict[str, object]:
    """The names and values the chapter's cell tagged ``parameters`` assigns."""
    cells = [c for c in jupytext.read(CHAPTERS / f"{chapter}.md").cells
             if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{chapter}: {len(cells)} parameters cells"
    found: dict[str, object] = {}
    for statement in ast.parse(cells[0].source).body:
        assert isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
            and isinstance(statement.targets[0], ast.Name), \
            f"{chapter}: the parameters cell holds plain assignments only"
        name = statement.targets[0].id
        assert name not in found, f"{chapter}: {name} assigned twice"
        found[name] = _value(statement.value)
    return found


@pytest.mark.parametrize("chapter", sorted(KNOBS))
def test_parameters_cell_declares_preset_and_exactly_the_chapter_s_knobs(chapter: str) -> None:
    declared = parameters(chapter)
    assert declared.pop("preset") == "cifar"
    assert sorted(declared) == sorted(KNOBS[chapter])
    for knob, default in KNOBS[chapter].items():
        assert declared[knob] == default and type(declared[knob]) is type(default), knob
    # The book's own run: the cell's values give the preset's results name.
    assert setup(chapter, "cifar", **declared).results_name == "cifar"


@pytest.mark.parametrize("chapter", sorted(KNOBS))
def test_the_chapter_passes_every_knob_to_setup(chapter: str) -> None:
    calls = []
    for cell in jupytext.read(CHAPTERS / f"{chapter}.md").cells:
        if cell.cell_type != "code" or "setup(" not in cell.source:
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "setup" and isinstance(node.func.value, ast.Name) \
                    and node.func.value.id == "chapter":
                calls.append(node)
    assert len(calls) == 1, f"{chapter}: {len(calls)} calls of chapter.setup"
    passed = {k.arg: k.value for k in calls[0].keywords}
    assert sorted(passed) == sorted(KNOBS[chapter])
    assert all(isinstance(v, ast.Name) and v.id == k for k, v in passed.items()), \
        f"{chapter}: each knob is passed as itself (knob=knob)"


def test_a_cache_that_cannot_be_written_still_hands_the_results_on(
        mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from seelike import cache
    from seelike import io as sio

    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))

    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sio.os, "replace", full_disk)
    p = get_preset("smoke", cka_examples=8, cka_batch=8)
    analysis = plan.cka_analysis(plan.CKARequest(p.vit, ["net.blocks.0"]))
    with pytest.warns(UserWarning, match="not cached.*SEELIKE_CACHE"):
        (result,) = store.results(p, [analysis], purpose="cka", batch_size=8)
    assert result["cka"].shape == (1, 1) and np.isfinite(result["cka"]).all()
    assert not [f for f in (tmp_path / "cache").rglob("*") if f.is_file()]


# --- results by name, and what the plan declares as After ----------------------------------


def test_keyed_names_results_and_refuses_a_name_twice(mirror: Path) -> None:
    smoke = get_preset("smoke")
    runs = plan.attention_distances(smoke)
    by_name = results.keyed(smoke, runs, key=lambda a: a.model, purpose="attention")
    listed = results.results(smoke, runs, purpose="attention")
    assert list(by_name) == [a.model for a in runs]
    for a, out in zip(runs, listed, strict=True):
        assert np.array_equal(by_name[a.model]["drop"], out["drop"])
    assert results.keyed(smoke, {"mine": runs[0]}, purpose="attention")["mine"].keys() \
        == listed[0].keys()
    with pytest.raises(ValueError, match="two asks are named 'same'"):
        results.keyed(smoke, runs, key=lambda a: "same", purpose="attention")
    with pytest.raises(TypeError, match=r"key=lambda r: r\.pair"):
        results.keyed(smoke, runs, purpose="attention")
    with pytest.raises(TypeError, match="a mapping names its own"):
        results.keyed(smoke, {"a": runs[0]}, key=lambda a: a.model, purpose="attention")


def test_an_after_resolves_to_the_analysis_it_declares(mirror: Path) -> None:
    smoke = get_preset("smoke")
    fig5 = plan.head_subsets_after_attention(smoke)
    assert _ident(fig5) == _ident(plan.head_subsets_vs_resnet(smoke,
                                                              results.vit_distances(smoke)))
    assert schedule.chapter_of(smoke, fig5) == schedule.chapter_of(smoke, results.resolve(fig5))
    # A probe evaluation carries its fit's identity; its labels come with the probe_test set.
    after = plan.probe_evaluation(smoke, smoke.vit)
    evaluation = results.resolve(after)
    assert evaluation.fit_id == store.result_id(
        after.preset, after.first, purpose="probe_train", repeat=0,
        batch_size=schedule.batch_size(smoke, "probe_train"))
    assert evaluation.classes == len(np.unique(probe_set(smoke, "probe_test").labels))
    assert schedule.chapter_of(smoke, after) == schedule.chapter_of(smoke, evaluation) \
        == "07_localization"


def test_the_stem_and_the_receptive_fields_chapter_5_reads_come_from_the_declarations() -> None:
    cifar = get_preset("cifar")
    assert plan.stem(cifar.resnet) == "net.conv1"
    vit = plan.receptive_field_requests(cifar, cifar.vit)
    blocks = layer_names(cifar.vit, "blocks")
    assert vit[0] == (f"{blocks[0]}.attn", "post") and vit[-1] == (f"{blocks[-1]}.mlp", "pre")
    assert len(vit) == 4 * len(blocks)
    resnet = plan.receptive_field_requests(cifar, cifar.resnet)
    units = layer_names(cifar.resnet, "blocks")
    assert resnet[0] == ("net.conv1", "post") and resnet[-1] == (units[-1], "pre")
    assert len(resnet) == 1 + 2 * len(units)


def test_the_probes_name_the_datasets_classes() -> None:
    assert datasets.class_ids("cifar10") == tuple(range(10))
    assert datasets.class_ids("imagenette") == tuple(sorted(IMAGENETTE_CLASSES.values()))
    fit = plan.probe_fit(get_preset("paper"), "vit_base_patch32_224.augreg_in21k")
    assert fit.classes == 10 and fit.class_ids == datasets.class_ids("imagenette")
