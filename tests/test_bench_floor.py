"""The build-floor benchmark on the smoke preset: every scheduled pass is replayed and
timed, charged to the chapter that pays for it in a cold build, and set beside the build's
seconds of that chapter."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from seelike.book import schedule
from seelike.book.presets import get_preset

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_build_floor",
                                                  ROOT / "benchmarks" / "bench_build_floor.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Its dataclasses resolve their annotations through sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_scheduled_pass_gets_a_positive_floor_in_its_chapter(
        bench: ModuleType, mirror: Path, tmp_path: Path) -> None:
    # A build record of our own, so the test does not depend on a book having been built;
    # "intro" computes no pass, so it must come out with no floor and no ratio.
    build = {"intro": 2.0, "02_cka": 50.0, "07_localization": 40.0, "10_estimators": 8.0}
    record = tmp_path / "timings.json"
    record.write_text(json.dumps({"preset": "smoke", "chapters": build}))
    out = tmp_path / "floor.json"
    result = bench.main(["--preset", "smoke", "--device", "cpu", "--build-record", str(record),
                         "--note", "test", "--out", str(out), "--engine", "cka:0"])
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(result))
    assert written["note"] == "test" and written["preset"] == "smoke"
    assert {"cpus", "torch", "threads"} <= set(written["machine"])
    assert written["machine"]["threads"] >= 1
    assert isinstance(written["likely_shared"], bool)
    assert written["load_average_1min"]["most_after_a_pass"] == max(
        [written["load_average_1min"]["before"], *(x["load_1min"] for x in written["passes"])])

    p = get_preset("smoke")
    passes = written["passes"]
    assert [(x["purpose"], x["repeat"], x["shots"]) for x in passes] == [
        (purpose, r, q.probe_train_per_class) for q, purpose, r in schedule.schedule(p)]
    for x in passes:
        assert x["floor_seconds"] > 0 and x["seconds"]["forward"] > 0, x
        assert x["batch_size"] == schedule.batch_size(p, x["purpose"])
        assert x["floor_seconds"] == pytest.approx(sum(x["seconds"].values()), abs=0.01)
    # The CKA pass plans Fig 5's heads from the attention distances, so the chapter that
    # first asks for the CKA pass (Chapter 2) runs the attention pass too.
    charged = {(x["purpose"], x["repeat"]): x["chapter"] for x in passes}
    assert charged[("attention", 0)] == charged[("cka", 0)] == "02_cka"
    assert {x["chapter"] for x in passes if x["purpose"].startswith("probe")} == {
        "07_localization"}
    assert charged[("estimators", 0)] == "10_estimators"

    rows = {r["chapter"]: r for r in written["chapters"]}
    assert list(rows) == ["intro", "02_cka", "07_localization", "10_estimators"]  # book order
    assert set(rows) == set(build) | {x["chapter"] for x in passes}
    for chapter, row in rows.items():
        own = sum(x["floor_seconds"] for x in passes if x["chapter"] == chapter)
        assert row["floor_seconds"] == pytest.approx(own, abs=0.02)
        assert row["passes"] == sum(x["chapter"] == chapter for x in passes)
        if row["passes"]:
            assert row["floor_seconds"] > 0
            # The ratio is kept to two decimals: within 0.005 of the exact one at any load
            # (a relative tolerance fails on a busy machine, where floors grow and ratios
            # shrink towards that rounding).
            exact = build[chapter] / sum(x["floor_seconds"] for x in passes
                                         if x["chapter"] == chapter)
            assert row["ratio"] == pytest.approx(exact, abs=0.0051)
        else:
            assert row["floor_seconds"] == 0 and row["ratio"] is None
    total = written["total"]
    assert total["build_seconds"] == pytest.approx(sum(build.values()))
    assert total["floor_seconds"] == pytest.approx(sum(x["floor_seconds"] for x in passes),
                                                   abs=0.05)
    assert written["floor_parts"]["forward"] > 0 and written["floor_parts"]["probes"] > 0
    # --engine cka:0 ran that pass through the engine too, profiled, and no other.
    engine = {(x["purpose"], x["repeat"]): x["engine"] for x in passes if "engine" in x}
    assert list(engine) == [("cka", 0)]
    ran = engine[("cka", 0)]
    assert ran["forward_taps_grams"] > 0 and ran["wall_seconds"] >= ran["forward_taps_grams"]
    assert {"CKAAnalysis", "HeadSubsetCKA"} <= set(ran["analyses"])  # as declared
    with pytest.raises(SystemExit, match="fitted weights"):
        bench.main(["--preset", "smoke", "--device", "cpu", "--build-record", str(record),
                    "--out", str(tmp_path / "no.json"), "--engine", "probe_test:0"])
    with pytest.raises(SystemExit, match=r"not a scheduled pass; choose among .*cka:0"):
        bench.main(["--preset", "smoke", "--device", "cpu", "--build-record", str(record),
                    "--out", str(tmp_path / "no.json"), "--engine", "cka:9"])


def test_interleave_builds_every_page_in_order_and_each_chapter_just_before_its_floor(
        bench: ModuleType, mirror: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []

    def floor(x: Any, _nets: object, _device: object) -> dict[str, Any]:
        calls.append(("floor", x.chapter))
        return {"purpose": x.purpose, "repeat": x.repeat, "shots": 0, "chapter": x.chapter,
                "examples": 1, "batch_size": 1, "models": 1, "analyses": 1,
                "seconds": dict.fromkeys(bench.PARTS, 0.5), "floor_seconds": 3.0}

    def build(page: str) -> float:
        calls.append(("build", page))
        return 2.0

    monkeypatch.setattr(bench, "floor_of_pass", floor)
    monkeypatch.setattr(bench, "release_freed", lambda: calls.append(("release", "")))
    result = bench.run(get_preset("smoke"), shots=10, device=torch.device("cpu"), build={},
                       progress=False, build_chapter=build)
    order = bench.chapter_order()
    assert [page for kind, page in calls if kind == "build"] == order
    # Every page is built right after the floor's memory is handed back.
    assert all(calls[i - 1][0] == "release" for i, (kind, _) in enumerate(calls)
               if kind == "build")
    floors = [i for i, (kind, _) in enumerate(calls) if kind == "floor"]
    assert floors
    for i in floors:
        # The last page built before a pass's floor is the chapter that pays for the pass.
        assert [page for kind, page in calls[:i] if kind == "build"][-1] == calls[i][1]
    assert result["total"]["build_seconds"] == 2.0 * len(order)
    assert result["total"]["floor_seconds"] == 3.0 * len(floors)


def test_interleave_refuses_a_folder_that_is_no_fresh_checkout(bench: ModuleType,
                                                               tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="not a seelike checkout"):
        bench.InterleavedBuild(tmp_path, "smoke")
    (tmp_path / "lib" / "seelike").mkdir(parents=True)
    cache = tmp_path / "_build" / "cache" / "cka"
    cache.mkdir(parents=True)  # a results cache: the pages would not run cold
    with pytest.raises(SystemExit, match="fresh clone"):
        bench.InterleavedBuild(tmp_path, "smoke")
    cache.rmdir()
    executed = tmp_path / "_build" / "executed" / "smoke"
    executed.mkdir(parents=True)
    (executed / "timings.json").write_text("{}")
    with pytest.raises(SystemExit, match="fresh clone"):
        bench.InterleavedBuild(tmp_path, "smoke")


# A stand-in for the runner: records each page as executed (or, with --build, every page as
# cached), in the runner's timings.json; STUB_MODE makes it fail or re-execute on --build.
STUB_RUNNER = '''
import json, os, sys
from pathlib import Path
args = sys.argv[1:]
preset = args[args.index("--preset") + 1]
rest = [a for a in args if a not in ("--preset", preset)]
Path("env.json").write_text(json.dumps(dict(os.environ)))
if os.environ.get("STUB_MODE") == "fail":
    sys.exit(3)
path = Path("_build/executed") / preset / "timings.json"
data = json.loads(path.read_text()) if path.exists() else {"chapters": {}, "runs": {}}
again = os.environ.get("STUB_MODE") == "again"
for page in (list(data["runs"]) if rest == ["--build"] else rest):
    cached = rest == ["--build"] and not again
    data["runs"][page] = {"seconds": 1.5, "cached": cached}
    data["chapters"][page] = 1.5
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(json.dumps(data))
'''


@pytest.fixture
def stub_clone(bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    clone = tmp_path / "clone"
    (clone / "lib" / "seelike" / "book").mkdir(parents=True)
    (clone / "lib" / "seelike" / "__init__.py").write_text("")
    (clone / "lib" / "seelike" / "book" / "__init__.py").write_text("")
    (clone / "lib" / "seelike" / "book" / "run.py").write_text(STUB_RUNNER)
    monkeypatch.setattr(bench, "_commit", lambda _checkout: "abc1234")
    monkeypatch.setattr(bench, "_uncommitted", lambda _checkout: "")
    return clone


def test_interleaved_build_runs_each_page_in_the_clone_and_records_it(
        bench: ModuleType, stub_clone: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEELIKE_CACHE", str(stub_clone / "elsewhere"))
    monkeypatch.setenv("SEELIKE_RESULTS", str(stub_clone / "elsewhere"))
    builder = bench.InterleavedBuild(stub_clone, "smoke")
    assert builder("intro") == 1.5 and builder("02_cka") == 1.5
    env = json.loads((stub_clone / "env.json").read_text())
    # The clone's own code, cache and claims tables, whatever this shell points at.
    assert env["PYTHONPATH"] == str(stub_clone.resolve() / "lib")
    assert "SEELIKE_CACHE" not in env and "SEELIKE_RESULTS" not in env
    builder.html()
    record = builder.record({"intro": 1.5, "02_cka": 1.5}, "solo")
    assert record["total_seconds"] == 3.0 and record["commit"] == "abc1234"
    assert record["html_seconds"] is not None and record["interleaved"] is True
    assert record["wall_seconds_with_html"] >= 0 and record["peak_process_mib"] > 0
    assert record["command"].endswith("; solo")
    with pytest.raises(SystemExit, match="has a build already"):
        bench.InterleavedBuild(stub_clone, "smoke")


def test_interleaved_build_stops_on_a_failed_page_or_a_page_run_twice(
        bench: ModuleType, stub_clone: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The environment is read when the build starts.
    monkeypatch.setenv("STUB_MODE", "fail")
    with pytest.raises(SystemExit, match="runner failed on 02_cka"):
        bench.InterleavedBuild(stub_clone, "smoke")("02_cka")
    monkeypatch.setenv("STUB_MODE", "again")
    builder = bench.InterleavedBuild(stub_clone, "smoke")
    builder("intro")
    with pytest.raises(SystemExit, match=r"executed \['intro'\] again"):
        builder.html()


def test_interleave_refuses_a_clone_of_another_commit_or_a_changed_checkout(
        bench: ModuleType, stub_clone: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "_commit", lambda checkout: "abc1234" if checkout == bench.ROOT
                        else "def5678")
    with pytest.raises(SystemExit, match="clone this commit"):
        bench.InterleavedBuild(stub_clone, "smoke")
    monkeypatch.setattr(bench, "_commit", lambda _checkout: "abc1234")
    monkeypatch.setattr(bench, "_uncommitted", lambda _checkout: " M lib/seelike/cka.py")
    with pytest.raises(SystemExit, match="uncommitted changes"):
        bench.InterleavedBuild(stub_clone, "smoke")
    with pytest.raises(SystemExit):  # argparse: a floor of other shots than the build's
        bench.main(["--interleave", str(stub_clone), "--shots", "5"])
