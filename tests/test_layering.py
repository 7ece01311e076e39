"""Dependencies point one way: protocols <- baselines, seqmodels <- benchmark; inside
`benchmark` no module imports itself back, `__main__` modules and entry blocks included."""

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
PACKAGES = {"datasets", "tune", "report"}  # benchmark's packages: data, tuning, reporting


def _modules(package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of `package` (a package is its __init__)."""
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imported(path: Path) -> set[str]:
    """Dotted names a file imports, at any depth (function-level imports and entry blocks too);
    `from a.b import c` names a.b.c as well, in case c is a module."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_one_way(package):
    for module, path in _modules(package).items():
        ours = {name.split(".")[0] for name in _imported(path)} & set(ALLOWED)
        assert ours <= ALLOWED[package], f"{module} imports {ours - ALLOWED[package]}"


def test_implicit_is_imported_only_where_it_is_wrapped():
    users = {
        module
        for package in ALLOWED
        for module, path in _modules(package).items()
        if "implicit" in {name.split(".")[0] for name in _imported(path)}
    }
    assert users <= {"baselines.itemknn", "baselines.mf"}


def test_benchmark_has_no_import_cycle():
    modules = _modules("benchmark")
    graph = {m: sorted(_imported(p) & set(modules) - {m}) for m, p in modules.items()}
    # `from benchmark.x import y` names both; keep the module actually reached (y when it is one)
    graph = {m: [n for n in deps if not any(d.startswith(n + ".") for d in deps)]
             for m, deps in graph.items()}  # fmt: skip
    done: set[str] = set()

    def visit(module, trail):
        assert module not in trail, " -> ".join([*trail, module])
        if module in done:
            return
        for child in graph[module]:
            visit(child, (*trail, module))
        done.add(module)

    for module in graph:
        visit(module, ())


def test_benchmark_top_level_is_the_run_core_and_three_packages():
    folder = ROOT / "benchmark"
    packages = {p.name for p in folder.iterdir() if (p / "__init__.py").is_file()}
    modules = [p.stem for p in folder.glob("*.py") if p.stem != "__init__"]
    assert packages == PACKAGES
    # the run core: commands, configuration, planning, cost, execution, records, the API
    assert len(modules) <= 11, sorted(modules)
