"""The house rules of whybox's imports, checked on the source (no module is imported).

- A module outside a subpackage never imports that subpackage's private modules
  (``whybox.<pkg>._<module>``): it uses the names the subpackage exports. The leaf layers
  ``_utils``, ``adapters``, ``_exceptions`` and ``_explanation`` are open to all.
- ``whybox._utils`` imports nothing of whybox at module level but ``_exceptions``.
- Imports between whybox's modules form no cycle, counting imports inside functions
  (a deferred import hides a cycle; it does not remove it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "whybox"
OPEN_TO_ALL = ("_utils", "adapters", "_exceptions", "_explanation")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, *, top_level_only: bool) -> list[tuple[str, int]]:
    """(imported whybox module, line) for every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:  # imports under `if TYPE_CHECKING:` do not run
        nodes = [n for n in nodes if isinstance(n, (ast.Import, ast.ImportFrom))]
    found = []
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.startswith("whybox")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            if module.startswith("whybox"):
                found.append((module, node.lineno))
                # `from whybox.pkg import _private` imports a module too
                found += [
                    (f"{module}.{a.name}", node.lineno)
                    for a in node.names
                    if _is_module(f"{module}.{a.name}")
                ]
    return found


def _is_module(module: str) -> bool:
    path = SRC.parent / module.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _owner(module: str) -> str:
    """The subpackage (or top-level module) a module belongs to: ``whybox.lime._x`` -> lime."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _is_private_module(module: str) -> bool:
    """Whether ``module`` names a private module of a subpackage (``whybox.pkg._mod``)."""
    parts = module.split(".")
    return len(parts) >= 3 and any(p.startswith("_") for p in parts[2:])


def test_no_module_reaches_into_another_subpackage():
    breaches = []
    for path in _sources():
        here = _module_name(path)
        for module, line in _imports(path, top_level_only=False):
            owner = _owner(module)
            if owner in OPEN_TO_ALL or owner == _owner(here):
                continue
            if _is_private_module(module) and (SRC / owner).is_dir():
                breaches.append(f"{path.relative_to(SRC.parent)}:{line} imports {module}")
    assert not breaches, "import the subpackage's public names instead:\n" + "\n".join(breaches)


def test_utils_is_a_leaf():
    breaches = []
    for path in sorted((SRC / "_utils").rglob("*.py")):
        for module, line in _imports(path, top_level_only=True):
            if _owner(module) not in ("_utils", "_exceptions"):
                breaches.append(f"{path.relative_to(SRC.parent)}:{line} imports {module}")
    assert not breaches, "\n".join(breaches)


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in _sources()}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for module, _ in _imports(path, top_level_only=False):
            # `from whybox.pkg import name`: the module if it is one, else the package
            while module and module not in modules:
                module = module.rpartition(".")[0]
            if module and module != name:
                targets.add(module)
        graph[name] = targets
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of imports between modules (not through packages' ``__init__``), or None."""
    packages = {n for n in graph if (SRC.parent / n.replace(".", "/") / "__init__.py").exists()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node] - packages):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(set(graph) - packages):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_module_imports_form_no_cycle():
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize(
    ("module", "expected"),
    [("whybox.lime._tabular", True), ("whybox.lime", False), ("whybox._utils._json", True)],
)
def test_private_module_detection(module, expected):
    assert _is_private_module(module) is expected
