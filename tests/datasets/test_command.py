"""`python -m benchmark.datasets list | info`: the catalogue and exact statistics."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from benchmark.datasets import DATASETS
from benchmark.datasets.statistics import statistics
from protocols.data import to_implicit
from protocols.types import RawData

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args, data: Path):
    env = {"PATH": "/usr/bin:/bin", "SEQREC_DATA": str(data), "SEQREC_CACHE": str(data / "c")}
    return subprocess.run(
        [sys.executable, "-m", "benchmark.datasets", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


def test_statistics_are_exact():
    # user a: x y x at t 1 1 2 (one repeated pair, one repeat event, one equal-time step of 2);
    # user b: y z at t 5 6
    rows = [("a", "x", 1), ("a", "y", 1), ("a", "x", 2), ("b", "y", 5), ("b", "z", 6)]
    frame = pd.DataFrame(rows, columns=["user", "item", "timestamp"])
    stats = statistics(to_implicit(RawData("k", frame), repeats="keep"))
    assert stats["users"] == 2 and stats["items"] == 3 and stats["interactions"] == 5
    assert stats["mean history length"] == 2.5 and stats["median history length"] == 2.5
    assert stats["density"] == pytest.approx(5 / 6)
    assert stats["repeated (user, item) pairs"] == 1
    assert stats["repeat events (dropped by --repeats first)"] == 1
    assert stats["equal-timestamp share"] == pytest.approx(1 / 3)
    first = statistics(to_implicit(RawData("k", frame), repeats="first"))
    assert first["repeated (user, item) pairs"] == 0 and first["interactions"] == 4


def test_list_says_what_is_present(tmp_path):
    (tmp_path / "steam").mkdir()
    (tmp_path / "steam" / DATASETS.get("steam").file).write_bytes(b"")
    present = {name: DATASETS.get(name).present(tmp_path) for name in DATASETS}
    assert present["steam"] and not present["amazon-beauty"] and not present["ml-100k"]
    result = _cli("list", data=tmp_path)
    assert result.returncode == 0
    line = next(row for row in result.stdout.splitlines() if row.startswith("| steam "))
    assert "steam/steam_reviews.json.gz" in line and line.rstrip(" |").endswith("yes")


def test_info_on_a_pairs_file_and_on_a_missing_set(tmp_path):
    path = tmp_path / "events.txt"
    path.write_text("1 10\n1 11\n2 10\n1 10\n")
    result = _cli("info", f"pairs:{path}", data=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "| repeated (user, item) pairs                | 1 " in result.stdout
    assert "| interactions                               | 4 " in result.stdout
    missing = _cli("info", "gowalla", data=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and "loc-gowalla_totalCheckins.txt.gz" in missing.stderr
