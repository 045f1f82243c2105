"""A build's claims tables against the committed ones (``seelike.book.agreement`` and
``python -m seelike.book.publish compare``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from seelike.book import agreement, claims, publish, tally

TABLE = "07_localization.csv"


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """Two copies of the checkout's committed ``cifar`` tables: (build, committed)."""
    source = tally.committed_dir("cifar")
    built, committed = tmp_path / "build" / "cifar", tmp_path / "committed"
    for target in (built, committed):
        shutil.copytree(source, target, ignore=shutil.ignore_patterns(tally.PROVENANCE))
    return built, committed


def _edit(path: Path, column: str, row: int, change) -> str:
    """Rewrite one cell of a claims table; returns the row's key."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[row, column] = change(frame.loc[row, column])
    frame.to_csv(path, index=False)
    return frame.loc[row, "key"]


def test_the_same_tables_are_identical(folders: tuple[Path, Path]) -> None:
    found = agreement.compare(*folders)
    assert found and all(t.identical and t.agrees() for t in found)
    assert agreement.report(found).endswith("every table identical to the committed one")


def test_rounding_apart_is_told_from_other_results(folders: tuple[Path, Path]) -> None:
    built, committed = folders
    key = _edit(built / TABLE, "value", 0, lambda v: repr(float(v) * (1 + 3e-7)))
    seeds = _edit(built / TABLE, "seeds", 1,
                  lambda v: ", ".join(str(float(x) + 1e-9) for x in v.split(",")) if v else v)
    exact = {t.name: t for t in agreement.compare(built, committed)}
    table = exact[Path(TABLE).stem]
    assert not table.identical and not table.problems and not table.agrees()
    assert table.differing >= 1 and table.where_rel == f"{key}: value"
    assert table.largest_rel == pytest.approx(3e-7, rel=1e-3)
    assert "every verdict and text cell equal" in table.describe()
    assert all(t.identical for name, t in exact.items() if name != table.name)
    loose = agreement.compare(built, committed, rtol=1e-6)
    assert all(t.agrees() for t in loose), seeds
    assert "numbers within the tolerance" in agreement.report(loose)
    # A verdict that changed is a different result whatever the tolerance.
    changed = _edit(built / TABLE, "verdict", 0,
                    lambda v: "partly" if v != "partly" else "reproduced")
    table = {t.name: t for t in agreement.compare(built, committed, rtol=1.0)}[table.name]
    assert not table.agrees() and any(p.startswith(f"{changed}: verdict is ")
                                      for p in table.problems), table.problems


def test_a_table_on_one_side_only_or_reordered(folders: tuple[Path, Path]) -> None:
    built, committed = folders
    (built / TABLE).unlink()
    found = {t.name: t for t in agreement.compare(built, committed)}
    assert found[Path(TABLE).stem].problems == ("only in the committed results",)
    frame = pd.read_csv(committed / TABLE, dtype=str, keep_default_na=False)
    frame.iloc[::-1].to_csv(built / TABLE, index=False)
    found = {t.name: t for t in agreement.compare(built, committed)}
    assert "the rows differ" in found[Path(TABLE).stem].problems[0]
    with pytest.raises(ValueError, match="at least 0"):
        agreement.compare(built, committed, rtol=-1.0)
    with pytest.raises(ValueError, match="build the chapters first"):
        agreement.compare(built / "none", committed / "none")


def test_the_command_line_exit_status(folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    built, _ = folders
    monkeypatch.setenv(claims.RESULTS_ENV, str(built.parent))
    assert publish.main(["compare", "--preset", "cifar"]) == 0
    assert "identical" in capsys.readouterr().out
    _edit(built / TABLE, "value", 0, lambda v: repr(float(v) * (1 + 1e-9)))
    assert publish.main(["compare", "--preset", "cifar"]) == 1
    assert publish.main(["compare", "--preset", "cifar", "--rtol", "1e-8"]) == 0
    monkeypatch.setenv(claims.RESULTS_ENV, str(built.parent / "nowhere"))
    shutil.rmtree(built)
    assert publish.main(["compare", "--preset", "cifar"]) == 1  # every table missing here


def test_the_machine_names_its_processor() -> None:
    text = publish.machine()
    assert "(" in text and "CPUs" in text and "torch" in text


def test_infinities_nan_and_absolute_tolerance(folders: tuple[Path, Path]) -> None:
    built, committed = folders
    for folder in (built, committed):  # the same infinity on both sides agrees
        _edit(folder / TABLE, "value", 0, lambda v: "inf")
    assert all(t.identical or t.agrees() for t in agreement.compare(built, committed))
    key = _edit(built / TABLE, "value", 1, lambda v: "nan")
    table = {t.name: t for t in agreement.compare(built, committed, rtol=1.0)}[Path(TABLE).stem]
    assert not table.agrees() and table.largest_rel == float("inf")
    assert table.where_rel == f"{key}: value"
    shutil.copy(committed / TABLE, built / TABLE)
    _edit(built / TABLE, "value", 1, lambda v: repr(float(v) + 1e-7))
    assert not all(t.agrees() for t in agreement.compare(built, committed))
    assert all(t.agrees() for t in agreement.compare(built, committed, atol=2e-7))
    shutil.copy(built / TABLE, built / "12_new.csv")
    found = {t.name: t for t in agreement.compare(built, committed, atol=2e-7)}
    assert found["12_new"].problems == ("only in this build",)


def test_the_command_line_refuses_bad_tolerances(capsys: pytest.CaptureFixture[str]) -> None:
    assert publish.main(["compare", "--preset", "cifar", "--rtol", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("publish: ") and "at least 0" in err
