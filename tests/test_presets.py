"""seelike.book.presets: the three presets as data, resolved and validated in one place."""

from __future__ import annotations

import dataclasses

import pytest

from seelike.book import images
from seelike.book.presets import COUNTS, PRESETS, Preset, get_preset


def test_three_presets_with_cifar_the_default_in_every_chapter() -> None:
    assert set(PRESETS) == {"smoke", "cifar", "paper"}
    assert get_preset("cifar").dataset == "cifar10"
    assert get_preset("paper").image_size == 224
    assert all(p.name == name for name, p in PRESETS.items())


def test_unknown_preset_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="'smoke', 'cifar', 'paper'"):
        get_preset("imagenet")
    with pytest.raises(ValueError, match="unknown preset"):
        get_preset(None)  # type: ignore[arg-type]


def test_a_preset_passes_through_with_its_overrides() -> None:
    smoke = get_preset("smoke")
    assert get_preset(smoke) is smoke
    changed = get_preset(smoke, cka_examples=128)
    assert changed.cka_examples == 128 and changed.name == "smoke"
    assert get_preset(changed) is changed
    assert changed.overrides() == {"cka_examples": 128}
    assert smoke.overrides() == {}


def test_overrides_change_fields_and_reject_unknown_ones() -> None:
    base = get_preset("cifar")
    changed = get_preset("cifar", cka_batch=base.cka_batch // 2)
    assert changed.cka_batch == base.cka_batch // 2
    assert changed.cka_examples == base.cka_examples
    assert get_preset("cifar").cka_batch == base.cka_batch  # the registry is untouched
    with pytest.raises(TypeError, match="unknown preset fields"):
        get_preset("cifar", batch=3)
    # A list of minibatch sizes (what a YAML or JSON reader gives) becomes a tuple.
    assert get_preset("smoke", estimator_batches=[8, 16]).estimator_batches == (8, 16)


@pytest.mark.parametrize("field", COUNTS)
@pytest.mark.parametrize("value, error", [("64", TypeError), (64.0, TypeError),
                                          (True, TypeError), (None, TypeError),
                                          (0, ValueError), (-5, ValueError)])
def test_counts_must_be_positive_ints_named_in_the_error(field: str, value: object,
                                                         error: type[Exception]) -> None:
    with pytest.raises(error, match=f"{field}="):
        get_preset("smoke", **{field: value})


@pytest.mark.parametrize("overrides, match", [
    ({"cka_batch": 2}, "at least 4"),
    ({"estimator_batches": (2, 8)}, "at least 4"),
    ({"estimator_batches": (16, 8)}, "increasing"),
    ({"estimator_batches": ()}, "non-empty"),
    ({"estimator_batches": (8, 8.5)}, "estimator_batches="),
    ({"cka_examples": 16, "cka_batch": 32}, "less than one minibatch"),
])
def test_inconsistent_sizes_are_refused(overrides: dict, match: str) -> None:
    with pytest.raises((TypeError, ValueError), match=match):
        get_preset("smoke", **overrides)


def test_every_count_field_is_checked() -> None:
    ints = {f.name for f in dataclasses.fields(Preset) if f.type in ("int", int)}
    assert ints == set(COUNTS)


def test_probe_set_needs_a_preset_and_a_known_purpose() -> None:
    with pytest.raises(ValueError, match="valid: cka"):
        images.probe_set(get_preset("smoke"), "segmentation")
