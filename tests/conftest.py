"""Shared test set-up: files-only plotting, and small fast configs."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest

from looplab.config import Config


@pytest.fixture
def quick_config(tmp_path: object) -> Config:
    """The default job shrunk to run in well under a second, writing under tmp_path."""
    return Config(epochs=5, n=200, out=str(tmp_path)).validate()
