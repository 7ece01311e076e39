"""seq:, pairs: and atomic: files: the same events in any format are the same data set."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.api import build_config
from benchmark.datasets import load_raw
from benchmark.pipeline import run_one
from protocols.data import fingerprint, to_implicit
from protocols.errors import InputError
from protocols.split import make_split

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    """Events of 40 users, distinct timestamps, in a shuffled file order, with some repeats."""
    rng = np.random.default_rng(11)
    rows = []
    for user in range(1, 41):
        length = int(rng.integers(4, 15))
        items = rng.integers(1, 60, size=length)
        rows += [(user, int(i), float(rng.integers(1, 5))) for i in items]
    frame = pd.DataFrame(rows, columns=["user", "item", "rating"])
    frame["timestamp"] = 1_400_000_000 + rng.permutation(len(frame)) * 3600
    return frame.sample(frac=1.0, random_state=1).reset_index(drop=True)


def _by_time(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["timestamp"], kind="stable")


def write_all(events: pd.DataFrame, folder: Path) -> dict[str, str]:
    """The events as csv, csv with ISO dates, atomic (float seconds), pairs and seq files."""
    folder.mkdir(exist_ok=True)
    specs = {}
    events.to_csv(folder / "events.csv", index=False)
    specs["csv"] = f"csv:{folder / 'events.csv'}"
    iso = events.assign(
        timestamp=pd.to_datetime(events["timestamp"], unit="s").dt.strftime("%Y-%m-%dT%H:%M:%S")
    )
    (folder / "iso").mkdir(exist_ok=True)
    iso.to_csv(folder / "iso" / "events.csv", index=False)
    specs["iso"] = f"csv:{folder / 'iso' / 'events.csv'}"
    header = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    body = "".join(
        f"{r.user}\t{r.item}\t{r.rating}\t{float(r.timestamp)}\n" for r in events.itertuples()
    )
    (folder / "events.inter").write_text(header + body)
    specs["atomic"] = f"atomic:{folder / 'events.inter'}"
    ordered = _by_time(events)  # pairs: users interleaved, each user's events in time order
    (folder / "events.txt").write_text(
        "".join(f"{r.user} {r.item}\n" for r in ordered.itertuples())
    )
    specs["pairs"] = f"pairs:{folder / 'events.txt'}"
    lines = [
        f"{user} {' '.join(map(str, group['item']))}\n"
        for user, group in ordered.groupby("user", sort=False)
    ]
    (folder / "seq").mkdir(exist_ok=True)
    (folder / "seq" / "events.txt").write_text("".join(reversed(lines)))  # any user order
    specs["seq"] = f"seq:{folder / 'seq' / 'events.txt'}"
    return specs


def _fingerprint(spec: str, repeats: str = "keep") -> dict:
    return fingerprint(to_implicit(load_raw(spec), repeats=repeats))


@pytest.mark.parametrize("repeats", ["first", "keep"])
def test_same_fields_same_fingerprint(events, tmp_path, repeats):
    specs = write_all(events, tmp_path)
    timed = [_fingerprint(specs[k], repeats) for k in ("csv", "iso", "atomic")]
    assert timed[0] == timed[1] == timed[2]
    untimed = [_fingerprint(specs[k], repeats) for k in ("pairs", "seq")]
    assert untimed[0] == untimed[1]
    assert timed[0]["interactions"] == untimed[0]["interactions"]
    if repeats == "keep":
        assert timed[0]["interactions"] == len(events)


def test_atomic_keeps_ratings_and_float_seconds(tmp_path):
    path = tmp_path / "x.inter"
    path.write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        "u1\ti1\t4.5\t100.25\nu1\ti2\t3\t100.5\n"
    )
    frame = load_raw(f"atomic:{path}").frame
    assert frame["timestamp"].tolist() == [100_250_000, 100_500_000]  # microseconds
    assert frame["rating"].tolist() == [4.5, 3.0] and frame["user"].tolist() == ["u1", "u1"]


def test_same_events_same_metrics_in_every_format(events, tmp_path):
    specs = write_all(events, tmp_path)
    base = build_config("itemknn", seq_len=5, num_negatives=20, ks=(5, 10))
    metrics = {kind: run_one(base.replace(dataset=spec))[0].metrics for kind, spec in specs.items()}
    first = metrics.pop("csv")
    assert first["full"]["test"]["users"] > 30
    for kind, other in metrics.items():
        assert other == first, kind


@pytest.mark.parametrize(
    ("kind", "text", "line", "what"),
    [
        ("seq", "1 2 3\n\n7\n", 3, "expected 'user item1 item2"),
        ("seq", "1 2 3\n2 4\n1 5\n", 3, "user 1 again"),
        ("pairs", "1 2\n1 3\n1 4 5\n", 3, "3 fields, expected 'user item'"),
        ("atomic", "user_id\titem_id\n1\t2\n", 1, "is not NAME:TYPE"),
        ("atomic", "user_id:token\tartist_id:token\n1\t2\n", 1, "no item_id field"),
        ("atomic", "user_id:token\titem_id:token\ttimestamp:float\n1\t2\t3\n1\t3\tx\n", 3, "'x'"),
        ("atomic", "user_id:token\titem_id:token\n1\t2\n1\t2\t3\n", 3, "3 fields, expected 2"),
    ],
)
def test_malformed_line_is_named(tmp_path, kind, text, line, what):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(InputError, match=f"bad.txt: line {line}: .*{what}"):
        load_raw(f"{kind}:{path}")


def test_malformed_file_on_the_command_line_is_one_line_exit_2(tmp_path):
    path = tmp_path / "events.txt"
    path.write_text("1 2\n1 3 4\n")
    result = subprocess.run(
        [sys.executable, "-m", "benchmark.run", "--dataset", f"pairs:{path}", "--models", "pop",
         "--out", str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith("line 2: 3 fields, expected 'user item'")
    assert not (tmp_path / "out").exists()


def test_files_without_a_clock_refuse_the_temporal_split(events, tmp_path):
    specs = write_all(events, tmp_path)
    for kind in ("seq", "pairs"):
        data = to_implicit(load_raw(specs[kind]))
        with pytest.raises(InputError, match="--split temporal needs timestamps"):
            make_split(data, "temporal")
        assert make_split(data, "loo").test.n_users == 40
    make_split(to_implicit(load_raw(specs["atomic"])), "temporal")  # timed: allowed


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("csv", "user,item,timestamp\n1,007,1\n1,7,2\n2, 8 ,3\n"),
        ("pairs", "1 007\n1 7\n2 8\n"),
        ("seq", "1 007 7\n2 8\n"),
    ],
)
def test_ids_are_kept_as_given(tmp_path, kind, text):
    """'007' and '7' are two items (a leading zero is part of an id); spaces around a field
    are not; a column of plain integers stays integer."""
    path = tmp_path / f"f.{kind}"
    path.write_text(text)
    frame = load_raw(f"{kind}:{path}").frame
    assert frame["item"].tolist() == ["007", "7", "8"]
    assert frame["user"].dtype == np.int64 and frame["user"].tolist() == [1, 1, 2]
