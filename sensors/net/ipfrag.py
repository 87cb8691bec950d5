"""IPv4 and IPv6 fragment reassembly: bounded in bytes, datagrams and time; every loss counted.

Fragmentation is rare on a healthy network and common in evasion (overlapping fragments that
an IDS and the end host reassemble differently, "teardrop", tiny first fragments). So: overlaps
are resolved first-wins like TCP reassembly and counted (``ipfrag.overlap``, and
``ipfrag.overlap-conflict`` when the bytes differ); a datagram that would exceed 65,535 bytes is
dropped (``ipfrag.too-large``); incomplete datagrams time out (``ipfrag.timeout``, 30 s of
capture time, RFC 791's suggestion; RFC 8200 gives 60 s for IPv6 — we use the shorter for both);
and when the byte or datagram bound is hit the oldest datagram is dropped (``ipfrag.evicted``).
"""

from __future__ import annotations

from collections import Counter, OrderedDict

MAX_DATAGRAM = 65_535
#: Fragments one datagram may have (a peer sending 8-byte fragments gets 8,192 at most).
MAX_FRAGMENTS = 8192


class _Datagram:
    __slots__ = ("first_ts", "held", "parts", "total")

    def __init__(self, ts: float) -> None:
        self.first_ts = ts
        self.parts: dict[int, bytes] = {}
        self.total = -1  # known once the last fragment (MF = 0) arrived
        self.held = 0


class FragmentTable:
    """Datagrams under reassembly, oldest first."""

    def __init__(self, counters: Counter[str], *, max_bytes: int = 32 << 20, max_datagrams: int = 4096,
                 timeout: float = 30.0) -> None:
        self._c = counters
        self.max_bytes = max_bytes
        self.max_datagrams = max_datagrams
        self.timeout = timeout
        self.held = 0
        self._table: OrderedDict[tuple[object, ...], _Datagram] = OrderedDict()

    def __len__(self) -> int:
        return len(self._table)

    def add(self, ts: float, key: tuple[object, ...], offset: int, more: bool, data: bytes) -> bytes | None:
        """Add one fragment; the whole IP payload when this fragment completed its datagram."""
        c = self._c
        c["ipfrag.fragments"] += 1
        self.expire(ts)
        d = self._table.get(key)
        if d is None:
            d = self._table[key] = _Datagram(ts)
        end = offset + len(data)
        if end > MAX_DATAGRAM or len(d.parts) >= MAX_FRAGMENTS:
            c["ipfrag.too-large"] += 1
            self._drop(key)
            return None
        if not more:
            if d.total >= 0 and d.total != end:
                c["ipfrag.conflicting-end"] += 1
            if d.total < 0:
                d.total = end
        self._insert(d, offset, data)
        while self.held > self.max_bytes or len(self._table) > self.max_datagrams:
            old = next(iter(self._table))
            c["ipfrag.evicted"] += 1
            self._drop(old)
            if old == key:
                return None
        if d.total < 0:
            return None
        out = self._complete(d)
        if out is not None:
            self._drop(key)
            c["ipfrag.reassembled"] += 1
        return out

    def _insert(self, d: _Datagram, offset: int, data: bytes) -> None:
        pieces = [(offset, data)]
        for ps, pd in d.parts.items():
            pe = ps + len(pd)
            nxt: list[tuple[int, bytes]] = []
            for s, dd in pieces:
                e = s + len(dd)
                if e <= ps or s >= pe:
                    nxt.append((s, dd))
                    continue
                lo, hi = max(s, ps), min(e, pe)
                self._c["ipfrag.overlap"] += 1
                if dd[lo - s : hi - s] != pd[lo - ps : hi - ps]:
                    self._c["ipfrag.overlap-conflict"] += 1
                if s < ps:
                    nxt.append((s, dd[: ps - s]))
                if e > pe:
                    nxt.append((pe, dd[pe - s :]))
            pieces = nxt
            if not pieces:
                self._c["ipfrag.duplicate"] += 1
                return
        for s, dd in pieces:
            if dd:
                d.parts[s] = dd
                d.held += len(dd)
                self.held += len(dd)

    @staticmethod
    def _complete(d: _Datagram) -> bytes | None:
        at = 0
        out = []
        for s in sorted(d.parts):
            if s != at:
                return None
            pd = d.parts[s]
            out.append(pd)
            at += len(pd)
        if at != d.total:
            return None
        return b"".join(out)

    def _drop(self, key: tuple[object, ...]) -> None:
        d = self._table.pop(key, None)
        if d is not None:
            self.held -= d.held

    def expire(self, now: float) -> None:
        limit = now - self.timeout
        while self._table:
            key, d = next(iter(self._table.items()))
            if d.first_ts >= limit:
                return
            self._c["ipfrag.timeout"] += 1
            self._drop(key)

    def close(self) -> None:
        """End of input: what is still incomplete is lost, and counted."""
        if self._table:
            self._c["ipfrag.incomplete-at-end"] += len(self._table)
        self._table.clear()
        self.held = 0
