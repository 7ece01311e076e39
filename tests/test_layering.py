"""Dependencies point one way: protocols <- baselines, seqmodels <- benchmark."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {
    "protocols": {"protocols"},
    "baselines": {"protocols", "baselines"},
    "seqmodels": {"protocols", "seqmodels"},
    "benchmark": {"protocols", "baselines", "seqmodels", "benchmark"},
}


def _imports(path: Path) -> set[str]:
    names = set()
    tree = ast.parse(path.read_text())
    # A `python -m` entry block runs as module __main__, not as this module: it makes no cycle.
    tree.body = [node for node in tree.body if not _is_main_block(node)]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_one_way(package):
    for path in (ROOT / package).glob("*.py"):
        ours = _imports(path) & set(ALLOWED)
        assert ours <= ALLOWED[package], f"{path.name} imports {ours - ALLOWED[package]}"


def test_implicit_is_imported_only_where_it_is_wrapped():
    users = {
        p.name for pkg in ALLOWED for p in (ROOT / pkg).glob("*.py") if "implicit" in _imports(p)
    }
    assert users <= {"itemknn.py", "mf.py"}


def _benchmark_imports(path: Path) -> set[str]:
    """Modules of `benchmark` that a file imports, at any depth (function-level imports too)."""
    names = set()
    tree = ast.parse(path.read_text())
    # A `python -m` entry block runs as module __main__, not as this module: it makes no cycle.
    tree.body = [node for node in tree.body if not _is_main_block(node)]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("benchmark"):
            if node.module == "benchmark":
                names.update(a.name for a in node.names)
            else:
                names.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            names.update(
                a.name.split(".")[1] for a in node.names if a.name.startswith("benchmark.")
            )
    return names


def _is_main_block(node: ast.stmt) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


def test_benchmark_has_no_import_cycle():
    graph = {p.stem: _benchmark_imports(p) for p in (ROOT / "benchmark").glob("*.py")}

    def visit(module, trail):
        assert module not in trail, " -> ".join([*trail, module])
        for child in graph.get(module, ()):
            visit(child, (*trail, module))

    for module in graph:
        visit(module, ())
