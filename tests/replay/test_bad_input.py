"""A replay that fails leaves nothing behind: no temporary folder, no half-kept file."""

from __future__ import annotations

import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ledger.application import Ledger
from ledger.projections.activity import Activity
from replay import core
from replay.core import Reading, Replay

KNOWN = Reading(as_known_at=datetime(2030, 1, 1, tzinfo=timezone.utc))


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder replays make their temporary stores in, for this test alone."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_a_replay_that_fails_leaves_no_folder_and_no_half_kept_file(
        world: Ledger, temp_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> int:
        raise OverflowError("date value out of range")

    working = core.end_of
    monkeypatch.setattr(core, "end_of", broken)
    out = tmp_path / "kept.sqlite"
    for kept in (None, out):
        with pytest.raises(OverflowError):
            Replay(world, [Activity()], KNOWN, out=kept)
    assert list(temp_dir.iterdir()) == []
    assert not out.exists()
    monkeypatch.setattr(core, "end_of", working)
    with pytest.raises(RuntimeError), Replay(world, [Activity()], KNOWN) as replay:
        replay.run()
        raise RuntimeError("a report failed on the replay")
    assert list(temp_dir.iterdir()) == []
