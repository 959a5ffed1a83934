"""The generated tables of README.md and docs/ match the committed JSON they are made from."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_generated_tables_are_up_to_date():
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / "make_tables.py"), "--check"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "would change: nothing" in proc.stdout
