"""A dependency-free progress line for long runs: percent, particle-steps/s, ETA.

It stays silent for the first `delay` seconds, so short runs print nothing.
"""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


class Progress:
    """`Progress(total, enabled)`; call `update(done)` with particle-steps done, then `close()`."""

    def __init__(self, total: float, enabled: bool = True, delay: float = 2.0,
                 label: str = "simulate", stream=None):
        self.total = max(float(total), 1.0)
        self.enabled = enabled
        self.delay = delay
        self.label = label
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self.shown = False

    def update(self, done: float) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        if elapsed < self.delay:
            return
        rate = done / max(elapsed, 1e-9)
        eta = (self.total - done) / rate if rate > 0 else float("inf")
        frac = min(done / self.total, 1.0)
        bar = "#" * int(30 * frac) + "." * (30 - int(30 * frac))
        self.stream.write(
            f"\r{self.label} [{bar}] {100 * frac:5.1f}%  {rate:.3g} particle-steps/s  "
            f"elapsed {_clock(elapsed)}  ETA {_clock(eta)} "
        )
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    if seconds == float("inf"):
        return "--:--"
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h:d}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"
