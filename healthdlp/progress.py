"""The CLI's one progress bar: ``[#####.....] 1,234/5,000 records`` on stderr.

Redrawn at most ten times a second so that a fast loop does not spend its time on the terminal;
``force`` draws regardless (the final state). Used by ``healthdlp eval`` (records scored) and
``healthdlp replay --since`` (Kafka records read, whose total can grow during the read).
"""

from __future__ import annotations

import time
from typing import IO


class ProgressBar:
    def __init__(self, out: IO[str], enabled: bool, width: int = 30, *, rate: bool = False) -> None:
        self.out, self.enabled, self.width, self.rate = out, enabled, width, rate
        self._t0 = time.monotonic()
        self._last = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last < 0.1):
            return
        self._last = now
        frac = done / total if total else 1.0
        fill = min(self.width, int(frac * self.width))
        line = f"\r[{'#' * fill}{'.' * (self.width - fill)}] {done:,}/{total:,} records"
        if self.rate:
            line += f"  {done / max(now - self._t0, 1e-9):,.0f}/s"
        self.out.write(line)
        self.out.flush()
        self._drawn = True

    def close(self) -> None:
        """End the bar's line (only if it drew anything)."""
        if self._drawn:
            self.out.write("\n")
            self.out.flush()
