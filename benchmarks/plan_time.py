"""Whole-process `python -m blueprints plan STACK --json` time per shipped stack.

Target: median under 2 s per stack on the 2-core reference machine. Run: `make benchmark`
(or `python benchmarks/plan_time.py [--runs N] [STACK ...]`). Prints a Markdown table.
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

from blueprints.stackfile import shipped_stacks  # noqa: E402

TARGET_SECONDS = 2.0


def time_plan(stack: str) -> tuple[float, int]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "blueprints", "plan", stack, "--json"],
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
    return 0 if worst < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
