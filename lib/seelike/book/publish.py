"""Committing a build's results as data, safely, and the command line that does it.

``update`` copies this build's claims tables of a preset into ``data/results/<preset>``
with a ``provenance.json`` (commit, date, machine, every file's sha256) and re-renders the
README's block. Nothing is written until every table has been read back and checked
against its declarations (:func:`seelike.book.claims.check.departures`); the new folder
is assembled beside the old one and swapped in whole, so an error leaves ``data/results``
and the README as they were. A build of some chapters only is merged with the committed
tables of the others (each file's provenance says which build wrote it), never allowed to
drop them::

    python -m seelike.book.publish update --preset cifar   # commit this build's cifar results
    python -m seelike.book.publish readme                  # re-render the README block
    python -m seelike.book.publish check                   # non-zero if the block is stale
    python -m seelike.book.publish compare --preset cifar  # this build against the committed

``compare`` (:mod:`seelike.book.agreement`) says whether a rebuild reproduced the committed
tables byte for byte, or with every verdict equal and numbers apart by rounding, or not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from seelike import __version__
from seelike.book import agreement, claims, readme, tally
from seelike.book.claims.check import departures
from seelike.config import repo_root
from seelike.io import atomic_write_text

__all__ = ["PublishError", "machine", "main", "update"]


class PublishError(ValueError):
    """This build's results cannot be committed: what is wrong and how to fix it."""


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=repo_root(), capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def _processor() -> str:
    """The CPU's model name, which decides the floating-point kernels torch runs."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown processor"


def machine() -> str:
    """This machine in words: architecture and processor, CPUs, OS, Python, torch."""
    try:
        torch = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch = "not installed"
    return (f"{platform.machine()} ({_processor()}), {os.cpu_count()} CPUs, "
            f"{platform.system()}, Python {platform.python_version()}, torch {torch}")


def _stamp(path: Path) -> str:
    """When the chapter wrote ``path`` (UTC)."""
    stamp = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
    return stamp.isoformat(timespec="seconds")


def update(preset: str, root: Path | None = None, readme_path: Path | None = None,
           machine_text: str | None = None) -> Path:
    """Commit this build's results of ``preset`` as data, with provenance; re-render the README.

    Raises :class:`PublishError` (and writes nothing) when the preset is not reported, the
    build wrote no table, or any table is not a claims table or departs from its
    declarations.
    """
    if preset not in tally.REPORTED:
        raise PublishError(f"only {', '.join(tally.REPORTED)} results are committed; "
                           f"{preset!r} verdicts test the code path, not the paper")
    source = claims.results_dir(preset)
    built = sorted(source.glob("*.csv")) if source.is_dir() else []
    if not built:
        raise PublishError(f"no results in {source}: run "
                           f"`python -m seelike.book.run --preset {preset}` first")
    try:
        frame = claims.read_folder(source)
    except claims.TableError as err:
        raise PublishError(f"{err}; nothing was committed") from None
    wrong = departures(frame)
    if wrong:
        raise PublishError("the build's tables depart from their declarations, nothing was "
                           "committed: " + "; ".join(wrong))
    target = tally.committed_dir(preset, root)
    old = tally.read_committed(preset, root)
    old_files = dict(old.provenance.get("files", {})) if old.run else {}
    readme_path = readme_path or repo_root() / "README.md"
    commit = _git("rev-parse", "HEAD")
    dirty = _git("status", "--porcelain", "--", "lib", "chapters", "data/weights") != ""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{preset}-") as scratch:
        staged = Path(scratch) / preset
        staged.mkdir()
        files: dict[str, dict[str, str]] = {}
        kept = [p for p in sorted(target.glob("*.csv")) if p.name not in {b.name for b in built}]
        for path in kept:  # chapters this build did not run keep their committed tables
            shutil.copy2(path, staged / path.name)
            files[path.name] = old_files.get(path.name, {}) | {"sha256": readme.sha256(path)}
        for path in built:
            shutil.copy2(path, staged / path.name)
            files[path.name] = {"sha256": readme.sha256(path), "written": _stamp(path),
                                "commit": commit}
        try:
            claims.read_folder(staged)
        except claims.TableError as err:
            raise PublishError(f"the committed tables kept beside this build do not read "
                               f"back ({err}); rebuild every chapter") from None
        provenance = {
            "preset": preset, "commit": commit, "dirty": dirty,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": f"python -m seelike.book.run --preset {preset}",
            "machine": machine_text or machine(), "seelike_version": __version__,
            "files": dict(sorted(files.items())),
        }
        atomic_write_text(staged / tally.PROVENANCE, json.dumps(provenance, indent=1) + "\n")
        # The README is rendered from the staged folder before anything is swapped.
        shadow = Path(scratch) / "results"
        shadow.mkdir()
        for other in tally.REPORTED:
            if other != preset and tally.committed_dir(other, root).is_dir():
                shutil.copytree(tally.committed_dir(other, root), shadow / other)
        shutil.copytree(staged, shadow / preset)
        block_old = readme.readme_block(readme_path)
        block_new = readme.render_readme(shadow)
        retired = Path(scratch) / "retired"
        if target.exists():
            target.rename(retired)
        staged.rename(target)
    if block_old != block_new:
        atomic_write_text(readme_path, readme_path.read_text().replace(block_old, block_new, 1))
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seelike.book.publish", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("update", help="commit this build's results of a preset as data")
    up.add_argument("--preset", default="cifar", choices=tally.REPORTED)
    up.add_argument("--machine", help="describe the machine that ran the chapters "
                                      "(default: this one)")
    commands.add_parser("readme", help="re-render README's block from data/results")
    commands.add_parser("check", help="exit 1 if README's block or data/results is stale")
    cmp = commands.add_parser("compare", help="this build's results against the committed; "
                                              "exit 1 unless they agree")
    cmp.add_argument("--preset", default="cifar", choices=tally.REPORTED)
    cmp.add_argument("--rtol", type=float, default=0.0,
                     help="relative tolerance of numbers (default 0: equal)")
    cmp.add_argument("--atol", type=float, default=0.0,
                     help="absolute tolerance of numbers (default 0)")
    args = parser.parse_args(argv)
    path = repo_root() / "README.md"
    if args.command == "update":
        try:
            target = update(args.preset, readme_path=path, machine_text=args.machine)
        except (PublishError, ValueError, OSError) as err:
            print(f"publish: {err}", file=sys.stderr)
            return 2
        print(f"{target}: {len(list(target.glob('*.csv')))} chapters; README block rendered")
    elif args.command == "compare":
        try:
            found = agreement.compare(claims.results_dir(args.preset),
                                      tally.committed_dir(args.preset), args.rtol, args.atol)
        except ValueError as err:
            print(f"publish: {err}", file=sys.stderr)
            return 2
        print(agreement.report(found))
        return 0 if all(t.agrees() for t in found) else 1
    elif args.command == "readme":
        print("README block " + ("rewritten" if readme.write_readme(path) else "already current"))
    else:
        found = readme.problems(path)
        for line in found:
            print(line, file=sys.stderr)
        if found:
            return 1
        print("scorecard: README block and data/results agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
