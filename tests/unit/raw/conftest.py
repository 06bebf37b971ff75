"""The raw layer's scripted loopback servers (tests/helpers/loopback.py), closed after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.helpers.loopback import LoopbackServer, loopback_servers


@pytest.fixture
def loopback() -> Iterator[Callable[..., LoopbackServer]]:
    """`loopback(answer, tls=None, path="/cbp11st.zip")` starts a server; all close at teardown."""
    with loopback_servers() as make:
        yield make
