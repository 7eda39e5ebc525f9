"""The README stays short and points at every guide; no link in the docs leads nowhere; the
set-up commands the README gives are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.docs import markers

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
GUIDES = sorted((ROOT / "docs").glob("*.md"))

# The README's two set-up commands, word for word: a newcomer copies them, and .ci/run runs
# the second.
DEMO_COMMAND = (
    "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/ledger demo"
    " && .venv/bin/ledger customer show CUST-00001"
)
TEST_COMMAND = (
    "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/pytest -n auto"
)

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def prose(text: str) -> str:
    """The Markdown without code blocks and code spans, where a bracket is no link."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def links(path: Path) -> list[str]:
    return LINK.findall(prose(path.read_text(encoding="utf-8")))


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file."""
    found: set[str] = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        n, unique = 0, slug
        while unique in found:
            n += 1
            unique = f"{slug}-{n}"
        found.add(unique)
    return found


def test_the_readme_is_short() -> None:
    size = len(README.read_bytes())
    assert size < 12_000, f"README.md is {size:,} bytes; under 12 KB: move detail to docs/"


def test_the_guides_exist() -> None:
    names = {guide.name for guide in GUIDES}
    for name in (
        "managers.md",
        "compliance.md",
        "analysts.md",
        "operators.md",
        "http-api.md",
        "performance.md",
    ):
        assert name in names, f"docs/{name} is missing"


def test_the_readme_links_every_guide() -> None:
    linked = {(README.parent / target.split("#")[0]).resolve() for target in links(README)}
    unlinked = [f"docs/{guide.name}" for guide in GUIDES if guide.resolve() not in linked]
    assert not unlinked, f"README.md links no {', '.join(unlinked)}"


@pytest.mark.parametrize("page", [README, *GUIDES], ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: not ours to check
            continue
        file, _, anchor = target.partition("#")
        path = (page.parent / file).resolve() if file else page
        if not path.exists():
            broken.append(f"{target}: no file {path.relative_to(ROOT)}")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(f"{target}: no heading #{anchor} in {path.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_readme_gives_the_two_set_up_commands_word_for_word() -> None:
    lines = [line.strip() for line in README.read_text(encoding="utf-8").splitlines()]
    for command in (DEMO_COMMAND, TEST_COMMAND):
        assert command in lines, f"README.md lacks the set-up command, word for word: {command}"


def test_ci_runs_the_readme_test_command_word_for_word() -> None:
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert TEST_COMMAND in lines, f".ci/run does not run the README's command: {TEST_COMMAND}"


@pytest.mark.parametrize("section", ["sqlite", "postgres", "sqlite-quick", "postgres-quick"])
def test_performance_has_a_place_for_each_benchmark_table(section: str) -> None:
    """python -m bench refuses to start without its section's markers, each there once."""
    text = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    start, end = markers(section)
    assert text.count(start) == 1 and text.count(end) == 1
    assert text.index(start) < text.index(end)
