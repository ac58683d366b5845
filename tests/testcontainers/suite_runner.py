"""Runs a pytest suite in a subprocess, as its user would, and reads its outcome."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
# A whole suite (a cluster or containers started, then its tests) on a busy 2-core machine.
SUITE_TIMEOUT_S = 900


@dataclass(frozen=True)
class SuiteOutcome:
    returncode: int
    counts: dict[str, int]  # passed, failed, skipped, error, ...
    output: str


def run_suite(
    directory: Path, env: dict[str, str], *args: str, timeout_s: float = SUITE_TIMEOUT_S - 60
) -> SuiteOutcome:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_", "STRATA_TEST_TARGET"))
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", *args],
        cwd=directory,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    output = result.stdout + result.stderr
    # pytest's closing line is the last of its standard output (warnings may follow on stderr).
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    counts = {word: int(number) for number, word in re.findall(r"(\d+) (\w+)", summary)}
    return SuiteOutcome(result.returncode, counts, output)
