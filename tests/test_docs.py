"""The worked plugin example of docs/models.md runs as written, through the command line."""

import re
import sys
from pathlib import Path

from benchmark import records, run
from protocols import registry

ROOT = Path(__file__).resolve().parents[1]
SYNTH = "synthetic:n_users=150,n_items=80,n_clusters=6,mean_length=15,seed=2"


def test_the_markov_plugin_of_the_models_page_runs(tmp_path, monkeypatch):
    page = (ROOT / "docs" / "models.md").read_text()
    code = next(b for b in re.findall(r"```python\n(.*?)```", page, re.S) if "my_models.py" in b)
    (tmp_path / "my_models.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry.MODELS, "entries", dict(registry.MODELS.entries))
    argv = ["--plugins", "my_models", "--models", "markov,pop", "--dataset", SYNTH,
            "--seq-len", "10", "--num-negatives", "30", "--out", str(tmp_path / "out")]  # fmt: skip
    try:
        assert run.main(argv) == 0
    finally:
        sys.modules.pop("my_models", None)
    found = {
        r.model: r.metric("full", "test", "NDCG@10") for r in records.read_records(tmp_path / "out")
    }
    assert found["markov"] > found["pop"]  # the synthetic users drift through item clusters
