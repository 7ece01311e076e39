"""The README's examples run as written, and its results block is what the committed results
produce. (`make test` and `make benchmark` are the two commands CI and the committed results'
provenance already exercise; the `python -m` and Python examples are run here.)"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.datasets import data_root
from benchmark.report import readme

ROOT = Path(__file__).resolve().parents[1]
TEXT = (ROOT / "README.md").read_text()


def examples() -> list[tuple[str, str]]:
    """(kind, text) in README order: shell commands one by one, runnable Python blocks whole."""
    found = []
    for match in re.finditer(r"```(bash|python)\n(.*?)```", TEXT, flags=re.S):
        language, body = match.groups()
        if language == "bash":
            found += [("bash", line) for line in body.splitlines() if line.startswith("python -m")]
        elif "..." not in body:  # a fragment (the model skeleton) is not a program
            found.append(("python", body))
    return found


def test_the_readme_has_an_example_of_each_command():
    commands = " ".join(text for kind, text in examples() if kind == "bash")
    for module in ("run", "report", "ablate", "tune"):
        assert f"python -m benchmark.{module} " in commands
    assert "--config studies/" in commands
    assert any(kind == "python" for kind, _ in examples())


def test_the_results_block_is_generated_from_the_committed_results():
    start, end = TEXT.index(readme.BEGIN), TEXT.index(readme.END) + len(readme.END)
    assert TEXT[start:end] == readme.block(), "run `make readme-results`"


@pytest.mark.slow
@pytest.mark.skipif(
    not (data_root() / "ml-100k" / "u.data").is_file(), reason="ml-100k is not in the data folder"
)
def test_every_example_runs_as_written(tmp_path):
    (tmp_path / "studies").symlink_to(ROOT / "studies")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SEQREC_CACHE": str(tmp_path / "cache")}
    for kind, text in examples():
        if kind == "bash":  # `python` is this interpreter (the project's environment)
            command = ["bash", "-c", text.replace("python", sys.executable, 1)]
        else:
            command = [sys.executable, "-c", text]
        result = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, f"{text}\n{result.stderr[-2000:]}"
    assert (tmp_path / "results" / "example" / "table.md").is_file()
    assert (tmp_path / "results" / "tuning" / "example" / "best.json").is_file()


def test_provenance_counts_only_the_records_still_in_the_folder():
    entry = {"commit": "abc", "device": "cpu", "started": "2026-12-03T00:00", "wall_seconds": 61}
    first = {**entry, "command": "first", "runs": ["a", "b", "c"]}
    gone = {**entry, "command": "gone", "runs": ["e"]}
    text = readme._provenance("results/x", [first, gone], {"a", "b", "d"})
    assert "`first` at commit `abc` on cpu, 2026-12-03, 1 min 1 s (2 of its 3 runs" in text
    assert "gone" not in text
    second = {**entry, "command": "second", "runs": ["b", "d"], "commit": "def"}
    second |= {"started": "2026-12-05T00:00", "wall_seconds": 3600}
    text = readme._provenance("results/x", [first, second, gone], {"a", "b", "d"})
    assert "2 commands (4 runs) at commits `abc`, `def` on cpu, 2026-12-03 to 2026-12-05" in text
    assert "1 h 1 min in all" in text and "(results/x/provenance.json)" in text
    assert "stopped before" not in text
    text = readme._provenance("results/x", [first], {"a", "b", "z"})  # z: its writer was killed
    assert "1 more by a command stopped before it recorded itself" in text
