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


def _target_dir() -> Path:
    """Cargo's target directory: $CARGO_TARGET_DIR, else what ``cargo
    metadata`` says (a config file may move it), else ``target/``."""
    env = os.environ.get("CARGO_TARGET_DIR")
    if env:
        return Path(env) if Path(env).is_absolute() else ROOT / env
    try:
        meta = subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--no-deps"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        )
        return Path(json.loads(meta.stdout)["target_directory"])
    except (OSError, subprocess.CalledProcessError, KeyError, ValueError):
        return ROOT / "target"


def _binary() -> Path:
    """The liverkit binary: $LIVERKIT_BIN, or the newest cargo build in the
    target directory (built here when there is none)."""
    env = os.environ.get("LIVERKIT_BIN")
    if env:
        return Path(env)
    target = _target_dir()
    built = [p for p in (target / "release/liverkit", target / "debug/liverkit") if p.exists()]
    if not built:
        subprocess.run(["cargo", "build", "--release", "--bin", "liverkit"], cwd=ROOT, check=True)
        built = [target / "release/liverkit"]
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
