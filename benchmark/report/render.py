"""Result tables as Markdown, LaTeX (booktabs) and tidy CSV, with data sets as column groups.

Numbers are right-aligned; in a ranked table the best value of each column is bold and the
second underlined. Values are `Summary(mean, std, n)`: std is the sample std (ddof 1), None
when n = 1.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

import numpy as np
from tabulate import tabulate


@dataclass(frozen=True)
class Summary:
    """A cell: mean over n runs (seeds) and the sample standard deviation (None when n = 1)."""

    mean: float
    std: float | None
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Summary | None:
        if not values:
            return None
        std = float(np.std(values, ddof=1)) if len(values) > 1 else None
        return cls(float(np.mean(values)), std, len(values))


@dataclass(frozen=True)
class Table:
    """Rows of labelled cells under column groups (one group per data set; "" for none)."""

    caption: str
    groups: tuple[tuple[str, tuple[str, ...]], ...]  # (group name, its column names)
    rows: tuple[tuple[str, tuple[Summary | None, ...]], ...]  # (label, one cell per column)
    ranked: bool = True  # bold best, underline second, in accuracy columns (higher is better)
    decimals: int = 4  # places after the point of every cell
    # (label, group) -> mark: after the label when the group is "", else after that group's
    # first cell (a mark that holds for one data set of several)
    marks: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def columns(self) -> list[tuple[str, str]]:
        return [(g, c) for g, cs in self.groups for c in cs]


# Columns whose higher value is better; others (coverage, ARP, Gini, ...) are never bolded:
# which end is better there is the reader's judgement.
ACCURACY = ("HR", "Recall", "NDCG", "MRR")


def _is_accuracy(column: str) -> bool:
    return column.split(":")[-1].split("@")[0] in ACCURACY


def _places(table: Table) -> list[dict[int, int]]:
    """Per column: {row index: 1 for the best, 2 for the second} (ties share a place)."""
    places = []
    for c, (_, column) in enumerate(table.columns):
        means = sorted({round(v.mean, 12) for _, vs in table.rows if (v := vs[c]) is not None})
        top = means[::-1][:2] if table.ranked and _is_accuracy(column) else []
        places.append(
            {
                i: top.index(round(vs[c].mean, 12)) + 1
                for i, (_, vs) in enumerate(table.rows)
                if vs[c] is not None and round(vs[c].mean, 12) in top
            }
        )
    return places


def _text(v: Summary | None, pm: str, decimals: int = 4) -> str:
    if v is None or math.isnan(v.mean):
        return "–"
    return f"{v.mean:.{decimals}f}" + (f"{pm}{v.std:.{decimals}f}" if v.std is not None else "")


def _cell_marks(table: Table, label: str) -> list[str]:
    """The mark after each cell of a row: on the first cell of each marked group."""
    out, start = [""] * len(table.columns), 0
    for group, columns in table.groups:
        if group:
            out[start] = table.marks.get((label, group), "")
        start += len(columns)
    return out


def markdown(table: Table) -> str:
    places = _places(table)
    wrap = {1: ("**", "**"), 2: ("<ins>", "</ins>")}
    headers = ["model"] + [f"{g} {c}".strip() for g, c in table.columns]
    body = []
    for i, (label, values) in enumerate(table.rows):
        line = [label + table.marks.get((label, ""), "")]
        for c, (v, mark) in enumerate(zip(values, _cell_marks(table, label), strict=True)):
            on, off = wrap.get(places[c].get(i, 0), ("", ""))
            line.append(f"{on}{_text(v, ' ± ', table.decimals)}{off}{mark}")
        body.append(line)
    align = ["left"] + ["right"] * len(table.columns)
    text = tabulate(body, headers, tablefmt="github", colalign=align, disable_numparse=True)
    return f"{table.caption}\n\n{text}\n"


LATEX_PM = " $\\pm$ "


def latex(table: Table) -> str:
    places = _places(table)
    wrap = {1: ("\\textbf{", "}"), 2: ("\\underline{", "}")}
    n = len(table.columns)
    lines = ["\\begin{tabular}{l" + "r" * n + "}", "\\toprule"]
    if any(g for g, _ in table.groups):
        heads, rules, start = [""], [], 2
        for g, cs in table.groups:
            heads.append(f"\\multicolumn{{{len(cs)}}}{{c}}{{{escape(g)}}}")
            rules.append(f"\\cmidrule(lr){{{start}-{start + len(cs) - 1}}}")
            start += len(cs)
        lines += [" & ".join(heads) + " \\\\", " ".join(rules)]
    lines.append(" & ".join(["model"] + [escape(c) for _, c in table.columns]) + " \\\\")
    lines.append("\\midrule")
    for i, (label, values) in enumerate(table.rows):
        cells = [escape(label + table.marks.get((label, ""), ""))]
        for c, (v, mark) in enumerate(zip(values, _cell_marks(table, label), strict=True)):
            on, off = wrap.get(places[c].get(i, 0), ("", ""))
            cells.append(f"{on}{_text(v, LATEX_PM, table.decimals)}{off}{escape(mark)}")
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    body = "\n".join(lines)
    if n > 6:  # wide tables are scaled to the text width (needs graphicx)
        body = "\\resizebox{\\linewidth}{!}{%\n" + body + "}"
    return (
        "% needs \\usepackage{booktabs} (and graphicx for wide tables)\n"
        "\\begin{table}[t]\n\\centering\n\\caption{" + escape(table.caption) + "}\n"
        + body + "\n\\end{table}\n"
    )  # fmt: skip


def tidy_rows(table: Table) -> list[dict]:
    """One dict per cell: group, row, column, mean, std, n (numbers stay numbers)."""
    out = []
    for label, values in table.rows:
        for (group, column), v in zip(table.columns, values, strict=True):
            if v is not None:
                out.append(
                    {"group": group, "row": label, "column": column,
                     "mean": v.mean, "std": v.std, "n": v.n}
                )  # fmt: skip
    return out


def csv_text(rows: list[dict], header: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, header, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in header})
    return buffer.getvalue()


def render(table: Table) -> dict[str, str]:
    """{"md", "tex", "csv"} texts of one table (csv: tidy, one line per cell)."""
    header = ["group", "row", "column", "mean", "std", "n"]
    return {"md": markdown(table), "tex": latex(table), "csv": csv_text(tidy_rows(table), header)}


_LATEX = {
    **{char: "\\" + char for char in "&%$#_{}"},
    "\\": "\\textbackslash{}", "~": "\\textasciitilde{}", "^": "\\textasciicircum{}",
    "<": "$<$", ">": "$>$", "±": "$\\pm$",
}  # fmt: skip


def escape(text: str) -> str:
    """Text for LaTeX's text mode (`<`, `>` and `>=` included: OT1 fonts print them as
    other glyphs)."""
    text = text.replace("<ins>", "").replace("</ins>", "")
    text = "".join(_LATEX.get(char, char) for char in text)
    return text.replace("$>$=", "$\\geq$").replace("$<$=", "$\\leq$")
