"""Headless Chromium (Debian's, /usr/bin/chromium: `make chromium` installs it) for tests
that look at a page as a person would: a screenshot, and a check that it shows something."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
OUTPUT_DIR = REPO_ROOT / "test-output"  # kept after the run (ignored by git)


def chromium() -> str | None:
    return shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def screenshot(page: Path, out: Path, *, width: int = 1280, height: int = 4000, timeout_s: float = 120) -> Path:
    """A PNG of `page` (a local HTML file) as headless Chromium renders it, `width` x `height`."""
    browser = chromium()
    if browser is None:
        raise RuntimeError("chromium is not installed: run `make chromium` (Debian package chromium)")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="kafkalab-chromium-") as profile:
        command = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={width},{height}",
            f"--screenshot={out}", page.resolve().as_uri(),
        ]  # fmt: skip
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True, text=True,
        )  # fmt: skip
        try:
            output, _ = proc.communicate(timeout=timeout_s)
        finally:
            # Whatever happened, no browser process outlives the call: its helpers share
            # the process group it leads (start_new_session).
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    if not out.exists():
        raise RuntimeError(f"chromium wrote no screenshot (exit {proc.returncode}): {output[-500:]}")
    return out


def colored_share(png: Path) -> float:
    """Share of clearly coloured pixels (chart lines and bars; the page's own text and
    borders are black and grey)."""
    with Image.open(png) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    spread = pixels.max(axis=2) - pixels.min(axis=2)
    return float((spread > 60).mean())


def is_blank(png: Path) -> bool:
    """True when the image is a single colour (what a page that failed to render gives)."""
    with Image.open(png) as image:
        extrema = image.convert("RGB").getextrema()
    return all(low == high for low, high in extrema)
