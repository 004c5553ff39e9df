"""Shared fixtures: the repository's test data and the command-line program
whose ``--json`` output the results must equal."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTDATA = ROOT / "testdata"
SAMPLE = TESTDATA / "sample_case"


def _binary() -> Path:
    """The liverkit binary: $LIVERKIT_BIN, or the newest cargo build (built
    here when there is none)."""
    env = os.environ.get("LIVERKIT_BIN")
    if env:
        return Path(env)
    built = [p for p in (ROOT / "target/release/liverkit", ROOT / "target/debug/liverkit") if p.exists()]
    if not built:
        subprocess.run(["cargo", "build", "--release", "--bin", "liverkit"], cwd=ROOT, check=True)
        built = [ROOT / "target/release/liverkit"]
    return max(built, key=lambda p: p.stat().st_mtime)


@pytest.fixture(scope="session")
def cli():
    """Runs ``liverkit ARGS --json`` (from the repository root) and returns
    the parsed report."""
    binary = _binary()

    def run(*args: str) -> dict[str, Any]:
        r = subprocess.run([str(binary), *args, "--json"], cwd=ROOT, capture_output=True, text=True)
        assert r.returncode in (0, 1), r.stderr
        return json.loads(r.stdout)

    return run


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    # Relative paths in reports read the same as the command line's.
    monkeypatch.chdir(ROOT)
