"""Edit and rebuild: how long a fork waits after changing a claim's bar and a plot colour.

Issue #10's measurement, on a checkout whose default book is built (``make book``):

1. the runner on an unchanged book (every chapter's stamp holds: nothing runs);
2. one claim bar changed (``LOWER_HALF_BAR`` in ``seelike/book/claims/ch04.py``) and one
   plot colour changed (the band colour of chapter 4's best-match figure); the runner
   re-executes the chapters whose source or imported code changed, reading every
   analysis from the results cache (the script checks that no result was computed);
3. the HTML build of the whole book after that edit;
4. both edits reverted and the book rebuilt (not timed), so the checkout is as it was.

``python benchmarks/bench_edit_rebuild.py [--out benchmarks/edit_rebuild.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EDITS = (
    (ROOT / "lib/seelike/book/claims/ch04.py", "LOWER_HALF_BAR = 0.35\n", "LOWER_HALF_BAR = 0.3\n"),
    (ROOT / "chapters/04_representation_structure.md",
     'ax.axhspan(0, 0.25, xmin=0, xmax=0.5, color="0.5"',
     'ax.axhspan(0, 0.25, xmin=0, xmax=0.5, color="0.7"'),
)
LINE = re.compile(r"^\[\d+/\d+\] (\S+) \(\S+\) (cached|[\d.]+ s)$", re.M)


def cache_files() -> int:
    folder = Path(os.environ.get("SEELIKE_CACHE", ROOT / "_build" / "cache"))
    return sum(1 for _ in folder.rglob("*.npz"))


def runner(*args: str) -> tuple[float, dict[str, str]]:
    """Seconds of ``python -m seelike.book.run --preset cifar ARGS`` and each chapter's line."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "seelike.book.run", "--preset", "cifar", *args],
                         cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if out.returncode:
        raise SystemExit(f"runner failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return seconds, dict(LINE.findall(out.stdout))


def edit(forward: bool) -> None:
    for path, old, new in EDITS:
        text = path.read_text()
        a, b = (old, new) if forward else (new, old)
        if a not in text:
            raise SystemExit(f"{path.name}: expected {a!r}; has the file changed?")
        path.write_text(text.replace(a, b, 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "edit_rebuild.json")
    args = parser.parse_args()
    unchanged, lines = runner()
    if any(v != "cached" for v in lines.values()):
        raise SystemExit(f"build the book first (make book): these chapters ran: {lines}")
    before = cache_files()
    edit(forward=True)
    try:
        edited, lines = runner()
        rerun = {k: v for k, v in lines.items() if v != "cached"}
        computed = cache_files() - before
        html, _ = runner("--build")
    finally:
        edit(forward=False)
    runner("--build")
    record = {
        "edits": [f"{p.relative_to(ROOT)}: {old.strip()!r} -> {new.strip()!r}"
                  for p, old, new in EDITS],
        "unchanged_book_seconds": round(unchanged, 1),
        "after_edit_execute_seconds": round(edited, 1),
        "chapters_re_executed": rerun,
        "results_computed": computed,
        "after_edit_html_build_seconds": round(html, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        "load_average_1min_after": round(os.getloadavg()[0], 1),
    }
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))
    return 0 if computed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
