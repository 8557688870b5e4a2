"""Whole-process `mlkit plan STACK --json` time per shipped stack, and all shipped stacks
planned in one process (`mlkit plan --all --json`).

Targets on the 2-core reference machine: median under 2 s per stack; in one process, under
1 s per stack after the first. Run: `make benchmark` (or
`python benchmarks/plan_time.py [--runs N] [STACK ...]`). Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlkit.stackfile import shipped_stacks  # noqa: E402

TARGET_SECONDS = 2.0
TARGET_EACH_AFTER_FIRST_SECONDS = 1.0


def time_plan(stack: str) -> tuple[float, int]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "mlkit", "plan", stack, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - start
    resources = [
        r
        for r in json.loads(result.stdout)["resources"]
        if r["custom"] and not r["type"].startswith("pulumi:providers:")
    ]
    return elapsed, len(resources)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="*", default=shipped_stacks())
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print("| stack | cloud resources | median s | min s | max s | target |")
    print("|---|---|---|---|---|---|")
    worst = 0.0
    for stack in args.stacks:
        print(f"  timing {stack} ({args.runs} runs)...", file=sys.stderr)
        runs = [time_plan(stack) for _ in range(args.runs)]
        times = [elapsed for elapsed, _ in runs]
        median = statistics.median(times)
        worst = max(worst, median)
        verdict = "ok" if median < TARGET_SECONDS else "SLOW"
        print(
            f"| {stack} | {runs[0][1]} | {median:.2f} | {min(times):.2f} | {max(times):.2f} "
            f"| {verdict} |"
        )
    all_ok = time_all_in_one_process(args.runs)
    return 0 if worst < TARGET_SECONDS and all_ok else 1


def time_all_in_one_process(runs: int) -> bool:
    """`plan --all` against `plan <first stack>`: the difference is what the other stacks
    cost once the imports are paid."""
    stacks = shipped_stacks()

    def elapsed(argv: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "mlkit", "plan", *argv, "--json"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        return time.perf_counter() - start

    print(f"  timing plan --all ({runs} runs)...", file=sys.stderr)
    first = statistics.median(elapsed([stacks[0]]) for _ in range(runs))
    everything = statistics.median(elapsed(["--all"]) for _ in range(runs))
    each = (everything - first) / max(len(stacks) - 1, 1)
    ok = each < TARGET_EACH_AFTER_FIRST_SECONDS
    print()
    print("| stacks in one process | median s | first stack s | each further stack s | target |")
    print("|---|---|---|---|---|")
    print(
        f"| {len(stacks)} | {everything:.2f} | {first:.2f} | {each:.2f} "
        f"| {'ok' if ok else 'SLOW'} |"
    )
    return ok


if __name__ == "__main__":
    sys.exit(main())
