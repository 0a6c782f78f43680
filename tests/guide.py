"""The user's guide with real perf-tool output, shared by tests as a fixture text.

It lives outside the repository in `shared/seed/*.txt`, beside the clone (../shared) in CI
and at /work/shared next to /work/main here. We look in `shared/seed` beside the repository
root and beside each of its parents, so a checkout nested deeper (a worktree) finds it too.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
_GUIDE_MARK = "records sent"  # the guide is the seed text holding tool output


def _seed_dirs() -> list[Path]:
    return [base / "shared" / "seed" for base in REPO_ROOT.parents]


@cache
def guide_path() -> Path:
    searched = _seed_dirs()
    for seed in searched:
        for path in sorted(seed.glob("*.txt")):
            if _GUIDE_MARK in path.read_text(encoding="utf-8", errors="replace"):
                return path
    raise FileNotFoundError(
        "user's guide not found: expected a shared/seed/*.txt with perf-tool output beside "
        f"the repository (looked in {', '.join(str(s) for s in searched)}). "
        "Clone or copy the shared/ directory next to the repository."
    )


@cache
def guide_text() -> str:
    return guide_path().read_text(encoding="utf-8")


def guide_lines() -> list[str]:
    return guide_text().splitlines()


def records_sent_lines() -> list[str]:
    """Every line of real ProducerPerformance output in the guide."""
    return [line for line in guide_lines() if "records sent" in line]


def block_after(heading: str, *, count: int = 1) -> str:
    """The text of the `count`-th fenced block (```) after the first line containing `heading`."""
    lines = guide_lines()
    start = next(i for i, line in enumerate(lines) if heading in line)
    fences = [i for i in range(start, len(lines)) if lines[i].startswith("```")]
    opening = fences[2 * (count - 1)]
    closing = fences[2 * (count - 1) + 1]
    return "\n".join(lines[opening + 1 : closing])
