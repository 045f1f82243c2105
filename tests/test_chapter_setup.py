"""seelike.book.chapter.setup: a chapter's preset and knobs, checked once, and where it writes.

The book's own run (every knob at the book's value) writes under the preset's name, where the
scorecard reads; any other run writes under a name of its own, so a reader's experiment never
replaces the book's tables.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from seelike.book import claims
from seelike.book.chapter import setup
from seelike.book.claims import Claim
from seelike.book.knobs import KNOBS
from seelike.book.presets import PRESETS, get_preset

CH4, CH5, CH7, CH10 = ("04_representation_structure", "05_local_global", "07_localization",
                       "10_estimators")


@pytest.mark.parametrize("chapter", sorted(KNOBS))
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_the_book_s_run_gets_the_preset_s_name(chapter: str, preset: str) -> None:
    s = setup(chapter, preset)
    assert s.preset == PRESETS[preset] and s.results_name == preset and s.is_default
    # The chapter's own knobs (not Preset fields) are there, at the book's values.
    own = {k: v for k, v in KNOBS[chapter].items() if k not in PRESETS[preset].__dataclass_fields__}
    assert s.knobs == own


def test_the_default_preset_is_cifar_and_a_preset_object_passes_through() -> None:
    assert setup(CH4).results_name == "cifar" and setup(CH4).preset is PRESETS["cifar"]
    assert setup(CH4, PRESETS["smoke"]).results_name == "smoke"


def test_the_book_s_values_written_out_are_still_the_book_s_run() -> None:
    assert setup(CH7, shots=10, resnet_stages=2).results_name == "cifar"
    # None keeps the preset's value; the preset's own value is no change either.
    assert setup(CH4, cka_examples=None, cka_batch=None).results_name == "cifar"
    cifar = PRESETS["cifar"]
    assert setup(CH4, cka_examples=cifar.cka_examples).results_name == "cifar"
    assert setup(CH5, head_window=1 / 3).results_name == "cifar"
    # The paper preset's own sizes are the paper's, beyond what Imagenette's split holds: its
    # own values pass, a reader's larger one is refused.
    paper = PRESETS["paper"]
    assert setup(CH4, "paper", cka_examples=paper.cka_examples).results_name == "paper"
    with pytest.raises(ValueError, match="cka_examples=20000: imagenette holds at most 3925"):
        setup(CH4, "paper", cka_examples=20000)


@pytest.mark.parametrize("chapter, preset, knobs, name", [
    (CH7, "cifar", {"shots": 5}, "cifar~shots=5"),
    (CH7, "smoke", {"shots": 5}, "smoke~shots=5"),
    (CH7, "cifar", {"shots": 5, "resnet_stages": 1}, "cifar~resnet_stages=1,shots=5"),
    (CH5, "cifar", {"head_window": 0.25}, "cifar~head_window=0.25"),
    (CH5, "cifar", {"min_pooled_heads": 3}, "cifar~min_pooled_heads=3"),
    (CH4, "cifar", {"cka_examples": 512}, "cifar~cka_examples=512"),
    (CH4, "cifar", {"cka_examples": 512, "cka_batch": 128},
     "cifar~cka_batch=128,cka_examples=512"),
    (CH10, "smoke", {"estimator_batches": (8, 16)}, "smoke~estimator_batches=8-16"),
])
def test_a_changed_knob_gets_its_own_name(chapter: str, preset: str, knobs: dict,
                                          name: str) -> None:
    s = setup(chapter, preset, **knobs)
    assert s.results_name == name and not s.is_default
    assert s.preset.name == preset  # still the preset it started from
    for knob, value in knobs.items():
        if knob in s.preset.__dataclass_fields__:
            assert getattr(s.preset, knob) == value  # a Preset field overrides the preset
        else:
            assert s.knobs[knob] == value


def test_a_changed_preset_gets_its_own_name() -> None:
    s = setup(CH4, get_preset("cifar", cka_batch=128))
    assert s.results_name == "cifar~cka_batch=128" and s.preset.cka_batch == 128
    # Even a field the chapter offers no knob for: the results are not the book's.
    s = setup(CH7, get_preset("smoke", probe_test_examples=100))
    assert s.results_name == "smoke~probe_test_examples=100"


@pytest.mark.parametrize("chapter, knob", [(CH4, "shots"), (CH7, "cka_examples"),
                                           (CH7, "shot"), ("02_cka", "shots")])
def test_an_unknown_knob_is_a_type_error_naming_it(chapter: str, knob: str) -> None:
    with pytest.raises(TypeError, match=knob):
        setup(chapter, **{knob: 5})


def test_an_unknown_preset_is_named() -> None:
    with pytest.raises(ValueError, match="imagenet"):
        setup(CH4, "imagenet")


@pytest.mark.parametrize("chapter, knob, value", [
    (CH7, "shots", 0),
    (CH7, "shots", -1),
    (CH7, "shots", 2.5),
    (CH7, "shots", "5"),
    (CH7, "shots", True),
    (CH7, "resnet_stages", 0),
    (CH5, "head_window", 1.5),
    (CH5, "head_window", 0),
    (CH5, "head_window", -0.2),
    (CH5, "head_window", "1/3"),
    (CH5, "head_window", True),
    (CH5, "min_pooled_heads", 0.5),
    (CH4, "cka_examples", "64"),
    (CH4, "cka_examples", -5),
    (CH4, "cka_examples", True),
    (CH4, "cka_examples", 64.0),
    (CH4, "cka_batch", 2),
    (CH10, "estimator_repeats", 0),
    (CH10, "estimator_batches", (16, 8)),
])
def test_a_bad_value_is_an_error_naming_the_knob(chapter: str, knob: str, value: object) -> None:
    with pytest.raises((TypeError, ValueError), match=f"{knob}="):
        setup(chapter, **{knob: value})


def _claims(chapter: str, value: float) -> list[Claim]:
    decl = claims.Declaration("k", "Fig 11", "a statement", "Section 7", "a statistic", ">",
                              0.0, None, "why", "a control")
    return [decl.judge(chapter, claims.Measured(value))]


def test_write_claims_keeps_a_reader_s_run_apart(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(claims.RESULTS_ENV, str(tmp_path))
    book = setup(CH7, "cifar").write_claims(_claims(CH7, 0.5))
    assert book == claims.results_dir("cifar") / f"{CH7}.csv"
    before = book.read_bytes()
    mine = setup(CH7, "cifar", shots=5).write_claims(_claims(CH7, -1.0))
    assert mine == claims.results_dir("cifar~shots=5") / f"{CH7}.csv" == \
        tmp_path / "cifar~shots=5" / f"{CH7}.csv"
    assert book.read_bytes() == before  # the book's table is untouched
    assert sorted(p.name for p in claims.results_dir("cifar").iterdir()) == [f"{CH7}.csv"]
    assert list(claims.read_all("cifar").value) == [0.5]
    assert list(claims.read_all("cifar~shots=5").value) == [-1.0]
    with pytest.raises(ValueError, match="05_local_global"):
        setup(CH7, "cifar", shots=5).write_claims(_claims(CH5, 1.0))


def test_a_reader_s_run_on_a_fresh_folder_creates_no_book_results(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(claims.RESULTS_ENV, str(tmp_path))
    setup(CH7, "cifar", shots=5).write_claims(_claims(CH7, 1.0))
    assert not claims.results_dir("cifar").exists()
    assert claims.read_all("cifar").empty
