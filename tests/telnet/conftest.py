"""Fixtures for the telnet quiz: a whole site on free ports (telnet_support.start_site)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from telnet_support import Site, site_fixture


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from site_fixture(tmp_path)
