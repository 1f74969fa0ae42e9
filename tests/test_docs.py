"""The documentation site's sources cover the public API (checked without running Sphinx).

Every public module of whybox (no part of its dotted name starts with ``_``) that has an
``__all__`` gets a page ``docs/api/<module>.rst`` listed in ``docs/api/index.rst``; every
name in that ``__all__`` is on its page, either in an ``autosummary`` block (documented
there, from its docstring) or as a re-export line ``- ``name``: :obj:`<package>.name```
whose package page documents it. A new public name without documentation fails here.
Every documented docstring is also rendered with numpydoc and docutils, as the docs
build (warnings are errors) renders it.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import io
import re
from pathlib import Path

import pytest

from tests._requires import requires

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "whybox"
DOCS = ROOT / "docs"
API = DOCS / "api"
# Public modules without ``__all__``: the command line (documented in docs/guide/audit.rst).
NO_ALL = {"whybox.cli"}

REEXPORT = re.compile(r"^- ``(?P<name>[\w.]+)``: :(?:obj|doc):`(?P<target>[\w.]+)`\s*$")


def _public_modules() -> list[str]:
    names = []
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") for p in parts[1:]):
            continue
        names.append(".".join(parts))
    return names


def _documented(page: Path) -> tuple[set[str], dict[str, str]]:
    """(names in autosummary blocks, {re-exported name: target}) of an API page."""
    autosummary: set[str] = set()
    reexports: dict[str, str] = {}
    in_block = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith(".. autosummary::"):
            in_block = True
            continue
        if in_block:
            stripped = line.strip()
            if not stripped or stripped.startswith(":"):
                continue
            if line.startswith("   "):
                autosummary.add(stripped)
                continue
            in_block = False
        match = REEXPORT.match(line)
        if match:
            reexports[match["name"]] = match["target"]
    return autosummary, reexports


PUBLIC = [m for m in _public_modules() if m not in NO_ALL]


def _exports(module: str) -> list[str]:
    """The module's ``__all__`` (a public module must have one)."""
    names = getattr(importlib.import_module(module), "__all__", None)
    assert names is not None, (
        f"{module} is public but has no __all__: export its names or make it private"
    )
    return list(names)


def _with_all() -> list[str]:
    return [m for m in PUBLIC if _exports(m)]


@pytest.mark.parametrize("module", PUBLIC)
def test_page_exists_and_is_in_the_index(module):
    if not _exports(module):
        pytest.skip("empty __all__: nothing to document")
    page = API / f"{module}.rst"
    assert page.is_file(), f"no API page for {module}: add docs/api/{module}.rst (see the others)"
    index = (API / "index.rst").read_text(encoding="utf-8").split()
    assert module in index, f"docs/api/index.rst does not list {module} in its toctree"


@pytest.mark.parametrize("module", PUBLIC)
def test_every_public_name_is_documented(module):
    page = API / f"{module}.rst"
    if not _exports(module) or not page.is_file():
        pytest.skip("no page (reported by test_page_exists_and_is_in_the_index)")
    autosummary, reexports = _documented(page)
    mod = importlib.import_module(module)
    missing = [n for n in mod.__all__ if n not in autosummary and n not in reexports]
    assert not missing, (
        f"docs/api/{module}.rst does not list {missing}: add each to its autosummary block, or, "
        f"for a name documented in another package, a line - ``name``: :obj:`package.name`"
    )
    stale = sorted((autosummary | set(reexports)) - set(mod.__all__))
    assert not stale, f"docs/api/{module}.rst lists names not in {module}.__all__: {stale}"


@pytest.mark.parametrize("module", PUBLIC)
def test_reexports_point_to_the_page_that_documents_them(module):
    page = API / f"{module}.rst"
    if not _exports(module) or not page.is_file():
        pytest.skip("no page")
    mod = importlib.import_module(module)
    _, reexports = _documented(page)
    for name, target in reexports.items():
        obj = getattr(mod, name)
        if inspect.ismodule(obj):
            assert target == obj.__name__, (
                f"{module}.{name}: the link should be :doc:`{obj.__name__}`"
            )
            continue
        package, _, short = target.rpartition(".")
        assert short == name, f"{module}: {name} links to {target}"
        assert package in _with_all(), (
            f"{module}.{name} links to {target}, not a documented package"
        )
        assert getattr(importlib.import_module(package), name) is obj, (
            f"{module}.{name} links to {target}, which is another object"
        )
        documented, _ = _documented(API / f"{package}.rst")
        assert name in documented, (
            f"{module}.{name} links to {target}, but that page does not document it"
        )


def test_each_object_is_documented_once():
    """Two autosummary entries for one object would be two pages and ambiguous references."""
    seen: dict[int, str] = {}
    for module in _with_all():
        mod = importlib.import_module(module)
        documented, _ = _documented(API / f"{module}.rst")
        for name in documented:
            obj = getattr(mod, name)
            if isinstance(obj, (str, int, float, tuple, frozenset)):
                continue  # constants: equal values are not one object
            where = f"{module}.{name}"
            assert id(obj) not in seen, (
                f"{where} and {seen[id(obj)]} are one object documented twice"
            )
            seen[id(obj)] = where


def test_build_is_offline():
    """No extension that fetches at build time (the CI build has no network)."""
    conf = (DOCS / "conf.py").read_text(encoding="utf-8")
    for extension in ("sphinx.ext.intersphinx", "sphinx.ext.linkcode", "sphinx.ext.imgconverter"):
        assert extension not in conf
    assert 'os.environ["HF_HUB_OFFLINE"] = "1"' in conf
    assert '"abort_on_example_error": True' in conf


def test_readme_states_the_build_command():
    readme = (DOCS / "README.md").read_text(encoding="utf-8")
    assert "python -m sphinx -W --keep-going" in readme
    assert 'pip install -e ".[docs]"' in readme


# -- Docstrings render: numpydoc + docutils on every documented object, as the -W build would ----


def _plain_text_module():
    spec = importlib.util.spec_from_file_location(
        "whybox_docs_plain_text", DOCS / "_ext" / "plain_text.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_BUILTIN_BASES = {"object", "BaseException", "Exception", "ValueError", "TypeError"}


def _documented_objects(module: str):
    """(dotted name, object) for each autosummary entry of the page and the members autodoc shows."""
    mod = importlib.import_module(module)
    documented, _ = _documented(API / f"{module}.rst")
    for name in sorted(documented):
        obj = getattr(mod, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj) or callable(obj)):
            continue  # constants: no docstring of their own
        yield f"{module}.{name}", obj
        if not inspect.isclass(obj):
            continue
        for klass in obj.__mro__:  # the class template: :members: and :inherited-members:
            if klass.__name__ in _BUILTIN_BASES or not klass.__module__.startswith("whybox"):
                continue  # as the template's :inherited-members: list (builtins, torch's Module)
            for member, value in vars(klass).items():
                if member.startswith("_") and member != "__call__":
                    continue
                if isinstance(value, (staticmethod, classmethod)):
                    value = value.__func__
                if (inspect.isfunction(value) or isinstance(value, property)) and value.__doc__:
                    yield f"{module}.{name}.{member}", value


def _render_problems(name: str, obj, escape) -> list[str]:
    """The docutils messages (warning and above) of ``obj``'s docstring as numpydoc renders it."""
    import warnings

    from docutils import nodes
    from docutils.core import publish_doctree
    from docutils.parsers.rst import Directive, directives, roles
    from numpydoc.docscrape_sphinx import get_doc_object

    class _Options(dict):
        def __missing__(self, key):
            return directives.unchanged

        def __contains__(self, key):
            return True

    class _Sphinx(Directive):  # a Sphinx directive: its content is parsed, its options accepted
        has_content = True
        optional_arguments = 1
        final_argument_whitespace = True
        option_spec = _Options()

        def run(self):
            node = nodes.container()
            self.state.nested_parse(self.content, self.content_offset, node)
            return [node]

    for directive in (
        "only",
        "seealso",
        "versionadded",
        "versionchanged",
        "deprecated",
        "autosummary",
    ):
        directives.register_directive(directive, _Sphinx)

    def _literal_role(role, rawtext, text, lineno, inliner, options=None, content=None):
        return [nodes.literal(rawtext, text)], []

    doc = obj.__doc__ or ""
    lines = inspect.cleandoc(doc).splitlines()
    escape(lines)
    obj_for_numpydoc = obj.fget if isinstance(obj, property) else obj
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rendered = get_doc_object(
            obj_for_numpydoc,
            doc="\n".join(lines),
            config={
                "show_class_members": False,
                "attributes_as_param_list": True,
                "xref_param_type": False,
            },
        )
        text = str(rendered)
    problems = [
        f"numpydoc: {w.message}"
        for w in caught
        if "numpydoc" in str(w.filename) or "docscrape" in str(w.filename)
    ]
    for role in set(re.findall(r":([a-z]+(?::[a-z]+)?):`", text)):
        if role not in ("math",):
            roles.register_local_role(role, _literal_role)
    stream = io.StringIO()
    publish_doctree(
        text,
        source_path=name,
        settings_overrides={
            "report_level": 2,
            "halt_level": 5,
            "warning_stream": stream,
            "file_insertion_enabled": False,
        },
    )
    problems += [
        line
        for line in stream.getvalue().splitlines()
        if re.search(r"\((WARNING|ERROR|SEVERE)/", line)
    ]
    return problems


@pytest.mark.parametrize("module", PUBLIC)
def test_docstrings_render_without_warnings(module):
    """What ``python -m sphinx -W`` would reject, found in seconds: bad sections, indentation, markup."""
    requires("numpydoc")  # the docs extra (or the test extra); docutils comes with Sphinx
    if not _exports(module) or not (API / f"{module}.rst").is_file():
        pytest.skip("nothing documented")
    escape = _plain_text_module().escape_plain_text
    failures = []
    for name, obj in _documented_objects(module):
        failures += [f"{name}: {p}" for p in _render_problems(name, obj, escape)]
    assert not failures, "docstrings the docs build rejects:\n" + "\n".join(failures)
