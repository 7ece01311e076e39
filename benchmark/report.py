"""Comparison tables generated from run records (never edited by hand).

python -m benchmark.report results/ml-1m            # prints Markdown, writes .md .tex .csv
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from tabulate import tabulate

from benchmark import records
from benchmark.run import OneLineParser, guarded
from protocols.errors import InputError

DEFAULT_COLUMNS = (
    "sampled:HR@10",
    "sampled:NDCG@10",
    "sampled:MRR",
    "full:HR@10",
    "full:NDCG@10",
    "full:MRR",
)
_BOLD_ON, _BOLD_OFF = "\x01", "\x02"  # markers replaced per output format


def comparison_rows(recs: list[dict], columns: tuple[str, ...], split: str):
    """One row per (model, parameters): mean over seeds, and the std where there are several."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in recs:
        groups[_label(r)].append(r)
    rows = []
    for label, runs in sorted(groups.items()):
        values = []
        for col in columns:
            protocol, metric = col.split(":")
            found = [r["metrics"].get(protocol, {}).get(split, {}).get(metric) for r in runs]
            found = [v for v in found if v is not None]
            values.append(
                (float(np.mean(found)), float(np.std(found)), len(found)) if found else None
            )
        rows.append((label, values))
    return rows


def _label(record: dict) -> str:
    params = record["config"].get("params") or {}
    extra = ",".join(f"{k}={v}" for k, v in sorted(params.items()))
    return record["model"] + (f" ({extra})" if extra else "")


def _group_key(record: dict) -> str:
    """Records are comparable when data, split and sampled protocol agree (seed may differ)."""
    c = record["config"]
    fields = [
        record["dataset"]["name"],
        record["dataset"]["sha256"],
        c["split"],
        c["targets_per_user"],
        c["seq_len"],
        c["num_negatives"],
        c["negative_sampler"],
    ]
    return json.dumps(fields)


def _cells(rows, fmt: str) -> list[list[str]]:
    """Formatted cells with the best value of each column wrapped in bold markers."""
    n_cols = len(rows[0][1]) if rows else 0
    best = [
        max((v[0] for _, vs in rows if (v := vs[c]) is not None), default=None)
        for c in range(n_cols)
    ]
    table = []
    for label, values in rows:
        line = [label]
        for c, v in enumerate(values):
            if v is None:
                line.append("–")
                continue
            text = fmt.format(v[0]) + (f" ± {fmt.format(v[1])}" if v[2] > 1 else "")
            line.append(f"{_BOLD_ON}{text}{_BOLD_OFF}" if np.isclose(v[0], best[c]) else text)
        table.append(line)
    return table


def render(rows, columns: tuple[str, ...], caption: str) -> dict[str, str]:
    """Markdown, LaTeX (booktabs) and CSV text of one comparison table."""
    headers = ["model", *columns]
    cells = _cells(rows, "{:.4f}")
    markdown = tabulate(cells, headers, tablefmt="github")
    markdown = markdown.replace(_BOLD_ON, "**").replace(_BOLD_OFF, "**")
    latex = tabulate(cells, headers, tablefmt="latex_booktabs")
    latex = latex.replace(_BOLD_ON, "\\textbf{").replace(_BOLD_OFF, "}").replace("±", "$\\pm$")
    latex = (
        "\\begin{table}[t]\n\\centering\n\\caption{"
        + _latex_escape(caption)
        + "}\n"
        + latex
        + "\n\\end{table}"
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    for line in cells:
        writer.writerow([c.replace(_BOLD_ON, "").replace(_BOLD_OFF, "") for c in line])
    return {"md": f"{caption}\n\n{markdown}\n", "tex": latex + "\n", "csv": buffer.getvalue()}


def _latex_escape(text: str) -> str:
    for char in "\\&%$#_{}":
        text = text.replace(char, "\\" + char)
    return text


def _caption(group: list[dict], split: str) -> str:
    c, d = group[0]["config"], group[0]["dataset"]
    n_seeds = len({r["config"]["seed"] for r in group})
    seeds = f"; mean ± std over {n_seeds} seeds" if n_seeds > 1 else ""
    return (
        f"{d['name']} ({d['users']} users, {d['items']} items, {d['interactions']} "
        f"interactions), {c['split']} split, {split} set; sampled: {c['num_negatives']} "
        f"{c['negative_sampler']} negatives; full: all unseen items; ties count against "
        f"the target{seeds}. Best value in bold."
    )


def write_tables(out_dir: Path, columns: tuple[str, ...], split: str) -> str:
    recs = records.read_records(out_dir)
    if not recs:
        raise InputError(f"no run records under {out_dir / 'runs'}")
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in recs:
        groups[_group_key(r)].append(r)
    outputs: dict[str, list[str]] = defaultdict(list)
    for group in groups.values():
        rendered = render(comparison_rows(group, columns, split), columns, _caption(group, split))
        for fmt, text in rendered.items():
            outputs[fmt].append(text)
    for fmt, texts in outputs.items():
        _write_text(out_dir / f"table.{fmt}", "\n".join(texts))
    return "\n".join(outputs["md"])


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


@guarded
def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(
        prog="python -m benchmark.report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("out", type=Path, help="a --out folder of benchmark.run")
    parser.add_argument("--split", default="test", choices=["test", "valid"])
    parser.add_argument(
        "--columns",
        default=",".join(DEFAULT_COLUMNS),
        help="protocol:metric list (default %(default)s)",
    )
    args = parser.parse_args(argv)
    if not args.out.is_dir():
        raise InputError(f"{args.out} is not a folder")
    columns = tuple(c.strip() for c in args.columns.split(",") if c.strip())
    if any(c.count(":") != 1 for c in columns):
        raise InputError("--columns entries look like sampled:HR@10 or full:NDCG@10")
    print(write_tables(args.out, columns, args.split))
    return 0


if __name__ == "__main__":
    sys.exit(main())
