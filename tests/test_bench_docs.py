"""python -m bench writes its tables into docs/performance.md between marker comments: the
replacement keeps everything outside them, is idempotent, and refuses without its markers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.docs import MarkersMissing, replace_section, section_of, table, write

pytestmark = pytest.mark.fast

DOC = """# Performance

Prose before.

<!-- bench:sqlite:start -->
the old SQLite table
<!-- bench:sqlite:end -->

Prose between.

<!-- bench:postgres:start -->
the old PostgreSQL table
<!-- bench:postgres:end -->

Prose after.
"""

RUN = {
    "store": "sqlite",
    "events": 1_000_000,
    "quick": False,
    "only": [],
    "date": "2026-12-08",
    "stored_events": 1_019_814,
    "customers": 50_000,
    "machine": "2-core machine (Linux x86_64, Python 3.11.9), load average 0.3 at the start",
    "note": "machine otherwise idle",
    "figures": [
        {
            "name": "commands, one client",
            "value": 208.4,
            "unit": "events/s",
            "baseline": 4319.2,
            "baseline_name": "single-row commits",
            "target": 0.6,
            "at_most": False,
            "ratio": 0.0482,
            "met": False,
        },
        {
            "name": "load a customer of 10,000 events",
            "value": 3.31,
            "unit": "ms",
            "baseline": 1.25,
            "baseline_name": "one of 10 events",
            "target": 3,
            "at_most": True,
            "ratio": 2.648,
            "met": True,
        },
        {
            "name": "rebuild, peak memory (heap)",
            "value": 364.2,
            "unit": "MiB",
            "baseline": None,
            "baseline_name": "",
            "target": None,
            "at_most": False,
            "ratio": None,
            "met": None,
        },
    ],
}


def test_replaces_only_what_lies_between_the_markers() -> None:
    done = replace_section(DOC, "sqlite", "| the new table |")
    assert "<!-- bench:sqlite:start -->\n| the new table |\n<!-- bench:sqlite:end -->" in done
    assert "the old SQLite table" not in done
    before, after = DOC.split("<!-- bench:sqlite:start -->")[0], DOC.split("Prose between.")[1]
    assert done.startswith(before) and done.endswith(after)  # the PostgreSQL table too


def test_replacing_again_changes_nothing() -> None:
    once = replace_section(DOC, "sqlite", "\n| the new table |\n\n")
    assert replace_section(once, "sqlite", "\n| the new table |\n\n") == once
    assert replace_section(once, "sqlite", "| the new table |") == once


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            DOC.replace("<!-- bench:sqlite:start -->\n", ""),
            "has no marker <!-- bench:sqlite:start -->",
        ),
        (DOC.replace("<!-- bench:sqlite:end -->\n", ""), "has no marker <!-- bench:sqlite:end -->"),
        (DOC + "<!-- bench:sqlite:end -->\n", "has 2 of the marker <!-- bench:sqlite:end -->"),
        (
            DOC.replace("<!-- bench:sqlite:start -->", "<!-- tmp -->")
            .replace("<!-- bench:sqlite:end -->", "<!-- bench:sqlite:start -->")
            .replace("<!-- tmp -->", "<!-- bench:sqlite:end -->"),
            "has <!-- bench:sqlite:end --> before <!-- bench:sqlite:start -->",
        ),
    ],
    ids=["no start", "no end", "repeated", "end first"],
)
def test_refuses_without_its_markers(text: str, said: str) -> None:
    with pytest.raises(MarkersMissing, match="docs/performance.md " + said):
        replace_section(text, "sqlite", "| table |", where="docs/performance.md")


def test_a_section_of_another_store_is_not_a_place_for_this_one() -> None:
    with pytest.raises(MarkersMissing, match="bench:sqlite-quick:start"):
        replace_section(DOC, section_of("sqlite", quick=True), "| table |")


def test_the_table_has_the_columns_of_the_readme_table_and_says_when_and_where() -> None:
    lines = table(RUN).splitlines()
    assert lines[0] == (
        "**SQLite**, 2026-12-08: 1,000,000 events (1,019,814 stored, of about 50,000 customers);"
        " 2-core machine (Linux x86_64, Python 3.11.9), load average 0.3 at the start."
        " Machine otherwise idle."
    )
    assert lines[2] == "| benchmark | SQLite | baseline | ratio | target | met |"
    assert lines[4:] == [
        "| commands, one client | 208 events/s | 4,319 (single-row commits) | 0.05 | >= 0.6 | no |",
        "| load a customer of 10,000 events | 3.3 ms | 1.2 ms (one of 10 events) | 2.65 | <= 3"
        " | yes |",
        "| rebuild, peak memory (heap) | 364 MiB |  |  |  |  |",
    ]


def test_a_quick_run_says_so_and_goes_to_its_own_section() -> None:
    quick = {**RUN, "store": "postgres", "quick": True, "events": 20_000, "stored_events": 0}
    assert table(quick).startswith("**PostgreSQL**, 2026-12-08: 20,000 events (of about")
    assert "; quick run; " in table(quick).splitlines()[0]
    assert section_of("postgres", quick=True) == "postgres-quick"


def test_writing_a_run_twice_leaves_the_same_document(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text(DOC, encoding="utf-8")
    assert write(RUN, doc) == "sqlite"
    first = doc.read_text(encoding="utf-8")
    assert table(RUN) in first and "the old PostgreSQL table" in first
    write(RUN, doc)
    assert doc.read_text(encoding="utf-8") == first


def test_a_refused_write_leaves_the_document_as_it_was(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text(DOC, encoding="utf-8")
    with pytest.raises(
        MarkersMissing, match=re.escape(f"{doc} has no marker <!-- bench:sqlite-quick")
    ):
        write({**RUN, "quick": True}, doc)
    assert doc.read_text(encoding="utf-8") == DOC
