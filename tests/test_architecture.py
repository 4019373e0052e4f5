"""The house's structure, checked: no cycles between our modules, no hidden or dynamic imports of our code.

The layer order between apps is import-linter's contract (pyproject.toml, run by ``make test``); these
tests add what a layers contract cannot see.
"""

import ast
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
APPS = ("core", "galleries", "ratings", "photos", "scans", "console", "gallery_project")
OURS = (*APPS, "devtools", "bench", "tests")


def _app_files():
    for app in APPS:
        yield from sorted((ROOT / app).rglob("*.py"))


def _service_and_test_files():
    yield from _app_files()
    yield from sorted((ROOT / "tests").rglob("*.py"))


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]

    def visit(module):
        index[module] = low[module] = counter[0]
        counter[0] += 1
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles_between_our_modules():
    graph = grimp.build_graph(*APPS)
    assert _cycles(graph) == []


def test_a_cycle_would_be_found():
    """The cycle finder itself: two modules importing each other are one component."""

    class TwoModules:
        modules = {"a", "b", "c"}

        @staticmethod
        def find_modules_directly_imported_by(module):
            return {"a": {"b"}, "b": {"a"}, "c": {"a"}}[module]

    assert _cycles(TwoModules) == [["a", "b"]]


def _imports_in_functions(tree: ast.AST):
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    yield function, node, node.module
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        yield function, node, alias.name


def test_our_modules_are_imported_at_the_top_unless_a_measured_cold_start_cost_says_otherwise():
    """An import of our code inside a function hides a dependency; the only ones allowed are marked
    "lazy on purpose" and their function's docstring gives the measured cost in ms. The tests keep the
    same rule; bench scripts are the exception (they configure Django before importing the service)."""
    hidden = []
    for path in _service_and_test_files():
        source = path.read_text()
        lines = source.splitlines()
        for function, node, module in _imports_in_functions(ast.parse(source)):
            if module.split(".")[0] not in OURS:
                continue
            docstring = ast.get_docstring(function) or ""
            if "lazy on purpose" in lines[node.lineno - 1] and " ms" in docstring:
                continue
            hidden.append(f"{path.relative_to(ROOT)}:{node.lineno} {module}")
    assert hidden == []


def test_no_dynamic_imports_of_our_code():
    dynamic = []
    for path in _app_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Name) and node.id == "__import__":
                dynamic.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [alias.name for alias in node.names] + [getattr(node, "module", None) or ""]
                if any(name.startswith("importlib") for name in names):
                    dynamic.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert dynamic == []
