"""Shared fixtures of the playground tests: the app under FastAPI's TestClient."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from looplab.playground.server import create_app


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(max_sessions=3)) as c:
        yield c
