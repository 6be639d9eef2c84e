"""An audit told to hold less (``run_audit(..., keep_table=False)``, what ``carerules audit --no-excel`` asks for)
writes the same files and gives the same results table when asked for it."""

from __future__ import annotations

import filecmp
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.audit.books.problems import error_lines
from engine.audit.books.sample import sample_book
from engine.audit.outputs.write import write_outputs
from engine.audit.run import KEPT, run_audit
from engine.evaluate.vector import VectorEvaluator, row_dates
from engine.language.figure_language import params_in
from engine.rulebook.loader import load_rulebook
from engine.validate.batch import parse_columns, settle_doubtful


@pytest.fixture(scope="module")
def book() -> pa.Table:
    return sample_book(2_000, 29, load_rulebook())


def _audit(book: pa.Table, folder: Path, keep: bool):  # type: ignore[no-untyped-def]
    folder.mkdir()
    return run_audit(book, results_csv=folder / "results.csv", keep_table=keep)


def test_lean_audit_keeps_only_what_the_error_lines_read(book: pa.Table, tmp_path: Path) -> None:
    whole, lean = _audit(book, tmp_path / "whole", True), _audit(book, tmp_path / "lean", False)
    assert whole.make_table is None and lean.make_table is not None
    assert lean.results.column_names == [*book.column_names, *KEPT]
    assert lean.column_names == whole.table.column_names
    assert lean.rows == whole.rows and lean.error_rows == whole.error_rows > 0
    assert error_lines(lean) == error_lines(whole)
    assert lean.make_table is not None  # the error lines did not need the whole table
    assert lean.table.equals(whole.table)  # made when asked for, the same table
    assert lean.make_table is None and lean.results is lean.table


def test_lean_audit_error_field_named_as_a_result_column(book: pa.Table, tmp_path: Path) -> None:
    """A message under a field that is a result column not kept shows that column's value, as with the table."""
    whole, lean = _audit(book, tmp_path / "whole", True), _audit(book, tmp_path / "lean", False)
    row = next(iter(whole.parsed.errors))
    for audit in (whole, lean):
        audit.parsed.errors[row] = {"outcome": ["not given"], "rule_ids": ["not given"]}
    assert error_lines(lean) == error_lines(whole)
    assert lean.make_table is None  # it read the whole table


def test_lean_audit_writes_the_same_files(book: pa.Table, tmp_path: Path) -> None:
    for name, keep in (("whole", True), ("lean", False)):
        audit = _audit(book, tmp_path / name, keep)
        write_outputs(audit, tmp_path / name, excel=False, report=False)
    files = sorted(path.name for path in (tmp_path / "whole").iterdir())
    assert "results.csv" in files and "errors.csv" in files and "refer.csv" in files
    assert sorted(path.name for path in (tmp_path / "lean").iterdir()) == files
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "whole", tmp_path / "lean", files, shallow=False)
    assert (mismatch, errors) == ([], [])


def test_figures_that_read_no_date_are_the_same_at_any_date(book: pa.Table) -> None:
    """``date_free``: derived at two dates years apart, these figures are equal; a figure that reads a date is not
    among them (so the KPI date may take the rows' own figures for them)."""
    from engine.audit.views import AuditViews, date_free
    from engine.validate.batch import parse_book

    rules = load_rulebook()
    free = date_free(rules)
    assert free and "gross_weekly_cost" not in free  # the gross cost reads parameters (FNC, rates)
    parsed = parse_book(book, rules)
    views = AuditViews(rules, parsed)
    early, late = (np.full(parsed.n, day, np.int64) for day in (20_600, 21_700))
    one, other = views.evaluator.derive(parsed, early), views.evaluator.derive(parsed, late)
    for name in free:
        assert np.array_equal(one[name].v, other[name].v) and np.array_equal(one[name].ok, other[name].ok), name
    differ = [
        name for name in rules.figures if not np.array_equal(one[name].v * one[name].ok, other[name].v * other[name].ok)
    ]
    assert differ and not set(differ) & free


def test_the_kpi_date_takes_the_rows_own_date_free_figures(book: pa.Table, tmp_path: Path) -> None:
    from engine.audit.views import FiguresAt

    audit = _audit(book, tmp_path / "a", True)
    at = audit.at_kpi
    assert isinstance(at.values, FiguresAt)  # the rows' own dates are their start dates: not all the KPI date
    shared = [name for name in audit.views.date_free if at.values[name] is audit.values[name]]
    assert sorted(shared) == sorted(audit.views.date_free)
    fresh = audit.views.evaluator.derive(audit.parsed, at.days)  # the KPI date derived afresh: the same lists
    again = audit.views.evaluator.evaluate(audit.parsed, at.days, fresh)
    assert np.array_equal(at.result.outcome, again.outcome) and np.array_equal(at.result.fired, again.fired)
    for name, col in again.figures.items():
        assert np.array_equal(at.result.figures[name].v, col.v) and np.array_equal(at.result.figures[name].ok, col.ok)


def test_parameter_columns_let_go_after_their_last_reader(book: pa.Table) -> None:
    """A derivation lets each parameter's column go once no later figure reads it: every parameter a figure
    reads is let go at or after that figure, and the figures are the same as when every column is kept."""
    rules = load_rulebook()
    evaluator = VectorEvaluator(rules)
    order = evaluator._order
    let_go = {parameter: order.index(name) for name, gone in evaluator._let_go.items() for parameter in gone}
    read = {p for name in order for f in rules.figures[name].formulas.values() for p in params_in(f)}
    assert read and set(let_go) == read
    for position, name in enumerate(order):
        for formula in rules.figures[name].formulas.values():
            assert all(let_go[parameter] >= position for parameter in params_in(formula))
    parsed, doubtful = parse_columns(book, rules)
    settle_doubtful(book, parsed, doubtful, rules)
    days = row_dates(parsed)
    lean = evaluator.derive(parsed, days)
    evaluator._let_go = {}
    kept = evaluator.derive(parsed, days)
    assert set(lean) == set(kept)
    for name in rules.figures:
        assert np.array_equal(lean[name].v, kept[name].v) and np.array_equal(lean[name].ok, kept[name].ok)


_HEAPS = """
import ctypes, sys, threading
if sys.argv[1] == "one": assert one_heap()
import numpy as np, pyarrow
libc = ctypes.CDLL("libc.so.6")
libc.open_memstream.restype = ctypes.c_void_p
libc.malloc_info.argtypes, libc.fclose.argtypes = [ctypes.c_int, ctypes.c_void_p], [ctypes.c_void_p]
def work(): [np.ones(1 << 16) for _ in range(200)]
threads = [threading.Thread(target=work) for _ in range(3)]
[t.start() for t in threads]; work(); [t.join() for t in threads]
text, size = ctypes.c_char_p(), ctypes.c_size_t()
stream = libc.open_memstream(ctypes.byref(text), ctypes.byref(size))
libc.malloc_info(0, stream); libc.fclose(stream)
print(text.value.decode().count("<heap nr="))
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc's heaps only"
)
def test_one_heap_serves_every_thread() -> None:
    """Asked first (as the CLI does for an audit), glibc serves every thread from one heap, so memory one thread
    frees another reuses; without it each thread allocating gets a heap of its own."""
    code = "from engine.audit.memory import one_heap\n" + _HEAPS
    heaps = {
        mode: int(subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, check=True).stdout)
        for mode in ("one", "default")
    }
    assert heaps["one"] == 1 < heaps["default"]


def test_compact_input_columns_hold_the_same_cells(book: pa.Table) -> None:
    """The low-cardinality columns as dictionaries with narrow indices (what a lean audit of a big book holds):
    the same cells, and ``as_text`` gives the text columns back."""
    from engine.audit.books.compact import as_text, compact

    encoded: dict[str, pa.DictionaryArray] = {}
    parse_columns(book, load_rulebook(), encoded)
    assert "care_type" in encoded and "placement_id" not in encoded and "core_weekly_fee" not in encoded
    assert {str(array.type.index_type) for array in encoded.values()} <= {"int8", "int16"}
    small = compact(book, encoded)
    assert small.nbytes < book.nbytes and small.column_names == book.column_names
    assert pa.types.is_dictionary(small.schema.field("care_type").type)
    assert small.to_pylist() == book.to_pylist()
    assert as_text(small).equals(book)


def test_lean_audit_of_a_big_book_holds_its_input_compact(
    book: pa.Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lean audit whose results.csv input text is made ahead holds its input table as dictionaries and writes
    the same files, including a block written in one pass (a line break in a cell) with a formula-looking cell in
    a compacted column, and the whole table made again as text."""
    import engine.audit.run as run

    monkeypatch.setattr(run, "CSV_BLOCK_ROWS", 500)  # a "big" book: input text made ahead
    cells = book.column("care_type").to_pylist()
    cells[3], cells[7] = "=HYPERLINK(1)", "nursing\nhome"
    tricky = book.set_column(book.column_names.index("care_type"), "care_type", pa.array(cells, pa.string()))
    audits = {}
    for name, keep in (("whole", True), ("lean", False)):
        audits[name] = _audit(tricky, tmp_path / name, keep)
        write_outputs(audits[name], tmp_path / name, excel=False, report=False)
    assert pa.types.is_dictionary(audits["lean"].results.schema.field("care_type").type)
    assert not pa.types.is_dictionary(audits["whole"].results.schema.field("care_type").type)
    ids = audits["lean"].results.column("placement_id")  # held once: the parsed book's own copy
    assert (
        ids.num_chunks == 1
        and ids.chunk(0).buffers()[2].address == audits["lean"].parsed.placement_id.buffers()[2].address
    )
    files = sorted(path.name for path in (tmp_path / "whole").iterdir())
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "whole", tmp_path / "lean", files, shallow=False)
    assert (mismatch, errors) == ([], []) and "results.csv" in match
    assert b"'=HYPERLINK(1)" in (tmp_path / "lean" / "results.csv").read_bytes()
    assert audits["lean"].table.equals(audits["whole"].table)


def test_the_kpi_date_derived_during_the_evaluation_takes_the_date_free_figures_first(book: pa.Table) -> None:
    """``derive_date_free``: the figures that read no date and the KPI date reads, derived before the rest of the
    rows' own evaluation (the others are not), are taken by the KPI date (no copies of its own) and completed by
    ``evaluate`` into the same results."""
    from datetime import date

    from engine.audit.views import KPI_FIGURES, AuditViews, kpi_names
    from engine.validate.batch import parse_book

    rules = load_rulebook()
    parsed = parse_book(book, rules)
    days = row_dates(parsed)
    plain = AuditViews(rules, parsed).evaluate(days)
    views = AuditViews(rules, parsed)
    views.derive_date_free(days)
    read = views.date_free & set(views.evaluator.needed([*KPI_FIGURES, *kpi_names(rules)]))
    assert read and views.date_free - read  # some the KPI date does not read
    assert views._first is not None and views._first[1]["_derived"] == read  # only those derived first
    at = views.at_kpi_date(date(2026, 3, 31))  # as the other core does while the rows are evaluated
    first = {name: at.values[name] for name in read}
    result = views.evaluate(days)
    for name in read:
        assert first[name] is result.values[name], name  # one array for both dates
    assert np.array_equal(result.outcome, plain.outcome) and np.array_equal(result.fired, plain.fired)
    for name in rules.figures:
        assert np.array_equal(result.values[name].v, plain.values[name].v), name
        assert np.array_equal(result.values[name].ok, plain.values[name].ok), name


def test_the_lists_evaluation_made_a_block_at_a_time_is_the_whole_ones(
    book: pa.Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``AtKpiDate.listed``: the KPI date's evaluation for the lists, made a few rows at a time, has the whole
    evaluation's outcome, fired rules, band approvers and the lists' figures, and the lists written from it are
    the same files; the whole evaluation is not made for them."""
    import engine.audit.views as views
    from engine.audit.lists.tables import LIST_FIGURES, LISTED, list_masks
    from engine.audit.views import FiguresAt

    whole = _audit(book, tmp_path / "whole", True)  # one block of 2,000 rows
    write_outputs(whole, tmp_path / "whole", excel=False, report=False)
    monkeypatch.setattr(views, "LIST_BLOCK_ROWS", 299)  # seven blocks, the last a short one
    blocks = _audit(book, tmp_path / "blocks", True)
    write_outputs(blocks, tmp_path / "blocks", excel=False, report=False)
    at = blocks.at_kpi
    assert isinstance(at.values, FiguresAt) and at._result is None  # the whole evaluation was never made
    listed, fresh = at.listed(LISTED), whole.at_kpi.result
    assert np.array_equal(listed.outcome, fresh.outcome) and np.array_equal(listed.fired, fresh.fired)
    assert np.array_equal(listed.band_approver, fresh.band_approver) and listed.approvers == fresh.approvers
    assert listed.info_only.keys() == fresh.info_only.keys()
    for k, hit in fresh.info_only.items():
        assert np.array_equal(listed.info_only[k], hit), k
    for name in LISTED:
        assert np.array_equal(listed.values[name].v, fresh.values[name].v), name
        assert np.array_equal(listed.values[name].ok, fresh.values[name].ok), name
        assert (name in listed.figure_applies) == (name in fresh.figure_applies), name
        if name in fresh.figure_applies:
            assert np.array_equal(listed.figure_applies[name], fresh.figure_applies[name]), name
    masks = list_masks(blocks)
    assert all(masks[name].any() for name in ("needs_approval", "refer", "not_permitted", "nhs_recharge_gaps"))
    assert set(listed.figures) == set(LISTED) & set(fresh.figures) and set(LIST_FIGURES) & set(listed.figures)
    files = sorted(path.name for path in (tmp_path / "whole").iterdir())
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "whole", tmp_path / "blocks", files, shallow=False)
    assert (mismatch, errors) == ([], []) and "needs_approval.csv" in match and "refer.csv" in match


def test_input_text_made_ahead_is_held_compressed_and_given_back_the_same() -> None:
    from engine.audit.outputs import csv_out

    n = csv_out.CSV_BLOCK_ROWS + 10  # two blocks
    inputs = pa.table(
        {
            "id": pa.array([f"P{k % 500}" for k in range(n)], pa.string()),
            "fee": pa.array([None if k % 3 == 0 else "=1+1" if k == 4 else f"{k % 90}.00" for k in range(n)]),
        }
    )
    leading = csv_out.leading_text(inputs)
    for start, packed in zip(range(0, n, csv_out.CSV_BLOCK_ROWS), leading.blocks, strict=True):
        assert packed is not None
        part = inputs.slice(start, csv_out.CSV_BLOCK_ROWS)
        text = csv_out._rows(csv_out._text(part, header=False), part.num_rows, comma=True)
        assert packed.unpacked().equals(text)  # the same cells, row by row
    held = [packed for packed in leading.blocks if packed is not None]
    assert sum(len(p.text) for p in held) < sum(p.size for p in held) // 2  # held compressed, not as the text


def test_a_lean_audit_evaluates_its_rows_in_blocks_and_derives_what_it_did_not_hold_when_asked(
    book: pa.Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``AuditViews.evaluate(..., blocks=True)``: a lean audit of a big book evaluates its rows a block at a time
    and holds only their shown figures and those that read no date the KPI date reads: the same outcome, fired
    rules, approvers and shown figures as the whole evaluation; a figure or rule parameter not held is derived when
    read (the same values, and ``in`` and ``get`` as for the whole one)."""
    import engine.audit.run as run
    import engine.audit.views as views
    from engine.audit.views import Derivable

    monkeypatch.setattr(run, "CSV_BLOCK_ROWS", 500)  # a "big" book
    monkeypatch.setattr(views, "LIST_BLOCK_ROWS", 301)  # seven blocks, the last a short one
    whole, lean = _audit(book, tmp_path / "whole", True), _audit(book, tmp_path / "lean", False)
    assert isinstance(lean.values, Derivable) and lean.result.values is lean.values is lean.views.values
    assert not isinstance(whole.values, Derivable)
    ours, theirs = lean.result, whole.result
    assert np.array_equal(ours.outcome, theirs.outcome) and np.array_equal(ours.fired, theirs.fired)
    assert np.array_equal(ours.band_approver, theirs.band_approver) and ours.approvers == theirs.approvers
    assert ours.info_only.keys() == theirs.info_only.keys()
    assert all(np.array_equal(ours.info_only[k], hit) for k, hit in theirs.info_only.items())
    assert ours.figures.keys() == theirs.figures.keys() and ours.figure_applies.keys() == theirs.figure_applies.keys()
    for name, col in theirs.figures.items():
        assert np.array_equal(ours.figures[name].v, col.v) and np.array_equal(ours.figures[name].ok, col.ok), name
        assert np.array_equal(ours.figure_applies[name], theirs.figure_applies[name]), name
    gone = [name for name in whole.values if not dict.__contains__(lean.values, name)]
    params = [name for name in gone if name.startswith("params.")]
    figures = [name for name in gone if name in whole.book.figures]
    from engine.audit.views import KPI_FIGURES, kpi_names

    read = set(whole.views.evaluator.needed([*KPI_FIGURES, *kpi_names(whole.book)]))
    assert params and figures and not set(gone) & ({*whole.result.figures, *(whole.views.date_free & read)})
    assert set(gone) & whole.views.date_free  # those the KPI date does not read: not held
    for name in [*figures, *params]:
        assert name in lean.values and lean.values.get(name) is not None, name
        assert np.array_equal(lean.values[name].v, whole.values[name].v), name
        assert np.array_equal(lean.values[name].ok, whole.values[name].ok), name
    assert "no such figure" not in lean.values and lean.values.get("no such figure") is None
    with pytest.raises(KeyError):
        lean.values["no such figure"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from([np.int8, np.int32, np.int64, np.float64, np.bool_])),
        min_size=1,
        max_size=6,
    )
)
def test_figures_filled_block_by_block_are_the_blocks_concatenated(blocks: list[tuple[int, type]]) -> None:
    """A figure's whole-book column written a block at a time (``in_blocks``) is what concatenating the blocks'
    columns gives: the same values, the common type of every block's, the first block's categories."""
    from engine.audit.views import _Filled
    from engine.validate.batch import Col

    rng = np.random.default_rng(len(blocks))
    cols = [
        Col(
            (rng.integers(-100, 100, size) % 2 == 0 if kind is np.bool_ else rng.integers(-100, 100, size)).astype(
                kind
            ),
            rng.integers(0, 2, size).astype(bool),
            ("a", "b") if i == 0 else None,
        )
        for i, (size, kind) in enumerate(blocks)
    ]
    n = sum(size for size, _kind in blocks)
    filled, start = _Filled(n, ["f", "never"]), 0
    for col in cols:
        filled.put("f", slice(start, start + len(col.v)), col)
        start += len(col.v)
    whole = filled.whole()
    expected = np.concatenate([c.v for c in cols])
    assert list(whole) == ["f"]  # a figure no block gave is left out
    assert whole["f"].v.dtype == expected.dtype and np.array_equal(whole["f"].v, expected)
    assert np.array_equal(whole["f"].ok, np.concatenate([c.ok for c in cols])) and whole["f"].cats == ("a", "b")


def test_figures_filled_block_by_block_refuse_a_missing_block() -> None:
    from engine.audit.views import _Filled
    from engine.validate.batch import Col

    block = Col(np.arange(3), np.ones(3, bool))
    filled = _Filled(9, ["f"])
    filled.put("f", slice(0, 3), block)
    with pytest.raises(AssertionError, match="missing"):
        filled.put("f", slice(6, 9), block)
    with pytest.raises(AssertionError, match="missing"):
        filled.whole()


_HAND_BACK = """
import numpy as np
from engine.audit.memory import hand_back, keep_freed_memory
assert keep_freed_memory()  # glibc keeps what is freed (no trim)
def resident(): return int(open("/proc/self/statm").read().split()[1])
held = [np.ones(1 << 17) for _ in range(800)]  # 800 MB-sized arrays in the heap, 1 MiB each
del held[::2]  # holes between the kept ones: glibc keeps them
before = resident(); assert hand_back(); after = resident()
print(before - after)
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc's heap only"
)
def test_hand_back_gives_the_heaps_free_holes_back() -> None:
    """``hand_back`` gives the free pages inside glibc's heap back (not only its top), which the audit's setting
    otherwise keeps resident: about the 400 MiB of holes between arrays still held."""
    done = subprocess.run([sys.executable, "-c", _HAND_BACK], capture_output=True, text=True, check=True)
    pages = int(done.stdout)
    assert pages * 4096 > 300 * 2**20


def test_a_lean_audit_of_a_big_book_hands_freed_heap_back_between_phases(
    book: pa.Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the rows' evaluation (while the KPI date's figures are made on the other core), once both are made,
    after the KPIs (while results.csv's last blocks are written) and after results.csv (a big lean audit only);
    not otherwise."""
    import engine.audit.run as run

    calls: list[int] = []
    monkeypatch.setattr(run, "hand_back", lambda: calls.append(1) or True)
    _audit(book, tmp_path / "whole", True)
    assert calls == []
    monkeypatch.setattr(run, "CSV_BLOCK_ROWS", 500)  # a "big" book
    _audit(book, tmp_path / "lean", False)
    assert calls == [1, 1, 1, 1]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([np.int64, np.int8, np.bool_]),
            st.sampled_from(["zero", "some", "none"]),  # the values: all zero, some not, none at all (n = 0)
            st.sampled_from(["all", "gaps", "none"]),  # the mask: all true, some false, all false
        ),
        max_size=6,
    ),
    st.integers(1, 9),
)
def test_columns_held_once_keep_their_values(kinds: list[tuple[type, str, str]], n: int) -> None:
    """``hold_once``: every column has the same values and mask after; the all-zero values and the gapless or
    empty masks are one read-only array of their type, the others the column's own, untouched and writable."""
    from engine.audit.memory import hold_once
    from engine.validate.batch import Col

    rng = np.random.default_rng(n)
    cols: dict[str, Col] = {}
    for k, (dtype, values, mask) in enumerate(kinds):
        v = np.zeros(n, dtype) if values == "zero" else rng.integers(0, 3, n).astype(dtype)
        if values == "some":
            v[0] = 1
        ok = np.ones(n, bool) if mask == "all" else np.zeros(n, bool) if mask == "none" else rng.random(n) < 0.5
        if mask == "gaps":
            ok[0], ok[-1] = True, n == 1  # a gap where there are two rows or more
        cols[f"c{k}"] = Col(v, ok, ("a",) if k % 2 else None)
    before = {name: (col.v.copy(), col.ok.copy(), col.v, col.ok, col.cats) for name, col in cols.items()}
    hold_once(cols, n)
    for name, (v, ok, own_v, own_ok, cats) in before.items():
        col = cols[name]
        assert col.v.dtype == v.dtype and np.array_equal(col.v, v) and np.array_equal(col.ok, ok)
        assert col.cats == cats
        constant_v = not v.any()
        constant_ok = bool(ok.all()) or not ok.any()
        assert (col.v is own_v) != constant_v and col.v.flags.writeable != constant_v
        assert (col.ok is own_ok) != constant_ok and col.ok.flags.writeable != constant_ok
    shared = [col.v for col in cols.values() if not col.v.flags.writeable]
    assert len({id(a) for a in shared}) == len({a.dtype.str for a in shared})  # one of each type


def test_an_audit_with_its_columns_held_once_is_the_same(
    book: pa.Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sample book (absent columns, gapless masks) audited with and without ``hold_once``: the same files and
    KPIs; and it did share arrays (none of the audit's steps writes into a parsed column afterwards)."""
    import engine.audit.memory as memory
    import engine.audit.run as run

    shared: list[int] = []
    monkeypatch.setattr(run, "hold_once", lambda cols, n: shared.append(memory.hold_once(cols, n)) or shared[-1])
    monkeypatch.setattr(run, "CSV_BLOCK_ROWS", 500)  # a "big" lean audit: every step that reads the columns
    audits = {}
    for name in ("once", "own"):
        folder = tmp_path / name
        folder.mkdir()
        audits[name] = run_audit(book, results_csv=folder / "results.csv", keep_table=False)
        write_outputs(audits[name], folder, excel=False, report=False)
        monkeypatch.setattr(run, "hold_once", lambda cols, n: 0)
    assert shared and shared[0] > 10
    assert audits["once"].kpis == audits["own"].kpis
    files = sorted(path.name for path in (tmp_path / "own").iterdir())
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "own", tmp_path / "once", files, shallow=False)
    assert (mismatch, errors) == ([], []) and "results.csv" in match


def test_the_kpi_date_holds_only_the_figures_asked_for(book: pa.Table) -> None:
    """``FiguresAt``: the figures the KPIs read first are held, not those read on the way to them; one read later
    is held alone; each reads the same as a whole derivation at that date, and so does one let go."""
    from datetime import date

    from engine.audit.views import KPI_FIGURES, AuditViews, FiguresAt, kpi_names
    from engine.validate.batch import parse_book

    rules = load_rulebook()
    parsed = parse_book(book, rules)
    views = AuditViews(rules, parsed)
    views.evaluate(row_dates(parsed))
    day = date(2026, 3, 31)
    at = views.at_kpi_date(day)
    assert isinstance(at.values, FiguresAt)
    fresh = VectorEvaluator(rules).derive(parsed, np.full(parsed.n, at.days[0], np.int64))
    held = set(at.values._values["_derived"])
    asked = {*KPI_FIGURES, *kpi_names(rules)} & set(rules.figures)
    assert asked <= held <= asked | views.date_free  # the others are let go
    kept = {name for name in rules.figures if name in at.values._values and name not in parsed.cols}
    assert kept == held - set(parsed.cols)
    read_on_the_way = set(VectorEvaluator(rules).needed(sorted(asked))) - held
    assert read_on_the_way, "the KPI figures read others"
    late = next(name for name in sorted(rules.figures) if name not in held and name not in read_on_the_way)
    col = at.values[late]
    assert set(at.values._values["_derived"]) == held | {late}
    for name in [*sorted(asked), *sorted(read_on_the_way), late]:
        assert np.array_equal(at.values[name].v, fresh[name].v), name
        assert np.array_equal(at.values[name].ok, fresh[name].ok), name
    assert np.array_equal(col.v, fresh[late].v)


def _derived_again(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    import engine.audit.views as views

    again: list[str] = []
    missing = views.Derivable.__missing__

    def counted(self: views.Derivable, name: str) -> object:
        again.append(name)
        return missing(self, name)

    monkeypatch.setattr(views.Derivable, "__missing__", counted)
    return again


def test_a_big_lean_audit_lets_go_of_its_own_dated_figures_before_the_lists(
    book: pa.Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once results.csv, the KPIs and the report's context are made, a big lean audit lets go of the rows' own
    figures that read a date (those the summary's sourced-late list reads again kept): the same files as the whole
    audit; nothing derived again while they are written or the summary made after; each figure let go reads back
    the same, and so does the whole table."""
    import engine.audit.run as run
    import engine.audit.views as views
    from engine.audit.kpis.providers import SOURCING_FIGURES

    monkeypatch.setattr(run, "CSV_BLOCK_ROWS", 500)  # a "big" book
    monkeypatch.setattr(views, "LIST_BLOCK_ROWS", 301)
    whole = _audit(book, tmp_path / "whole", True)
    write_outputs(whole, tmp_path / "whole", excel=False, report=False)
    lean = _audit(book, tmp_path / "lean", False)
    held = {name for name in lean.values if name in lean.book.figures}
    dated = held - lean.views.date_free - set(SOURCING_FIGURES)
    assert dated & set(lean.result.figures), "shown figures that read a date are held before"
    again = _derived_again(monkeypatch)
    write_outputs(lean, tmp_path / "lean", excel=False, report=False)
    summary = lean.summary()
    assert again == []  # nothing let go was read again
    assert not any(dict.__contains__(lean.values, name) for name in dated)  # let go
    assert all(dict.__contains__(lean.values, name) for name in held - dated)
    files = sorted(path.name for path in (tmp_path / "whole").iterdir())
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "whole", tmp_path / "lean", files, shallow=False)
    assert (mismatch, errors) == ([], []) and "results.csv" in match and "refer.csv" in match
    assert summary == whole.summary()
    for name in sorted(dated):  # read back (with the figures they read): the same values
        assert np.array_equal(lean.values[name].v, whole.values[name].v), name
        assert np.array_equal(lean.values[name].ok, whole.values[name].ok), name
    assert again and set(again) <= dated
    assert list(lean.result.figures) == list(whole.result.figures)
    assert lean.table.equals(whole.table)


def test_an_audit_whose_kpi_date_reads_its_own_evaluation_lets_nothing_go(
    book: pa.Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--as-at``: every row evaluated at the KPI date, whose lists read the rows' own figures: none let go."""
    from datetime import date

    import engine.audit.run as run

    monkeypatch.setattr(run, "CSV_BLOCK_ROWS", 500)
    (tmp_path / "lean").mkdir()
    lean = run_audit(book, as_at=date(2026, 3, 31), results_csv=tmp_path / "lean" / "results.csv", keep_table=False)
    held = set(lean.values)
    assert lean.at_kpi.reads(lean.result)
    assert not lean.views.let_go_own_figures()
    write_outputs(lean, tmp_path / "lean", excel=False, report=False)
    assert set(lean.values) == held


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc's functions only"
)
def test_glibc_is_found_once_however_often_its_functions_are_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """``find_library`` runs ``ldconfig -p`` in a child process each time: an audit asks for glibc's functions at
    start-up and at every hand-back, and finds glibc once."""
    import ctypes.util

    from engine.audit import memory

    looked: list[str] = []
    find = ctypes.util.find_library
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: looked.append(name) or find(name))
    memory._libc.cache_clear()
    try:
        assert memory.one_heap() and memory.hand_back() and memory.hand_back()
        assert memory._mallopt() is not None and memory._libc_function("no_such_function_in_glibc") is None
        assert looked == ["c"]
    finally:
        memory._libc.cache_clear()
