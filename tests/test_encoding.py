"""The fast JSON writes exactly what the standard library wrote: fingerprints of commands
recorded before, and events stored before, stay comparable."""

from __future__ import annotations

import json
import typing
from datetime import timedelta, timezone

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import JSONTranscoder, TranscodingNotRegisteredError
from hypothesis import given
from hypothesis import strategies as st

from ledger.aggregates import Campaign, Customer, Rep
from ledger.application import Ledger
from ledger.encoding import Transcoder, compact

# No command or event holds a float (money is Decimal): orjson writes some floats in another
# form of the same number (1e-07 as 1e-7), so they are left out of the byte-for-byte checks.
leaves = st.none() | st.booleans() | st.integers() | st.text()
floats = st.floats(allow_nan=False, allow_infinity=False)
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(values, st.booleans())
def test_compact_is_the_standard_librarys_json(value: object, sort_keys: bool) -> None:
    assert compact(value, sort_keys=sort_keys) == json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys
    )


def test_what_orjson_cannot_write_is_written_by_the_standard_library() -> None:
    for value in (2**70, "\ud800 alone", {1: "int key"}):
        assert compact(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


instants = st.datetimes(timezones=st.just(timezone.utc)) | st.datetimes(
    timezones=st.sampled_from([timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))])
)
event_values = st.recursive(
    leaves | instants | st.decimals(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def library_transcoder(transcoder: JSONTranscoder) -> JSONTranscoder:
    Ledger.register_transcodings(None, transcoder)  # type: ignore[arg-type]
    return transcoder


@given(st.dictionaries(st.text(), event_values, max_size=8))
def test_events_are_stored_as_the_library_stores_them(state: dict[str, object]) -> None:
    ours, theirs = library_transcoder(Transcoder()), library_transcoder(JSONTranscoder())
    assert ours.encode(state) == theirs.encode(state)
    assert ours.decode(ours.encode(state)) == state


@given(st.lists(floats))
def test_floats_come_back_as_they_went(numbers: list[float]) -> None:
    ours = library_transcoder(Transcoder())
    assert ours.decode(ours.encode({"numbers": numbers})) == {"numbers": numbers}


def test_a_type_without_a_transcoding_is_refused_as_before() -> None:
    with pytest.raises(TranscodingNotRegisteredError):
        library_transcoder(Transcoder()).encode({"when": {1, 2}})


def test_no_event_holds_a_uuid() -> None:
    """orjson writes a UUID as a plain string, not through the library's transcoding: it
    would come back as a str. So no event field may be one."""
    checked = 0
    for aggregate in (Customer, Rep, Campaign):
        for event_class in vars(aggregate).values():
            if isinstance(event_class, type) and issubclass(event_class, Aggregate.Event):
                hints = typing.get_type_hints(
                    event_class.__init__, vars(__import__(event_class.__module__, fromlist=["*"]))
                )
                hints.pop("originator_id", None)  # stored beside the state, not in it
                assert "UUID" not in repr(hints), (event_class, hints)
                checked += 1
    assert checked >= 30
