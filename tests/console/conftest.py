"""The browser the console's tests drive: Debian's Chromium, headless, one per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.conftest import CHROMIUM, chromium_missing


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if why := chromium_missing():  # removed since the session began
        pytest.fail(why)
    with sync_playwright() as playwright:
        found = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield found
        found.close()
