"""Small-cell suppression, rounding and release differencing for anonymized tallies (stdlib only).

This module knows nothing about the database: the tally service runs its ``GROUP BY`` queries and
hands the counts over; what comes back says, entry by entry, what may be published.

Public API
==========

``Line(key, label="", headcount=None)``
    A row or column of the table: a site or a department. ``key`` is the unit's stable code, the
    same in every release; ``headcount`` the organizers' estimate of the unit's size, or ``None``.

``tabulate(counts, rows, columns=None, *, threshold=10, min_unit_size=20, min_total=30,
rounding_base=5) -> Release``
    One table, checked on its own. ``counts`` maps ``row_key -> n`` (one dimension,
    ``columns=None``) or ``(row_key, column_key) -> n`` (two dimensions); a missing key counts 0,
    an unknown key is an error.

``check_against_previous(new_release, previous_releases) -> Release``
    The same table checked against every earlier release of it (the ledger, as ``Release``
    objects, e.g. rebuilt with ``Release.from_ledger``). Returns a safer release (more
    suppression) or one with ``deferred=True`` and a ``defer_reason``: that one must not be
    published at all (``to_dict()`` refuses).

``Release``
    ``entries`` (every cell and margin, as ``Entry``), ``get(row=None, column=None)``, ``total``,
    ``rows`` / ``columns`` (the lines shown, the merged "other" line last), ``merged_rows`` /
    ``merged_columns`` (units folded into "other"), ``deferred`` / ``defer_reason``,
    ``is_breakdown_published``, ``to_dict()`` (JSON for publication: no true count, coarse
    reasons), ``to_ledger()`` / ``Release.from_ledger(data)`` (server-side record WITH the true
    counts).

``Entry``
    ``kind`` (``cell``, ``row_total``, ``column_total``, ``total``), ``row``, ``column``,
    ``value`` (published rounded count, or ``None``), ``reason`` (why it is ``None``),
    ``percent``, ``public_reason``.

``round_to_base(n, base=5)``
    The rounding rule below.

In one dimension the units are ``cell`` entries (``column`` is ``None``) and the only margin is
the total. In two dimensions a row total has ``column=None``, a column total ``row=None``.

The pipeline
============

1. **Threshold.** ``k = max(threshold, 5)``: a campaign can raise it, nobody can lower it below 5.
2. **Small units are merged.** A unit whose headcount is known and below ``min_unit_size`` is
   folded, before anything else, into one ``"__other__"`` line per dimension (whose headcount is
   the sum of theirs). The merged units are listed with reason ``other``. An "other" line that is
   itself still below the minimum size is sensitive as a whole: all its entries are hidden
   (reason ``primary``).
3. **Minimum total.** When the grand total is below ``min_total`` nothing is broken down: only
   the total is published (rounded), every other entry has reason ``below_minimum_total``.
4. **Primary suppression.** An entry is sensitive when ``count < k`` (0 included: "nobody in this
   team signed" is as revealing as "one person did"), or when its unit's headcount is known and
   ``headcount - count < k`` (a unit of 25 where 25 signed, of 30 where 29 did). Headcounts are
   known for one-dimension units and for row / column totals; a two-dimension cell has none.
5. **Secondary suppression** (see "Why it is safe"): more entries, margins included, are hidden
   until no hidden entry can be recomputed from what is published.
6. **Rounding.** Every published count is rounded to the nearest multiple of ``rounding_base``
   (default 5; a half rounds up, which cannot happen with an odd base). Counts 1-4 are never
   published anyway since k >= 5. Margins and the total are computed from the TRUE counts and
   then rounded, so a published margin need not equal the sum of the published cells of its
   line: this is deliberate.
7. **Percentages** are given only for published entries whose unit headcount is known, computed
   from the *rounded* value (``round(100 * value / headcount)``, at most 100), so they reveal
   nothing the rounded value does not.

The grand total is always published (rounded): it is the petition's public count, shown elsewhere
anyway, so hiding it would protect nothing. Tabulate only sets of signatures whose total is public.

Why it is safe (single release)
===============================

Margins are entries of the table like any other, and can be hidden. Write a two-dimension table
with its margins as an (R+1) x (C+1) grid: cell (i, j) holds ``x[i][j]``, the margin column
``-row_total[i]``, the margin row ``-column_total[j]``, the corner the grand total; every line of
this grid sums to 0. Each entry is an edge between its row node and its column node of a
bipartite graph (one dimension: two nodes, each unit an edge between them). Published entries are
known; the hidden ones are unknowns whose sum around every node is known.

Adding +1 / -1 alternately around a cycle of hidden edges keeps every node sum, so it yields
another table consistent with everything published. The attacker also knows that counts are >= 0
and that a unit's total cannot exceed its headcount (taken as at least the true count, in case the
estimate is low), so a step is usable only if it keeps each count within those bounds. **A hidden
entry is protected when it lies on such a cycle in which every step stays within bounds**: then
it admits at least two values. For one release this test is exact (bounds on a network matrix:
the difference between two solutions decomposes into conformal cycles, the first of which is a
usable step), and it is checked with a reachability search in the graph of usable steps.

Secondary suppression: while some hidden entry is unprotected, find the cheapest chain of entries
that closes a usable cycle through it (Dijkstra, where an already hidden entry costs 0, a
published cell its count + 1 and a margin more than all cells together, so cells are sacrificed
first) and hide that chain. Every entry of the chain lies on the new cycle, so it is protected
too, and hiding more never unprotects anything: the loop ends with every hidden entry protected.
"Every line holds 0 or >= 2 hidden entries" follows, but is not the test: on its own it is not
enough (two hidden cycles joined by one hidden cell leave that cell computable). If a sensitive
entry cannot be protected even with everything else hidden, the public total and the headcounts
alone determine it; then only the total is published.

The attacker assumed here knows the TRUE value of every published entry (stronger than the
rounded values really published) and every unit headcount.

Releases over time (``check_against_previous``)
===============================================

A tally is published again and again; two releases together must not reveal what each hides. The
check needs the true counts of earlier releases, hence ``to_ledger()``.

* **Structure.** Releases are compared entry by entry, so they must have the same lines and the
  same merged units. Otherwise the new release is deferred (``structure_changed``): the tally
  service decides, explicitly, whether to start a new series.
* **Small differences** (the rule asked for, proved by construction): for every previous release
  and every entry published now, the difference between the true counts is 0 or at least ``k``
  (the largest threshold of the releases compared). An entry that moved by 1 to k-1 is hidden
  (reason ``release_difference``). The grand total cannot be hidden, so if it moved by 1 to k-1
  the release is deferred (``total_difference``): tallies refresh only once at least k
  signatures changed. Hence two releases that differ by one signature are never both published.
* **No recomputation across releases.** With two releases an attacker can reason on changes:
  "this row total did not move and signatures only accumulate, so none of its cells moved, so
  this cell hidden now is still the 12 published last time", which can make a partner useless and
  the cell it protects computable. The attacker assumed here knows, on top of the above, the TRUE
  value of everything published in every previous release and that no signature was withdrawn
  since (counts never decrease). A hidden entry is protected when it lies on a usable cycle of
  one of two kinds:

  - (A) a cycle of entries hidden now, where a step may only lower a count that grew since every
    previous release: the earlier tables stay exactly as they were and only the new one moves,
    so this holds even against an attacker who knows the earlier tables completely;
  - (B) a cycle of entries hidden now AND in every previous release, usable in each of them: all
    releases move together, so every change between releases stays the same.

  An entry hidden now whose count moved by 1 to k-1 since a previous release must be protected by
  a cycle of kind (A), which moves the change itself: so a small change stays hidden as well (the
  unit that received one signature cannot be told from another). Secondary suppression then runs
  as above over both kinds of cycles, starting again from the primary and release-difference
  entries (the right partners now depend on history). If some entry cannot be protected, only
  the total is published. A release that publishes only the total is checked for the total
  difference only: it says nothing the public count does not say.

Limits (known, accepted)
========================

* Guarantees are "at least two possible values", not wide intervals; rounding widens them.
* An attacker who knows this algorithm could reason on which entries it chose to hide; the public
  reasons are therefore coarsened: ``primary``, ``secondary`` and ``release_difference`` all read
  ``suppressed`` in ``to_dict()`` (saying "secondary" would say "this hidden count is >= k",
  saying "release_difference" would say "this count moved a little"). Keep ``Entry.reason`` off
  every page.
* The cross-release guarantee is proved for the attacker above (counts only grow); when
  signatures were withdrawn, the single-release guarantee still holds. Cycles of kind (A) and (B)
  are a sufficient condition, not a necessary one: the result may hide more than the minimum.
* Releases must be checked against ALL earlier releases of the same table, not only the latest.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

MIN_THRESHOLD = 5
DEFAULT_THRESHOLD = 10
DEFAULT_MIN_UNIT_SIZE = 20
DEFAULT_MIN_TOTAL = 30
DEFAULT_ROUNDING_BASE = 5

#: key of the line that gathers the units below the minimum size (input keys may not use it)
OTHER_KEY = "__other__"

CELL = "cell"
ROW_TOTAL = "row_total"
COLUMN_TOTAL = "column_total"
TOTAL = "total"

PRIMARY = "primary"
SECONDARY = "secondary"
OTHER = "other"
BELOW_MINIMUM_TOTAL = "below_minimum_total"
RELEASE_DIFFERENCE = "release_difference"
#: what the public output says for PRIMARY, SECONDARY and RELEASE_DIFFERENCE
SUPPRESSED = "suppressed"
PUBLIC_REASONS = {
    PRIMARY: SUPPRESSED,
    SECONDARY: SUPPRESSED,
    RELEASE_DIFFERENCE: SUPPRESSED,
    OTHER: OTHER,
    BELOW_MINIMUM_TOTAL: BELOW_MINIMUM_TOTAL,
}

DEFER_STRUCTURE_CHANGED = "structure_changed"
DEFER_TOTAL_DIFFERENCE = "total_difference"

LEDGER_FORMAT = 1
_TOTAL_KEY = (TOTAL, None, None)


@dataclass(frozen=True)
class Line:
    """A row or column of a tally: a unit (site or department), or the merged "other" line."""

    key: str
    label: str = ""
    #: organizers' estimate of the unit's size; None when unknown
    headcount: int | None = None

    def to_dict(self):
        return {"key": self.key, "label": self.label}


@dataclass(frozen=True)
class Entry:
    """One cell or margin of a release: its published value, or None and the reason why."""

    kind: str
    row: str | None
    column: str | None
    value: int | None
    reason: str | None = None
    percent: int | None = None

    @property
    def is_published(self):
        return self.value is not None

    @property
    def public_reason(self):
        """The reason that may be shown: primary, secondary and release difference look alike."""
        return None if self.reason is None else PUBLIC_REASONS[self.reason]

    @property
    def key(self):
        return (self.kind, self.row, self.column)

    def to_dict(self):
        return {
            "kind": self.kind, "row": self.row, "column": self.column,
            "value": self.value, "reason": self.public_reason, "percent": self.percent,
        }


@dataclass(frozen=True)
class Release:
    """A checked tally: what may be published, plus (privately) the true counts for the ledger."""

    rows: tuple[Line, ...]
    columns: tuple[Line, ...] | None
    merged_rows: tuple[Line, ...]
    merged_columns: tuple[Line, ...]
    entries: tuple[Entry, ...]
    threshold: int
    min_unit_size: int
    min_total: int
    rounding_base: int
    deferred: bool = False
    defer_reason: str | None = None
    #: true counts of the table's entries (merged units excluded): ledger only, never to a page
    _true_counts: Mapping = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_two_dimensional(self):
        return self.columns is not None

    def get(self, row=None, column=None):
        """The entry at (row, column): both for a cell, one for a line total, none for the total."""
        if row is not None and column is not None:
            kind = CELL
        elif row is not None:
            kind = ROW_TOTAL if self.is_two_dimensional else CELL
        elif column is not None:
            kind = COLUMN_TOTAL
        else:
            kind = TOTAL
        for entry in self.entries:
            if entry.key == (kind, row, column):
                return entry
        raise KeyError((row, column))

    @property
    def total(self):
        return self.get()

    @property
    def is_breakdown_published(self):
        return any(e.is_published for e in self.entries if e.kind != TOTAL)

    def to_dict(self):
        """What may be published (JSON-ready): rounded values, coarse reasons, no true count."""
        if self.deferred:
            raise ValueError("a deferred release must not be published")
        return {
            "dimensions": 2 if self.is_two_dimensional else 1,
            "threshold": self.threshold,
            "rounding_base": self.rounding_base,
            "rows": [line.to_dict() for line in self.rows],
            "columns": None if self.columns is None else [line.to_dict() for line in self.columns],
            "merged_rows": [line.to_dict() for line in self.merged_rows],
            "merged_columns": [line.to_dict() for line in self.merged_columns],
            "entries": [entry.to_dict() for entry in self.entries],
        }

    def to_ledger(self):
        """Server-side record of this release, TRUE counts included (needed by the next check).

        As sensitive as the signatures themselves: keep it out of exports, pages and logs.
        """
        if self.deferred:
            raise ValueError("a deferred release is not a release")

        def lines(items):
            return [{"key": x.key, "label": x.label, "headcount": x.headcount} for x in items]

        return {
            "format": LEDGER_FORMAT,
            "threshold": self.threshold,
            "min_unit_size": self.min_unit_size,
            "min_total": self.min_total,
            "rounding_base": self.rounding_base,
            "rows": lines(self.rows),
            "columns": None if self.columns is None else lines(self.columns),
            "merged_rows": lines(self.merged_rows),
            "merged_columns": lines(self.merged_columns),
            "entries": [
                {
                    "kind": e.kind, "row": e.row, "column": e.column, "value": e.value,
                    "reason": e.reason, "percent": e.percent,
                    "count": self._true_counts.get(e.key),
                }
                for e in self.entries
            ],
        }

    @classmethod
    def from_ledger(cls, data):
        """Rebuild a release recorded with ``to_ledger()``."""
        if data.get("format") != LEDGER_FORMAT:
            raise ValueError("unknown ledger format")

        def lines(items):
            return tuple(Line(x["key"], x.get("label", ""), x.get("headcount")) for x in items)

        entries, counts = [], {}
        for item in data["entries"]:
            entry = Entry(item["kind"], item["row"], item["column"], item["value"],
                          item["reason"], item["percent"])
            entries.append(entry)
            if item["count"] is not None:
                counts[entry.key] = int(item["count"])
        return cls(
            rows=lines(data["rows"]),
            columns=None if data["columns"] is None else lines(data["columns"]),
            merged_rows=lines(data["merged_rows"]),
            merged_columns=lines(data["merged_columns"]),
            entries=tuple(entries),
            threshold=int(data["threshold"]),
            min_unit_size=int(data["min_unit_size"]),
            min_total=int(data["min_total"]),
            rounding_base=int(data["rounding_base"]),
            _true_counts=counts,
        )

    def _structure(self):
        def keys(items):
            return None if items is None else frozenset(x.key for x in items)

        return (keys(self.rows), keys(self.columns), keys(self.merged_rows),
                keys(self.merged_columns))


# --- rounding and small helpers -------------------------------------------------------------------


def round_to_base(n, base=DEFAULT_ROUNDING_BASE):
    """Nearest multiple of ``base``; a half rounds up (impossible with an odd base)."""
    return (n + base // 2) // base * base


def _percent(value, headcount):
    if value is None or not headcount:
        return None
    return min(100, (200 * value + headcount) // (2 * headcount))


def _is_sensitive(count, headcount, k):
    return count < k or (headcount is not None and headcount - count < k)


def _check_count(n, what):
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{what} must be a non-negative integer")
    return n


# --- the table as a bipartite graph ---------------------------------------------------------------


class _Graph:
    """Entries of a table as edges between a row-side node ``u`` and a column-side node ``v``.

    ``sign`` is +1 for a cell, -1 for a margin, so that the signed values around every node sum to a
    known constant; ``upper`` is the count's upper bound (the unit's headcount, None if unknown).
    The grand total is an edge that can never be hidden.
    """

    def __init__(self, release):
        self.keys, self.u, self.v, self.sign, self.count, self.upper = [], [], [], [], [], []
        self.headcount = []
        counts = release._true_counts
        rows = release.rows
        if release.columns is None:
            for line in rows:
                self._add((CELL, line.key, None), "L", "R", +1, counts, line.headcount)
            self._add(_TOTAL_KEY, "L", "R", -1, counts, None)
        else:
            for line in rows:
                for col in release.columns:
                    self._add((CELL, line.key, col.key), ("r", line.key), ("c", col.key), +1,
                              counts, None)
            for line in rows:
                self._add((ROW_TOTAL, line.key, None), ("r", line.key), ("c", None), -1, counts,
                          line.headcount)
            for col in release.columns:
                self._add((COLUMN_TOTAL, None, col.key), ("r", None), ("c", col.key), -1, counts,
                          col.headcount)
            self._add(_TOTAL_KEY, ("r", None), ("c", None), +1, counts, None)
        self.index = {key: i for i, key in enumerate(self.keys)}
        self.total_index = self.index[_TOTAL_KEY]
        # hiding a cell costs its count + 1; a margin costs more than all the cells together, so
        # cells are sacrificed first (in one dimension every unit is a cell)
        cells = [i for i, key in enumerate(self.keys) if key[0] == CELL]
        cells_cost = sum(self.count[i] + 1 for i in cells)
        self.cost = [c + 1 if key[0] == CELL else cells_cost + c + 1
                     for c, key in zip(self.count, self.keys, strict=True)]

    def _add(self, key, u, v, sign, counts, headcount):
        count = counts[key]
        self.keys.append(key)
        self.u.append(u)
        self.v.append(v)
        self.sign.append(sign)
        self.count.append(count)
        self.headcount.append(headcount)
        # a wrong estimate below the true count would make the truth look impossible: the real
        # size is at least the count
        self.upper.append(None if headcount is None else max(headcount, count))

    def __len__(self):
        return len(self.keys)


def _within(value, low, high):
    return value >= low and (high is None or value <= high)


class _Mode:
    """Which hidden entries may form a protecting cycle, and which way each may step.

    A step "up" adds ``sign`` to the count (the edge is crossed from its row side to its column
    side), a step "down" subtracts it; a cycle alternates them, so every node sum is kept.
    """

    def __init__(self, graph, eligible, can_up, can_down):
        self.graph, self.eligible, self.can_up, self.can_down = graph, eligible, can_up, can_down
        self.arcs = {}
        for i in range(len(graph)):
            if not eligible[i] or i == graph.total_index:
                continue
            if can_up[i]:
                self.arcs.setdefault(graph.u[i], []).append((i, graph.v[i]))
            if can_down[i]:
                self.arcs.setdefault(graph.v[i], []).append((i, graph.u[i]))

    def _directions(self, i):
        g = self.graph
        if not self.eligible[i]:
            return []
        out = []
        if self.can_up[i]:
            out.append((g.v[i], g.u[i]))
        if self.can_down[i]:
            out.append((g.u[i], g.v[i]))
        return out

    def protects(self, i, hidden):
        """Whether hidden entry ``i`` lies on a usable cycle of hidden entries."""
        for start, goal in self._directions(i):
            seen, stack = {start}, [start]
            while stack:
                node = stack.pop()
                if node == goal:
                    return True
                for j, nxt in self.arcs.get(node, ()):
                    if j != i and j in hidden and nxt not in seen:
                        seen.add(nxt)
                        stack.append(nxt)
        return False

    def cheapest_cycle(self, i, hidden):
        """(cost, entries) of the cheapest chain closing a usable cycle through ``i``, or None."""
        cost, best = self.graph.cost, None
        for start, goal in self._directions(i):
            dist, prev, counter = {start: 0}, {}, 0
            heap = [(0, counter, start)]
            while heap:
                d, _, node = heapq.heappop(heap)
                if d > dist.get(node, d):
                    continue
                if node == goal:
                    break
                for j, nxt in self.arcs.get(node, ()):
                    if j == i:
                        continue
                    nd = d + (0 if j in hidden else cost[j])
                    if nd < dist.get(nxt, nd + 1):
                        dist[nxt] = nd
                        prev[nxt] = (node, j)
                        counter += 1
                        heapq.heappush(heap, (nd, counter, nxt))
            if goal in dist and (best is None or dist[goal] < best[0]):
                chain, node = [], goal
                while node != start:
                    node, j = prev[node]
                    chain.append(j)
                best = (dist[goal], chain)
        return best


def _plain_mode(graph, lower=None):
    """Steps allowed by the bounds of one release (counts >= ``lower`` or 0, <= headcount)."""
    n = len(graph)
    lower = lower or [0] * n
    can_up = [_within(graph.count[i] + graph.sign[i], lower[i], graph.upper[i]) for i in range(n)]
    can_down = [_within(graph.count[i] - graph.sign[i], lower[i], graph.upper[i]) for i in range(n)]
    return _Mode(graph, [True] * n, can_up, can_down)


def _protect(graph, hidden, reasons, modes_for):
    """Hide more entries until every hidden one is protected; False if one cannot be."""
    while True:
        added = False
        for i in sorted(hidden):
            modes = modes_for(i)
            if any(mode.protects(i, hidden) for mode in modes):
                continue
            options = [c for c in (mode.cheapest_cycle(i, hidden) for mode in modes) if c]
            if not options:
                return False
            _, chain = min(options, key=lambda c: (c[0], sorted(c[1])))
            new = [j for j in chain if j not in hidden]
            if not new:  # pragma: no cover - protects() and cheapest_cycle() disagree
                raise RuntimeError("suppression search is inconsistent")
            for j in new:
                hidden.add(j)
                reasons[j] = SECONDARY
            added = True
        if not added:
            return True


# --- building releases ----------------------------------------------------------------------------


def _validate_lines(lines, what):
    lines = tuple(lines)
    if not lines:
        raise ValueError(f"at least one {what} is needed")
    keys = set()
    for line in lines:
        if not isinstance(line, Line) or not isinstance(line.key, str) or not line.key:
            raise ValueError(f"each {what} must be a Line with a non-empty key")
        if line.key == OTHER_KEY:
            raise ValueError(f"{OTHER_KEY!r} is reserved")
        if line.key in keys:
            raise ValueError(f"duplicate {what} key {line.key!r}")
        if line.headcount is not None:
            _check_count(line.headcount, "headcount")
        keys.add(line.key)
    return lines


def _merge_small(lines, min_unit_size):
    """(lines shown, merged units, key -> line key shown)."""
    small = [x for x in lines if x.headcount is not None and x.headcount < min_unit_size]
    kept = [x for x in lines if x not in small]
    target = {x.key: x.key for x in kept}
    if small:
        kept.append(Line(OTHER_KEY, "", sum(x.headcount for x in small)))
        target.update({x.key: OTHER_KEY for x in small})
    return tuple(kept), tuple(small), target


def _finish(base, hidden_keys, reasons, deferred=False, defer_reason=None):
    """A release like ``base`` whose graph entries in ``hidden_keys`` are hidden for ``reasons``."""
    counts = base._true_counts
    two_d = base.columns is not None
    headcounts = {}
    for line in base.rows:
        key = (ROW_TOTAL, line.key, None) if two_d else (CELL, line.key, None)
        headcounts[key] = line.headcount
    for line in base.columns or ():
        headcounts[(COLUMN_TOTAL, None, line.key)] = line.headcount
    entries = []
    for entry in base.entries:
        key = entry.key
        if key not in counts:  # a merged unit
            entries.append(entry)
            continue
        if key in hidden_keys:
            entries.append(Entry(entry.kind, entry.row, entry.column, None, reasons[key]))
            continue
        value = round_to_base(counts[key], base.rounding_base)
        entries.append(Entry(entry.kind, entry.row, entry.column, value, None,
                             _percent(value, headcounts.get(key))))
    return Release(base.rows, base.columns, base.merged_rows, base.merged_columns, tuple(entries),
                   base.threshold, base.min_unit_size, base.min_total, base.rounding_base,
                   deferred, defer_reason, counts)


def tabulate(counts, rows, columns=None, *, threshold=DEFAULT_THRESHOLD,
             min_unit_size=DEFAULT_MIN_UNIT_SIZE, min_total=DEFAULT_MIN_TOTAL,
             rounding_base=DEFAULT_ROUNDING_BASE):
    """Check one table on its own and say what may be published (see the module docstring)."""
    k = max(MIN_THRESHOLD, int(threshold))
    min_unit_size, min_total = int(min_unit_size), int(min_total)
    rounding_base = int(rounding_base)
    if rounding_base < 1 or min_unit_size < 0 or min_total < 0:
        raise ValueError("rounding_base must be >= 1, minimums >= 0")
    rows = _validate_lines(rows, "row")
    two_d = columns is not None
    columns = _validate_lines(columns, "column") if two_d else None

    shown_rows, merged_rows, row_of = _merge_small(rows, min_unit_size)
    if two_d:
        shown_cols, merged_cols, col_of = _merge_small(columns, min_unit_size)
    else:
        shown_cols, merged_cols, col_of = None, (), {}

    true = {}
    if two_d:
        for r in shown_rows:
            for c in shown_cols:
                true[(CELL, r.key, c.key)] = 0
    else:
        for r in shown_rows:
            true[(CELL, r.key, None)] = 0
    for raw_key, n in dict(counts).items():
        n = _check_count(n, "a count")
        if two_d:
            if not (isinstance(raw_key, tuple) and len(raw_key) == 2):
                raise ValueError("two-dimension counts are keyed by (row_key, column_key)")
            r, c = raw_key
            if r not in row_of or c not in col_of:
                raise ValueError("a count refers to an unknown row or column")
            true[(CELL, row_of[r], col_of[c])] += n
        else:
            if raw_key not in row_of:
                raise ValueError("a count refers to an unknown row")
            true[(CELL, row_of[raw_key], None)] += n
    if two_d:
        for r in shown_rows:
            true[(ROW_TOTAL, r.key, None)] = sum(true[(CELL, r.key, c.key)] for c in shown_cols)
        for c in shown_cols:
            true[(COLUMN_TOTAL, None, c.key)] = sum(true[(CELL, r.key, c.key)] for r in shown_rows)
        true[_TOTAL_KEY] = sum(true[(ROW_TOTAL, r.key, None)] for r in shown_rows)
    else:
        true[_TOTAL_KEY] = sum(true[(CELL, r.key, None)] for r in shown_rows)

    entries = [Entry(*key, None) for key in true]
    if two_d:
        entries += [Entry(ROW_TOTAL, x.key, None, None, OTHER) for x in merged_rows]
        entries += [Entry(COLUMN_TOTAL, None, x.key, None, OTHER) for x in merged_cols]
    else:
        entries += [Entry(CELL, x.key, None, None, OTHER) for x in merged_rows]
    # the total last, as readers expect
    entries.sort(key=lambda e: e.kind == TOTAL)
    base = Release(shown_rows, shown_cols, merged_rows, merged_cols, tuple(entries), k,
                   min_unit_size, min_total, rounding_base, _true_counts=true)

    graph = _Graph(base)
    everything = {i for i in range(len(graph)) if i != graph.total_index}
    if true[_TOTAL_KEY] < min_total:
        return _finish(base, {graph.keys[i] for i in everything},
                       {graph.keys[i]: BELOW_MINIMUM_TOTAL for i in everything})

    reasons = {}
    for i in everything:
        key = graph.keys[i]
        too_small_other = OTHER_KEY in (key[1], key[2]) and _other_too_small(base, key)
        if too_small_other or _is_sensitive(graph.count[i], graph.headcount[i], k):
            reasons[i] = PRIMARY
    hidden = set(reasons)
    mode = _plain_mode(graph)
    if not _protect(graph, hidden, reasons, lambda i: [mode]):
        hidden = everything
        reasons = {i: reasons.get(i, SECONDARY) for i in everything}
    return _finish(base, {graph.keys[i] for i in hidden},
                   {graph.keys[i]: reasons[i] for i in hidden})


def _other_too_small(release, key):
    lines = [x for x in release.rows if x.key == key[1]]
    lines += [x for x in release.columns or () if x.key == key[2]]
    return any(x.key == OTHER_KEY and x.headcount < release.min_unit_size for x in lines)


def check_against_previous(new_table, previous_releases: Iterable[Release]):
    """Make ``new_table`` safe to publish after ``previous_releases`` (see the module docstring).

    Pass every earlier release of the same table (deferred ones are ignored). Returns a release
    with more suppression, or a deferred one (``deferred=True``, ``defer_reason`` set) that must
    not be published.
    """
    previous = [p for p in previous_releases if not p.deferred]
    if new_table.deferred or not previous:
        return new_table
    structure = new_table._structure()
    if any(p._structure() != structure for p in previous):
        return _deferred(new_table, DEFER_STRUCTURE_CHANGED)
    k = max([new_table.threshold] + [p.threshold for p in previous])
    counts = new_table._true_counts

    def moved_a_little(key):
        return any(0 < abs(counts[key] - p._true_counts[key]) < k for p in previous)

    if moved_a_little(_TOTAL_KEY):
        return _deferred(new_table, DEFER_TOTAL_DIFFERENCE)
    if not new_table.is_breakdown_published:
        return new_table

    graph = _Graph(new_table)
    n = len(graph)
    old_reason = {e.key: e.reason for e in new_table.entries}
    # start again from what is sensitive in itself: secondary choices now depend on history
    reasons = {i: PRIMARY for i in range(n) if old_reason.get(graph.keys[i]) == PRIMARY}
    for i in range(n):
        if i != graph.total_index and i not in reasons and moved_a_little(graph.keys[i]):
            reasons[i] = RELEASE_DIFFERENCE
    hidden = set(reasons)
    small_change = [moved_a_little(key) for key in graph.keys]

    # (A): earlier tables stay put; the new one cannot go below any earlier count
    floor = [max(p._true_counts[key] for p in previous) for key in graph.keys]
    mode_a = _plain_mode(graph, floor)
    # (B): entries hidden in every release, all moving together
    earlier = [(_Graph(p), {e.key for e in p.entries if not e.is_published}) for p in previous]
    eligible, can_up, can_down = [], [], []
    for i, key in enumerate(graph.keys):
        eligible.append(all(key in hid for _, hid in earlier))
        up = _within(graph.count[i] + graph.sign[i], 0, graph.upper[i])
        down = _within(graph.count[i] - graph.sign[i], 0, graph.upper[i])
        for g, _ in earlier:
            j = g.index[key]
            up = up and _within(g.count[j] + g.sign[j], 0, g.upper[j])
            down = down and _within(g.count[j] - g.sign[j], 0, g.upper[j])
        can_up.append(up)
        can_down.append(down)
    mode_b = _Mode(graph, eligible, can_up, can_down)

    def modes_for(i):
        return [mode_a] if small_change[i] else [mode_a, mode_b]

    everything = {i for i in range(n) if i != graph.total_index}
    if not _protect(graph, hidden, reasons, modes_for):
        hidden = everything
        reasons = {i: reasons.get(i, SECONDARY) for i in everything}
    return _finish(new_table, {graph.keys[i] for i in hidden},
                   {graph.keys[i]: reasons[i] for i in hidden})


def _deferred(release, reason):
    """The same table with nothing published: a deferred release is not shown at all."""
    keys = set(release._true_counts)
    return _finish(release, keys, {key: SECONDARY for key in keys}, True, reason)
