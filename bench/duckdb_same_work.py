"""
The "same work" peer of bench/ingest.py: DuckDB doing flakehunt's ingest of a CloudFront log in SQL.

    python bench/duckdb_same_work.py LOG OUT.parquet

The plain DuckDB peer only copies the file's columns into Parquet. This one does what flakehunt
does to the same file, as a DuckDB user would write it, and built from the same format definition
(`cloudfront.toml`): null markers, UTC times, %-decoding (`url_decode`), the cache vocabulary,
numbers and their units, a line number per row, the `vendor` map of every other field, and the
POP and user-agent columns. The enrichment is flakehunt's own lookup over the distinct values
(read in a first pass), joined back in SQL. What it leaves out: the checks that send a malformed
line to the rejects (DuckDB would stop or skip), and GeoIP (the bench has no database either).

The line number costs DuckDB the most: `row_number() OVER ()` runs on one thread. Without it
(not the same work: a row could no longer be traced to its line) DuckDB took 4.2 s for 1M lines
on this 2-core machine, about flakehunt's time; with it 8.4 s.
"""

from __future__ import annotations

import sys

import duckdb
import polars as pl

from flakehunt.enrich.pop import POP_COLUMNS, locate_pops
from flakehunt.enrich.useragent import UA_COLUMNS, parse_user_agents
from flakehunt.formats.loader import FieldMap, load_formats


def quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def source_sql(log: str, columns: list[str]) -> str:
    """The log's data lines, every field a VARCHAR named as the format names it."""
    spec = ", ".join(f"{quoted(name)}: 'VARCHAR'" for name in columns)
    return (
        f"read_csv({quoted(log)}, delim='\\t', header=false, skip=2, quote='', escape='', "
        f"nullstr='-', columns={{{spec}}})"
    )


def field_sql(mapping: FieldMap, vocab: dict[str, dict[str, str]], target_type: str) -> str:
    value = f'"{mapping.vendor}"'
    if mapping.decode:
        value = f"url_decode({value})"
        if mapping.decode == "percent2":
            value = f"url_decode({value})"
    if mapping.vocab:
        cases = " ".join(
            f"WHEN {value} = {quoted(k)} THEN {quoted(v)}" for k, v in vocab[mapping.vocab].items()
        )
        return f"CASE WHEN {value} IS NULL THEN NULL {cases} ELSE 'other' END"
    if mapping.scale:
        return f"TRY_CAST({value} AS DOUBLE) * {mapping.scale}"
    if target_type != "VARCHAR":
        return f"TRY_CAST({value} AS {target_type})"
    return value


TYPES = {"status": "SMALLINT", "bytes_sent": "BIGINT", "content_length": "BIGINT"}


def main(log: str, out: str) -> None:
    fmt = load_formats()["cloudfront"]
    columns = list(fmt.columns)
    mapped = {m.vendor for m in fmt.fields} | set(fmt.timestamp.fields)
    vendor_keys = sorted(c for c in columns if c not in mapped)
    by_target = {m.to: field_sql(m, fmt.vocab, TYPES.get(m.to, "VARCHAR")) for m in fmt.fields}
    user_agent = by_target["user_agent"]

    # pass 1: the distinct POPs and user agents, looked up by flakehunt's own enrichment
    distinct = duckdb.sql(
        f'SELECT DISTINCT "x-edge-location" AS edge_pop, {user_agent} AS user_agent '
        f"FROM {source_sql(log, columns)}"
    ).pl()
    pops = distinct["edge_pop"].drop_nulls().unique()
    agents = distinct["user_agent"].drop_nulls().unique()
    pop_table = pl.DataFrame({"edge_pop": pops, **locate_pops(pops.to_list())})  # noqa: F841 (SQL)
    agent_table = pl.DataFrame({"user_agent": agents, **parse_user_agents(agents.to_list())})  # noqa: F841

    # pass 2: normalize, join the answers, write Parquet
    entries = ", ".join(f"{{'key': {quoted(k)}, 'value': \"{k}\"}}" for k in vendor_keys)
    date, time = fmt.timestamp.fields
    selected = ",\n  ".join(f"{sql} AS {target}" for target, sql in by_target.items())
    duckdb.sql(f"""
COPY (
  WITH rows AS (
    SELECT
      strptime("{date}" || ' ' || "{time}", {quoted(fmt.timestamp.parse)})::TIMESTAMPTZ AS ts,
      {quoted(fmt.source)} AS source, {quoted(fmt.name)} AS format,
      {selected},
      {quoted(log)} AS file, row_number() OVER () AS line,
      map_from_entries(list_filter([{entries}], lambda e: e.value IS NOT NULL)) AS vendor
    FROM {source_sql(log, columns)}
  )
  SELECT rows.*, {", ".join(f"p.{c}" for c in POP_COLUMNS)}, {", ".join(f"a.{c}" for c in UA_COLUMNS)}
  FROM rows
  LEFT JOIN pop_table p USING (edge_pop)
  LEFT JOIN agent_table a USING (user_agent)
) TO {quoted(out)} (FORMAT parquet)
""")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
