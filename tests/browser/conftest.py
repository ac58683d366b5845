"""The browser the CORS test drives: Debian's chromium, required in CI, skipped (with how to install
it) elsewhere."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM_PATHS = ("/usr/bin/chromium", "chromium")


@pytest.fixture(scope="session")
def chromium() -> str:
    for candidate in CHROMIUM_PATHS:
        found = shutil.which(candidate)
        if found:
            return found
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is missing in CI (scripts/test installs it: apt-get install -y chromium)")
    pytest.skip("no chromium here: sudo apt-get install -y chromium")
