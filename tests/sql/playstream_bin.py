"""Where the built `playstream` binary is: $PLAYSTREAM_BIN, else target/debug/playstream under
$CARGO_TARGET_DIR (CI's default: target/ of the checkout). A missing binary fails the test
loudly; scripts/test.sh builds it (cargo test) before running pytest."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def playstream_bin() -> Path:
    if os.environ.get("PLAYSTREAM_BIN"):
        path = Path(os.environ["PLAYSTREAM_BIN"])
    else:
        target = Path(os.environ.get("CARGO_TARGET_DIR", "target"))
        path = (target if target.is_absolute() else ROOT / target) / "debug" / "playstream"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run `cargo build` first (or set PLAYSTREAM_BIN)")
    return path


def run(*args: str) -> subprocess.CompletedProcess:
    """Runs the binary; a non-zero exit fails with its stderr."""
    done = subprocess.run([str(playstream_bin()), *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "RUST_LOG": "warn"})
    if done.returncode != 0:
        raise AssertionError(f"playstream {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done
