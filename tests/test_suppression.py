"""Anonymized tallies cannot single anyone out: suppression, rounding, merging, differencing.

The property tests do not trust the algorithm's own reasoning: they rebuild, from the raw counts
and what a release publishes, the equations an attacker can write (every line of the table adds
up, counts are >= 0, a unit's total is <= its headcount; with a previous release, counts never
decrease between the two) and solve them with an independent exhaustive search (bounds
propagation + branching), using the TRUE values of every published entry: the strongest attacker,
since real publications are rounded.
"""

import json

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from campaign.services.suppression import (
    BELOW_MINIMUM_TOTAL,
    CELL,
    COLUMN_TOTAL,
    DEFER_STRUCTURE_CHANGED,
    DEFER_TOTAL_DIFFERENCE,
    MIN_THRESHOLD,
    OTHER,
    OTHER_KEY,
    PRIMARY,
    RELEASE_DIFFERENCE,
    ROW_TOTAL,
    SECONDARY,
    SUPPRESSED,
    TOTAL,
    Line,
    Release,
    check_against_previous,
    tabulate,
)

# --- an independent attacker: integer constraint solving by exhaustive search ------------------


class OutOfBudget(Exception):
    pass


class Solver:
    """Integer unknowns with bounds and linear constraints ``sum(coef * var) <= rhs``.

    The search is exhaustive: bounds propagation prunes, branching on an unknown explores every
    value left, and a branch succeeds only once every unknown is fixed and every constraint holds.
    Branches try each unknown's true value first, then values further from it, so the nearby second
    solution an attacker would need is found in few steps. A budget of search nodes keeps a
    pathological case from hanging: running out counts as "no other value", which FAILS the test.
    """

    BUDGET = 20_000

    def __init__(self):
        self.lo, self.hi, self.hint, self.constraints = [], [], [], []

    def var(self, lo, hi, hint):
        self.lo.append(lo)
        self.hi.append(hi)
        self.hint.append(hint)
        return len(self.lo) - 1

    def le(self, terms, rhs):
        self.constraints.append(([(v, c) for v, c in terms if c], rhs))

    def eq(self, terms, rhs):
        self.le(terms, rhs)
        self.le([(v, -c) for v, c in terms], -rhs)

    def any_feasible(self, alternatives):
        """Whether one of the alternatives (lists of extra constraints) has an integer solution."""
        pending = list(alternatives)
        budget = 64
        while pending and budget <= self.BUDGET:
            for extra in list(pending):
                try:
                    if self._start(extra, budget):
                        return True
                    pending.remove(extra)  # proved impossible
                except OutOfBudget:
                    pass
            budget *= 4
        return False

    def _start(self, extra, budget):
        constraints = self.constraints + list(extra)
        watch = [[] for _ in self.lo]
        for index, (terms, _) in enumerate(constraints):
            for v, _ in terms:
                watch[v].append(index)
        self._left = budget
        return self._search(list(self.lo), list(self.hi), constraints, watch)

    @staticmethod
    def _propagate(lo, hi, constraints, watch):
        queue, queued = list(range(len(constraints))), set(range(len(constraints)))
        steps = 0
        while queue and steps < 40 * len(constraints):
            steps += 1
            index = queue.pop()
            queued.discard(index)
            terms, rhs = constraints[index]
            low = sum(c * (lo[v] if c > 0 else hi[v]) for v, c in terms)
            if low > rhs:
                return False
            for v, c in terms:
                room = rhs - (low - c * (lo[v] if c > 0 else hi[v]))
                if c > 0 and room // c < hi[v]:
                    hi[v] = room // c
                elif c < 0 and -(room // -c) > lo[v]:
                    lo[v] = -(room // -c)
                else:
                    continue
                if lo[v] > hi[v]:
                    return False
                for other in watch[v]:
                    if other not in queued:
                        queued.add(other)
                        queue.append(other)
        return True  # a slow ping-pong is cut short: branching carries on soundly

    def _search(self, lo, hi, constraints, watch):
        self._left -= 1
        if self._left < 0:
            raise OutOfBudget
        if not self._propagate(lo, hi, constraints, watch):
            return False
        free = [v for v in range(len(lo)) if lo[v] < hi[v]]
        if not free:
            return all(sum(c * lo[v] for v, c in terms) <= rhs for terms, rhs in constraints)
        v = min(free, key=lambda x: hi[x] - lo[x])
        near = min(max(self.hint[v], lo[v]), hi[v])
        for a, b in ((near, near), (lo[v], near - 1), (near + 1, hi[v])):
            if a > b:
                continue
            lo2, hi2 = list(lo), list(hi)
            lo2[v], hi2[v] = a, b
            if self._search(lo2, hi2, constraints, watch):
                return True
        return False


# --- the table as the test sees it (recomputed from raw counts, not read from the module) ---------


class Table:
    """Raw input of a tally, and what it looks like after merging the small units into "other"."""

    def __init__(self, counts, rows, columns, threshold, min_unit_size, min_total):
        self.counts, self.rows, self.columns = counts, rows, columns
        self.threshold, self.min_unit_size, self.min_total = threshold, min_unit_size, min_total
        self.k = max(5, threshold)
        self.row_lines, self.row_of = self._merge(rows)
        self.col_lines, self.col_of = self._merge(columns) if columns is not None else (None, {})

    def _merge(self, lines):
        small = [x for x in lines if x.headcount is not None and x.headcount < self.min_unit_size]
        shown = [(x.key, x.headcount) for x in lines if x not in small]
        of = {x.key: x.key for x in lines if x not in small}
        if small:
            shown.append((OTHER_KEY, sum(x.headcount for x in small)))
            of.update({x.key: OTHER_KEY for x in small})
        return shown, of

    def release(self):
        return tabulate(self.counts, self.rows, self.columns, threshold=self.threshold,
                        min_unit_size=self.min_unit_size, min_total=self.min_total)

    def true_values(self):
        """{(kind, row, column): true count} after merging."""
        values = {}
        if self.columns is None:
            for key, _ in self.row_lines:
                values[(CELL, key, None)] = 0
            for raw, n in self.counts.items():
                values[(CELL, self.row_of[raw], None)] += n
            values[(TOTAL, None, None)] = sum(values.values())
            return values
        for r, _ in self.row_lines:
            for c, _ in self.col_lines:
                values[(CELL, r, c)] = 0
        for (r, c), n in self.counts.items():
            values[(CELL, self.row_of[r], self.col_of[c])] += n
        for r, _ in self.row_lines:
            values[(ROW_TOTAL, r, None)] = sum(values[(CELL, r, c)] for c, _ in self.col_lines)
        for c, _ in self.col_lines:
            values[(COLUMN_TOTAL, None, c)] = sum(values[(CELL, r, c)] for r, _ in self.row_lines)
        values[(TOTAL, None, None)] = sum(self.counts.values())
        return values

    def upper_bounds(self):
        """What the attacker knows of each entry's maximum: its unit's headcount."""
        if self.columns is None:
            return {(CELL, key, None): h for key, h in self.row_lines}
        bounds = {(ROW_TOTAL, key, None): h for key, h in self.row_lines}
        bounds.update({(COLUMN_TOTAL, None, key): h for key, h in self.col_lines})
        return bounds

    def lines(self):
        """Each line of the table as (entries added, entry subtracted): they must balance."""
        total = (TOTAL, None, None)
        if self.columns is None:
            return [([(CELL, key, None) for key, _ in self.row_lines], total)]
        out = []
        for r, _ in self.row_lines:
            out.append(([(CELL, r, c) for c, _ in self.col_lines], (ROW_TOTAL, r, None)))
        for c, _ in self.col_lines:
            out.append(([(CELL, r, c) for r, _ in self.row_lines], (COLUMN_TOTAL, None, c)))
        out.append(([(ROW_TOTAL, r, None) for r, _ in self.row_lines], total))
        out.append(([(COLUMN_TOTAL, None, c) for c, _ in self.col_lines], total))
        return out


def add_table(solver, table, published):
    """Unknowns for one release's hidden entries; published ones are known exactly (true values)."""
    values = table.true_values()
    bounds = table.upper_bounds()
    ceiling = values[(TOTAL, None, None)]
    terms = {}
    for key, value in values.items():
        if key in published:
            terms[key] = (None, value)
        else:
            high = ceiling if bounds.get(key) is None else min(ceiling, bounds[key])
            terms[key] = (solver.var(0, high, value), 0)
    for added, subtracted in table.lines():
        parts = [(key, 1) for key in added] + [(subtracted, -1)]
        variables = [(terms[key][0], c) for key, c in parts if terms[key][0] is not None]
        constant = sum(c * terms[key][1] for key, c in parts if terms[key][0] is None)
        solver.eq(variables, -constant)
    return terms


def published_keys(release):
    return {e.key for e in release.entries if e.is_published}


def other_value_possible(solver, terms, key, value):
    """Whether the unknown for ``key`` can take a value other than ``value``."""
    var = terms[key][0]
    return solver.any_feasible([[([(var, 1)], value - 1)], [([(var, -1)], -value - 1)]])


def single_solver(table, published):
    solver = Solver()
    return solver, add_table(solver, table, published)


def determined_by_total_alone(table):
    """Entries the public total and the headcounts alone pin down (nothing can protect them)."""
    solver, terms = single_solver(table, {(TOTAL, None, None)})
    values = table.true_values()
    return {key for key in values if key[0] != TOTAL
            and not other_value_possible(solver, terms, key, values[key])}


def assert_single_release_safe(table, release):
    values = table.true_values()
    published = published_keys(release)
    for key in published:
        entry = release.get(key[1], key[2])
        assert entry.value == (values[key] + 2) // 5 * 5, "published values are rounded true counts"
    solver, terms = single_solver(table, published)
    for key in values:
        if key in published or other_value_possible(solver, terms, key, values[key]):
            continue
        # only the public total and the headcounts pin it down: nothing could have protected it
        assert not release.is_breakdown_published, f"hidden {key} = {values[key]} recomputed"


# --- strategies ----------------------------------------------------------------------------------

small_or_any = st.one_of(st.integers(0, 12), st.integers(0, 60))


@st.composite
def grids(draw, max_increment=None):
    """Random small 2-D tables (2-4 x 2-4, counts 0..60), headcounts, k, minimums.

    With ``max_increment``, also a later table where counts only grew (some cells by 0).
    """
    n_rows, n_cols = draw(st.integers(2, 4)), draw(st.integers(2, 4))
    row_keys = [f"s{i}" for i in range(n_rows)]
    col_keys = [f"d{j}" for j in range(n_cols)]
    counts = {(r, c): draw(small_or_any) for r in row_keys for c in col_keys}
    later = None
    if max_increment is not None:
        grow = st.one_of(st.just(0), st.just(0), st.integers(1, max_increment))
        later = {key: n + draw(grow) for key, n in counts.items()}
    final = later or counts

    def lines(keys, margin):
        out = []
        for key in keys:
            known = draw(st.booleans())
            slack = draw(st.one_of(st.integers(0, 12), st.integers(0, 40)))
            out.append(Line(key, key.upper(), margin(key) + slack if known else None))
        return out

    rows = lines(row_keys, lambda r: sum(final[(r, c)] for c in col_keys))
    cols = lines(col_keys, lambda c: sum(final[(r, c)] for r in row_keys))
    params = dict(
        threshold=draw(st.integers(5, 12)),
        min_unit_size=draw(st.sampled_from([0, 0, 20])),
        min_total=draw(st.sampled_from([0, 30])),
    )
    first = Table(counts, rows, cols, **params)
    return first if later is None else (first, Table(later, rows, cols, **params))


@st.composite
def rows_only(draw):
    n = draw(st.integers(2, 6))
    keys = [f"u{i}" for i in range(n)]
    counts = {key: draw(small_or_any) for key in keys}
    rows = [Line(key, "", counts[key] + draw(st.integers(0, 30)) if draw(st.booleans()) else None)
            for key in keys]
    return Table(counts, rows, None, draw(st.integers(5, 12)), draw(st.sampled_from([0, 20])),
                 draw(st.sampled_from([0, 30])))


PROPERTY = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


# --- crafted tables ------------------------------------------------------------------------------


def units(**headcounts):
    return [Line(key, key, h) for key, h in headcounts.items()]


def test_a_cell_of_three_is_hidden():
    release = tabulate({"a": 3, "b": 40, "c": 50}, units(a=None, b=None, c=None))
    assert release.get("a").value is None
    assert release.get("a").reason == PRIMARY
    assert release.get("c").value == 50


def test_a_two_dimension_cell_of_three_is_hidden_with_a_partner_in_its_row_and_column():
    rows, cols = units(s1=None, s2=None), units(d1=None, d2=None, d3=None)
    counts = {("s1", "d1"): 3, ("s1", "d2"): 40, ("s1", "d3"): 35,
              ("s2", "d1"): 30, ("s2", "d2"): 25, ("s2", "d3"): 45}
    release = tabulate(counts, rows, cols)
    assert release.get("s1", "d1").reason == PRIMARY
    row = [release.get("s1", c).value for c in ("d1", "d2", "d3")]
    col = [release.get(r, "d1").value for r in ("s1", "s2")]
    assert row.count(None) >= 2 and col.count(None) >= 2
    assert release.get("s1").value == 80  # row totals stay published


def test_a_unit_where_everybody_signed_is_hidden():
    release = tabulate({"team": 25, "big": 60, "other": 40}, units(team=25, big=200, other=None))
    assert release.get("team").value is None
    assert release.get("team").reason == PRIMARY


def test_a_unit_where_all_but_one_signed_is_hidden():
    release = tabulate({"team": 29, "big": 60, "other": 40}, units(team=30, big=200, other=None))
    assert release.get("team").value is None
    assert release.get("team").reason == PRIMARY
    # and with room for k non-signers it is published
    release = tabulate({"team": 20, "big": 60, "other": 40}, units(team=30, big=200, other=None))
    assert release.get("team").value == 20


def test_nobody_signed_in_a_team_is_sensitive_too():
    release = tabulate({"team": 0, "big": 60, "other": 40}, units(team=25, big=200, other=None))
    assert release.get("team").value is None


def test_a_row_with_one_hidden_cell_and_a_published_total_hides_a_second_cell():
    # s1 = 3 + 40 + 35; without a second hidden cell, 78 - 40 - 35 gives the 3 back
    rows, cols = units(s1=None, s2=None, s3=None), units(d1=None, d2=None, d3=None)
    counts = {("s1", "d1"): 3, ("s1", "d2"): 40, ("s1", "d3"): 35,
              ("s2", "d1"): 30, ("s2", "d2"): 25, ("s2", "d3"): 45,
              ("s3", "d1"): 50, ("s3", "d2"): 20, ("s3", "d3"): 60}
    release = tabulate(counts, rows, cols)
    assert release.get("s1").value is not None
    hidden_in_row = [c for c in ("d1", "d2", "d3") if release.get("s1", c).value is None]
    assert "d1" in hidden_in_row and len(hidden_in_row) >= 2
    partner = next(c for c in hidden_in_row if c != "d1")
    assert release.get("s1", partner).reason == SECONDARY


def test_two_hidden_cycles_joined_by_one_cell_do_not_leave_that_cell_computable():
    """The "0 or >= 2 hidden per line" rule is not enough: the search must also protect the bridge.

    Small cells a1, b2, c3, d4 and b3 with cheap partners a2, b1 and c4, d3: the rule is met by the
    cycles {a1, a2, b1, b2} and {c3, c4, d3, d4}, but b3, joining them, is their only link, and
    (rows a, b) minus (columns 1, 2) gives it back.
    """
    rows, cols = units(a=None, b=None, c=None, d=None), units(x1=None, x2=None, x3=None, x4=None)
    counts = {(r, c): 40 for r in "abcd" for c in ("x1", "x2", "x3", "x4")}
    counts.update({("a", "x1"): 3, ("b", "x2"): 2, ("c", "x3"): 4, ("d", "x4"): 1, ("b", "x3"): 2,
                   ("a", "x2"): 11, ("b", "x1"): 12, ("c", "x4"): 13, ("d", "x3"): 14})
    table = Table(counts, rows, cols, 10, 20, 30)
    release = table.release()
    assert release.get("b", "x3").reason == PRIMARY
    assert release.is_breakdown_published
    assert_single_release_safe(table, release)


def test_a_small_margin_is_hidden_and_gets_a_partner_margin():
    """A site total below k is sensitive too; hidden, it needs another hidden total beside it."""
    rows, cols = units(s1=None, s2=None, s3=None), units(d1=None, d2=None, d3=None)
    counts = {("s1", "d1"): 30, ("s1", "d2"): 40, ("s1", "d3"): 35,
              ("s2", "d1"): 30, ("s2", "d2"): 25, ("s2", "d3"): 45,
              ("s3", "d1"): 3, ("s3", "d2"): 2, ("s3", "d3"): 2}
    table = Table(counts, rows, cols, 10, 20, 30)
    release = table.release()
    assert release.get("s3").value is None and release.get("s3").reason == PRIMARY
    hidden_totals = [r for r in ("s1", "s2", "s3") if release.get(r).value is None]
    assert len(hidden_totals) >= 2
    assert release.total.value == 210
    assert_single_release_safe(table, release)


def test_the_minimum_threshold_matches_the_campaign_model():
    from campaign.models.campaigns import MIN_TALLY_THRESHOLD

    assert MIN_THRESHOLD == MIN_TALLY_THRESHOLD


def test_below_the_minimum_total_nothing_is_broken_down():
    release = tabulate({"a": 12, "b": 14}, units(a=None, b=None), min_total=30)
    assert release.get("a").value is None and release.get("a").reason == BELOW_MINIMUM_TOTAL
    assert release.get("b").value is None
    assert release.total.value == 25  # 26, rounded
    assert not release.is_breakdown_published
    assert tabulate({"a": 12, "b": 18}, units(a=None, b=None), threshold=5).is_breakdown_published


def test_units_below_the_minimum_size_are_merged_into_other():
    rows = units(tiny=8, small=18, big=300, bigger=400)
    release = tabulate({"tiny": 6, "small": 9, "big": 50, "bigger": 70}, rows, min_unit_size=20)
    assert [x.key for x in release.merged_rows] == ["tiny", "small"]
    assert release.get("tiny").reason == OTHER and release.get("tiny").value is None
    assert release.get(OTHER_KEY).value == 15  # 6 + 9 = 15 of 26: published
    assert release.get(OTHER_KEY).percent == 58  # 15 / 26, from the rounded value
    assert [x.key for x in release.rows] == ["big", "bigger", OTHER_KEY]


def test_an_other_line_still_too_small_is_hidden_with_a_partner():
    rows = units(tiny=8, big=300, bigger=400)
    release = tabulate({"tiny": 6, "big": 50, "bigger": 70}, rows, min_unit_size=20)
    assert release.get(OTHER_KEY).value is None and release.get(OTHER_KEY).reason == PRIMARY
    assert [release.get(k).value for k in ("big", "bigger")].count(None) == 1


def test_merging_in_two_dimensions_merges_rows_and_columns():
    rows, cols = units(s1=10, s2=200, s3=9), units(d1=300, d2=5, d3=12)
    counts = {(r, c): 7 for r in ("s1", "s2", "s3") for c in ("d1", "d2", "d3")}
    release = tabulate(counts, rows, cols, threshold=5)
    assert [x.key for x in release.rows] == ["s2", OTHER_KEY]
    assert [x.key for x in release.columns] == ["d1", OTHER_KEY]
    assert release._true_counts[(CELL, OTHER_KEY, OTHER_KEY)] == 28
    assert release.get("s1").reason == OTHER and release.get(column="d3").reason == OTHER


def test_a_threshold_below_five_is_raised_to_five():
    release = tabulate({"a": 4, "b": 9, "c": 40}, units(a=None, b=None, c=None), threshold=2)
    assert release.threshold == 5
    assert release.get("a").value is None and release.get("a").reason == PRIMARY
    release = tabulate({"a": 5, "b": 9, "c": 40}, units(a=None, b=None, c=None), threshold=-3)
    assert release.threshold == 5
    assert release.get("a").value == 5


def test_published_counts_are_rounded_to_five_and_margins_from_true_counts():
    rows, cols = units(s1=None, s2=None), units(d1=None, d2=None)
    counts = {("s1", "d1"): 12, ("s1", "d2"): 13, ("s2", "d1"): 11, ("s2", "d2"): 14}
    release = tabulate(counts, rows, cols)
    assert [release.get("s1", c).value for c in ("d1", "d2")] == [10, 15]
    assert [release.get("s2", c).value for c in ("d1", "d2")] == [10, 15]
    assert release.get("s1").value == 25  # true 25, not 10 + 15
    assert release.get("s2").value == 25
    assert release.get(column="d1").value == 25  # true 23
    assert release.total.value == 50


def test_percentages_only_for_published_units_with_a_headcount_from_the_rounded_value():
    release = tabulate({"a": 23, "b": 40, "c": 3, "d": 12}, units(a=37, b=None, c=100, d=None))
    assert release.get("a").value == 25 and release.get("a").percent == 68  # 25/37, not 23/37
    assert release.get("b").percent is None
    assert release.get("c").percent is None  # hidden


def test_the_public_dict_is_json_with_coarse_reasons_and_no_true_count():
    rows, cols = units(s1=60, s2=None, s3=None), units(d1=None, d2=None, d3=None)
    counts = {("s1", "d1"): 3, ("s1", "d2"): 41, ("s1", "d3"): 13,
              ("s2", "d1"): 30, ("s2", "d2"): 25, ("s2", "d3"): 45,
              ("s3", "d1"): 52, ("s3", "d2"): 21, ("s3", "d3"): 64}
    release = tabulate(counts, rows, cols)
    data = json.loads(json.dumps(release.to_dict()))
    reasons = {e["reason"] for e in data["entries"]}
    assert SUPPRESSED in reasons
    assert reasons <= {None, SUPPRESSED, OTHER, BELOW_MINIMUM_TOTAL}
    for entry in data["entries"]:
        assert set(entry) == {"kind", "row", "column", "value", "reason", "percent"}
        assert entry["value"] is None or entry["value"] % 5 == 0
    assert "headcount" not in json.dumps(data)
    assert data["entries"][0] == {"kind": CELL, "row": "s1", "column": "d1", "value": None,
                                  "reason": SUPPRESSED, "percent": None}


def test_the_ledger_round_trips_with_true_counts():
    rows, cols = units(s1=60, s2=None), units(d1=None, d2=None)
    counts = {("s1", "d1"): 3, ("s1", "d2"): 41, ("s2", "d1"): 30, ("s2", "d2"): 25}
    release = tabulate(counts, rows, cols)
    again = Release.from_ledger(json.loads(json.dumps(release.to_ledger())))
    assert again == release
    assert again._true_counts == release._true_counts
    assert again._true_counts[(CELL, "s1", "d1")] == 3


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        tabulate({"nope": 3}, units(a=None))
    with pytest.raises(ValueError):
        tabulate({"a": -1}, units(a=None))
    with pytest.raises(ValueError):
        tabulate({}, [Line(OTHER_KEY)])
    with pytest.raises(ValueError):
        tabulate({("a", "x"): 1}, units(a=None), units(y=None))


# --- single release: no hidden entry can be recomputed -------------------------------------------


@PROPERTY
@given(grids())
def test_every_hidden_entry_of_a_table_admits_two_values(table):
    release = table.release()
    event(f"breakdown published: {release.is_breakdown_published}")
    hidden = sum(not e.is_published for e in release.entries)
    event(f"share of entries hidden: {10 * (10 * hidden // len(release.entries))}%")
    values = table.true_values()
    for key, value in values.items():
        h = table.upper_bounds().get(key)
        if key[0] != TOTAL and (value < table.k or (h is not None and h - value < table.k)):
            assert not release.get(key[1], key[2]).is_published, f"sensitive {key} published"
    assert_single_release_safe(table, release)


@PROPERTY
@given(rows_only())
def test_every_hidden_unit_of_a_one_dimension_tally_admits_two_values(table):
    release = table.release()
    event(f"breakdown published: {release.is_breakdown_published}")
    assert_single_release_safe(table, release)


# --- releases over time --------------------------------------------------------------------------


def joint_solver(before, after, prev, new):
    """Both releases at once; between them, counts never decrease (the attacker assumes it)."""
    solver = Solver()
    first = add_table(solver, before, published_keys(prev))
    second = add_table(solver, after, published_keys(new))
    for key in first:
        (v1, c1), (v2, c2) = first[key], second[key]
        # x1 <= x2, written with whichever side is known
        solver.le([(v, c) for v, c in ((v1, 1), (v2, -1)) if v is not None],
                  (c2 if v2 is None else 0) - (c1 if v1 is None else 0))
    return solver, first, second


def change_can_differ(solver, first, second, key, change):
    """Whether the change of ``key`` between the releases can be something else than ``change``."""
    (v1, c1), (v2, c2) = first[key], second[key]
    terms = [(v, c) for v, c in ((v2, 1), (v1, -1)) if v is not None]
    known = (c2 if v2 is None else 0) - (c1 if v1 is None else 0)
    # x2 - x1 <= change - 1  or  x2 - x1 >= change + 1
    below = (terms, change - 1 - known)
    above = ([(v, -c) for v, c in terms], -(change + 1) + known)
    return solver.any_feasible([[below], [above]])


def assert_releases_safe_together(before, after, prev, new):
    old, now = before.true_values(), after.true_values()
    k = max(prev.threshold, new.threshold)
    for key in published_keys(new):
        assert now[key] == old[key] or abs(now[key] - old[key]) >= k, (
            f"{key} moved by {now[key] - old[key]} and is published")
    if not new.is_breakdown_published:
        return
    solver, first, second = joint_solver(before, after, prev, new)
    for key in now:
        if key in published_keys(new):
            continue
        assert other_value_possible(solver, second, key, now[key]), (
            f"hidden {key} = {now[key]} recomputed from both releases")
        change = now[key] - old[key]
        if 0 < abs(change) < k:
            assert change_can_differ(solver, first, second, key, change), (
                f"the small change {change} of hidden {key} is exposed")


@PROPERTY
@given(grids(max_increment=15))
def test_two_releases_together_recompute_no_hidden_entry_and_no_small_change(tables):
    before, after = tables
    prev = before.release()
    new = check_against_previous(after.release(), [prev])
    if new.deferred:
        total = (TOTAL, None, None)
        moved = abs(after.true_values()[total] - before.true_values()[total])
        assert new.defer_reason == DEFER_TOTAL_DIFFERENCE and 0 < moved < new.threshold
        event("deferred")
        return
    event(f"breakdown published: {new.is_breakdown_published}")
    assert_single_release_safe(after, new)
    assert_releases_safe_together(before, after, prev, new)


def small_unit_tables(extra_elsewhere):
    """Five units; between the releases one signature in unit a (3 -> 4), plus some in unit e."""
    rows = units(a=40, b=60, c=80, d=90, e=300)
    before = {"a": 3, "b": 20, "c": 35, "d": 30, "e": 100}
    after = dict(before, a=4, e=100 + extra_elsewhere)
    return Table(before, rows, None, 10, 20, 30), Table(after, rows, None, 10, 20, 30)


def test_two_releases_one_signature_apart_are_never_both_published():
    before, after = small_unit_tables(extra_elsewhere=0)
    new = check_against_previous(after.release(), [before.release()])
    assert new.deferred and new.defer_reason == DEFER_TOTAL_DIFFERENCE
    with pytest.raises(ValueError):
        new.to_dict()


def test_one_signature_in_a_small_unit_is_not_exposed_when_others_also_signed():
    before, after = small_unit_tables(extra_elsewhere=12)
    prev = before.release()
    new = check_against_previous(after.release(), [prev])
    assert not new.deferred
    assert new.get("a").value is None
    solver, first, second = joint_solver(before, after, prev, new)
    key = (CELL, "a", None)
    # the attacker cannot rule out that nobody at all signed in unit a
    assert change_can_differ(solver, first, second, key, 1)
    assert_releases_safe_together(before, after, prev, new)


def test_one_signature_in_a_small_cell_of_a_grid_is_not_exposed():
    rows, cols = units(s1=200, s2=250, s3=300), units(d1=None, d2=None, d3=None)
    before = {("s1", "d1"): 3, ("s1", "d2"): 40, ("s1", "d3"): 35,
              ("s2", "d1"): 30, ("s2", "d2"): 25, ("s2", "d3"): 45,
              ("s3", "d1"): 50, ("s3", "d2"): 20, ("s3", "d3"): 60}
    after = dict(before)
    after[("s1", "d1")] += 1
    after[("s3", "d3")] += 11
    b, a = Table(before, rows, cols, 10, 20, 30), Table(after, rows, cols, 10, 20, 30)
    prev = b.release()
    new = check_against_previous(a.release(), [prev])
    assert not new.deferred
    # s1's row total moved by one: published last time, hidden now
    assert prev.get("s1").value == 80 and new.get("s1").value is None
    assert new.get("s1").reason == RELEASE_DIFFERENCE
    assert new.get("s1").public_reason == SUPPRESSED
    assert_single_release_safe(a, new)
    assert_releases_safe_together(b, a, prev, new)


def test_an_unchanged_partner_published_before_is_not_trusted_to_protect():
    """Row s2 and its cell (s2, d3) moved by 3: both are hidden now and need partners.

    The cheapest partners, cells that did not move and were published last time, protect nothing:
    an attacker who assumes signatures only accumulate knows they did not change. The search must
    pick partners that can really move.
    """
    rows, cols = units(s1=None, s2=None, s3=None), units(d1=None, d2=None, d3=None)
    before = {("s1", "d1"): 40, ("s1", "d2"): 40, ("s1", "d3"): 35,
              ("s2", "d1"): 30, ("s2", "d2"): 11, ("s2", "d3"): 45,
              ("s3", "d1"): 50, ("s3", "d2"): 20, ("s3", "d3"): 60}
    after = dict(before)
    after[("s2", "d3")] += 3
    after[("s1", "d3")] += 20
    b, a = Table(before, rows, cols, 10, 20, 30), Table(after, rows, cols, 10, 20, 30)
    prev = b.release()
    assert not any(e.value is None for e in prev.entries)
    new = check_against_previous(a.release(), [prev])
    assert not new.deferred
    assert new.get("s2").reason == RELEASE_DIFFERENCE
    assert new.get("s2", "d3").reason == RELEASE_DIFFERENCE
    assert_single_release_safe(a, new)
    assert_releases_safe_together(b, a, prev, new)


def test_a_published_entry_that_moved_a_little_is_hidden():
    rows = units(a=None, b=None, c=None, d=None)
    before = Table({"a": 20, "b": 30, "c": 40, "d": 50}, rows, None, 10, 20, 30)
    after = Table({"a": 22, "b": 30, "c": 40, "d": 70}, rows, None, 10, 20, 30)
    new = check_against_previous(after.release(), [before.release()])
    assert new.get("a").value is None and new.get("a").reason == RELEASE_DIFFERENCE
    assert new.get("d").value == 70  # moved by 20 >= k
    assert [new.get(x).value for x in "bcd"].count(None) >= 1  # a partner for a
    assert_releases_safe_together(before, after, before.release(), new)


def test_every_earlier_release_counts_not_only_the_latest():
    rows = units(a=None, b=None, c=None, d=None)
    first = Table({"a": 20, "b": 30, "c": 40, "d": 50}, rows, None, 10, 20, 30)
    second = Table({"a": 20, "b": 30, "c": 40, "d": 60}, rows, None, 10, 20, 30)
    third = Table({"a": 23, "b": 30, "c": 40, "d": 80}, rows, None, 10, 20, 30)
    r1 = first.release()
    r2 = check_against_previous(second.release(), [r1])
    r3 = check_against_previous(third.release(), [r1, r2])
    assert r3.get("a").value is None
    assert check_against_previous(third.release(), [r2]).get("a").value is None
    # a release 5 signatures after one and 15 after another is deferred
    fourth = Table({"a": 23, "b": 30, "c": 40, "d": 65}, rows, None, 10, 20, 30)
    assert check_against_previous(fourth.release(), [r1, r2]).deferred


def test_withdrawals_between_releases_still_leave_a_safe_release():
    rows, cols = units(s1=None, s2=120, s3=None), units(d1=None, d2=None, d3=None)
    before = {("s1", "d1"): 14, ("s1", "d2"): 40, ("s1", "d3"): 35,
              ("s2", "d1"): 30, ("s2", "d2"): 25, ("s2", "d3"): 45,
              ("s3", "d1"): 50, ("s3", "d2"): 20, ("s3", "d3"): 60}
    after = dict(before)
    after[("s1", "d1")] = 9  # five withdrew
    after[("s3", "d2")] = 40
    b, a = Table(before, rows, cols, 10, 20, 30), Table(after, rows, cols, 10, 20, 30)
    new = check_against_previous(a.release(), [b.release()])
    assert not new.deferred
    assert new.get("s1", "d1").value is None
    assert_single_release_safe(a, new)
    old, now = b.true_values(), a.true_values()
    for key in published_keys(new):
        assert now[key] == old[key] or abs(now[key] - old[key]) >= 10


def test_a_change_of_structure_defers_the_release():
    before = Table({"a": 20, "b": 30, "c": 40}, units(a=100, b=100, c=100), None, 10, 20, 30)
    after = Table({"a": 20, "b": 30, "c": 40}, units(a=15, b=100, c=100), None, 10, 20, 30)
    new = check_against_previous(after.release(), [before.release()])
    assert new.deferred and new.defer_reason == DEFER_STRUCTURE_CHANGED


def test_a_first_release_is_returned_unchanged():
    release = tabulate({"a": 3, "b": 40, "c": 50}, units(a=None, b=None, c=None))
    assert check_against_previous(release, []) is release
