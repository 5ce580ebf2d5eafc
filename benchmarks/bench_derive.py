"""A cold ``closedloop derive`` of every family, this checkout against a baseline commit,
measured in one run, alternating.

    python benchmarks/bench_derive.py [--baseline 90383bc] [--rounds 3] [--workers N]

The baseline is checked out into a temporary git worktree and run from there
(``PYTHONPATH``); each run is ``python -m theory derive --no-pdf`` into a fresh folder with
an empty derivation cache (``THEORY_CACHE_DIR``), with its default workers unless
``--workers`` is given (the baseline may not have that option). Baseline and checkout
alternate, so a slow spell of a shared machine hits both; CPU time is user time of the run
and its worker processes (``resource.RUSAGE_CHILDREN``). Prints a Markdown table (the one in
docs/performance.md) and the ranges of the ratios baseline / checkout.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one_run(source: Path, workers: int | None) -> tuple[float, float]:
    """(CPU s, wall s) of one cold derive with the package at ``source``."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONPATH=str(source), THEORY_CACHE_DIR=str(Path(tmp) / "cache"))
        cmd = [sys.executable, "-m", "theory", "derive", "--no-pdf", "--out", str(Path(tmp) / "out")]
        if workers:
            cmd += ["--workers", str(workers)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
        start = time.perf_counter()
        done = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"{' '.join(cmd)} (PYTHONPATH={source}) failed:\n{done.stderr}")
        wall = time.perf_counter() - start
        return resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - before, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="90383bc", help="commit to compare with (default: 90383bc)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="workers for this checkout (default: its own)")
    args = parser.parse_args()
    if args.rounds < 1 or (args.workers is not None and args.workers < 1):
        parser.error("--rounds and --workers must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "baseline"
        added = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(old),
                                args.baseline], capture_output=True, text=True, check=False)
        if added.returncode:
            raise SystemExit(f"bench_derive: cannot check out {args.baseline!r}: {added.stderr.strip().splitlines()[-1]}")
        try:
            runs = {"baseline": [], "now": []}
            for r in range(args.rounds):
                runs["baseline"].append(one_run(old, None))
                runs["now"].append(one_run(ROOT, args.workers))
                print(f"round {r + 1}: baseline {runs['baseline'][-1]}, now {runs['now'][-1]}", file=sys.stderr)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False)
            subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=False)

    def span(values, fmt="{:.1f}"):
        return f"{fmt.format(min(values))}–{fmt.format(max(values))}"

    print("| commit | CPU s | wall s |\n|---|---|---|")
    for name, label in (("baseline", args.baseline), ("now", "this checkout")):
        print(f"| {label} | {span([c for c, _ in runs[name]])} | {span([w for _, w in runs[name]])} |")
    cpu = [b[0] / n[0] for b in runs["baseline"] for n in runs["now"]]
    wall = [b[1] / n[1] for b in runs["baseline"] for n in runs["now"]]
    print(f"\nbaseline / now: CPU {span(cpu, '{:.2f}')}x, wall {span(wall, '{:.2f}')}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
