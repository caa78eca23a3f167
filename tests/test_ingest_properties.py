"""Property tests: random and mutated lines never crash a parser, and every line is either parsed
or rejected with a reason; ingesting the same file twice adds no rows."""

from __future__ import annotations

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flakehunt.case import open_case
from flakehunt.formats import load_formats
from flakehunt.ingest import ingest_paths
from flakehunt.ingest.detect import parse_lines
from flakehunt.ingest.read import count_lines, has_line_over, lines_from_text
from flakehunt.ingest.vendor import vendor_items, vendor_map
from flakehunt.store import read_exchanges

FORMATS = load_formats()
NAMES = sorted(FORMATS)
SEEDS = [(name, s.header, s.line) for name, f in sorted(FORMATS.items()) for s in f.samples]
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=300
)


@st.composite
def mutated(draw):
    name, header, line = draw(st.sampled_from(SEEDS))
    action = draw(st.sampled_from(["cut", "insert", "replace", "swap_tab", "as_is"]))
    pos = draw(st.integers(0, len(line)))
    junk = draw(TEXT)
    if action == "cut":
        line = line[:pos]
    elif action == "insert":
        line = line[:pos] + junk + line[pos:]
    elif action == "replace":
        line = line[:pos] + junk + line[pos + len(junk) :]
    elif action == "swap_tab":
        line = line.replace("\t", " ", draw(st.integers(0, 3)))
    return name, header, line


def check_accounted(name: str, header: str, lines: list[str]) -> None:
    text = "\n".join(([header] if header else []) + lines)
    frame = lines_from_text(text)
    exchanges, rejects, skipped = parse_lines(FORMATS[name], frame)
    assert exchanges.height + rejects.height + skipped == frame.height
    assert rejects["reason"].null_count() == 0 and (rejects["reason"].str.len_chars() > 0).all()
    assert exchanges["ts"].null_count() == 0
    assert set(exchanges["line"]).isdisjoint(set(rejects["__line"]))


@settings(max_examples=150)
@given(name=st.sampled_from(NAMES), lines=st.lists(TEXT, min_size=1, max_size=5))
def test_random_lines_are_parsed_or_rejected_with_a_reason(name, lines):
    check_accounted(name, "", lines)


@settings(max_examples=300)
@given(case=mutated(), target=st.sampled_from(NAMES))
def test_mutated_sample_lines_never_crash_any_parser(case, target):
    _, header, line = case
    check_accounted(target, header if FORMATS[target].file_type == "w3c" else "", [line])


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(SEEDS), repeat=st.integers(1, 20))
def test_second_ingest_adds_no_rows(tmp_path_factory, seed, repeat):
    name, header, line = seed
    folder = tmp_path_factory.mktemp("twice")
    path = folder / f"{name}.log"
    path.write_text(("\n".join([header] if header else []) + "\n" if header else "") + (line + "\n") * repeat)
    case = open_case("P-1", root=folder / "cases")
    first = ingest_paths([path], case=case, format_name=name)
    rows = read_exchanges(case).height
    second = ingest_paths([path], case=case, format_name=name)
    assert first.rows_added == rows == repeat
    assert second.rows_added == 0 and read_exchanges(case).height == rows
    assert read_exchanges(case).filter(pl.col("format") == name).height == rows


@given(data=st.binary(max_size=64).map(lambda b: b.replace(b"\x00", b"\n")), limit=st.integers(0, 12))
def test_line_count_and_long_line_check_agree_with_splitting_the_lines(data, limit):
    lines = data.split(b"\n") if data else []
    if data.endswith(b"\n"):
        lines.pop()
    assert count_lines(data) == len(lines)
    assert has_line_over(data, limit) == any(len(line) > limit for line in lines)


CELLS = st.none() | st.text(max_size=20)  # short strings sit inside the view, long ones in a buffer


@given(
    rows=st.integers(0, 6).flatmap(
        lambda width: st.lists(st.lists(CELLS, min_size=width, max_size=width), max_size=8)
    ),
    skip=st.integers(0, 2),
)
def test_vendor_map_holds_each_rows_present_cells_in_key_order(rows, skip):
    keys = [f"k{i}" for i in range(len(rows[0]) if rows else 3)]
    padded = [["a padding string past twelve bytes"] * len(keys)] * skip + rows
    columns = pl.DataFrame(padded or None, schema={k: pl.String for k in keys}, orient="row")
    columns = columns.slice(skip)  # columns that start mid-buffer
    expected = [[(k, v) for k, v in zip(keys, row, strict=True) if v is not None] for row in rows]
    assert vendor_map(columns, len(rows)).to_pylist() == expected
    items = vendor_items(columns, len(rows)).to_list()
    assert items == [[{"key": k, "value": v} for k, v in row] for row in expected]
