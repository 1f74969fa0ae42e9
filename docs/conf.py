"""Sphinx configuration for the whybox documentation site.

Build with ``python -m sphinx -W --keep-going -j 1 -b html docs docs/_build/html``
from the repository root. The build is offline: no intersphinx, no remote
assets, and the Hugging Face hub is switched off for the examples.
"""

import os
import re
import sys
import time
from pathlib import Path

# Set before anything imports matplotlib or transformers (the examples run in
# this process).
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TQDM_DISABLE", "1")
# The examples' models are tiny: one OpenMP thread is faster than two threads
# spin-waiting against other processes (set before torch or scikit-learn load).
os.environ.setdefault("OMP_NUM_THREADS", "1")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE / "_ext"))

from plain_text import escape_plain_text  # noqa: E402

import whybox  # noqa: E402

project = "whybox"
author = "whybox developers"
copyright = f"{time.gmtime().tm_year}, whybox developers"
release = whybox.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
]

# The gallery is written by docs/examples/; without that folder the rest of the
# site still builds. WHYBOX_DOCS_NO_GALLERY=1 leaves the gallery out (a quick
# build of the API reference and the guide); CI builds everything.
HAVE_EXAMPLES = (HERE / "examples").is_dir() and not os.environ.get("WHYBOX_DOCS_NO_GALLERY")
if HAVE_EXAMPLES:
    extensions.append("sphinx_gallery.gen_gallery")

templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "README.md",
    "examples",
    # Not written (write_computation_times=False); a stale copy is ignored.
    "sg_execution_times.rst",
    "auto_examples/sg_execution_times.rst",
    "Thumbs.db",
    ".DS_Store",
]
if not HAVE_EXAMPLES:
    exclude_patterns += ["auto_examples"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
nitpicky = False

# MathJax is loaded by the reader's browser from its CDN only when a page has
# math; nothing is fetched at build time.

# -- autodoc / autosummary ----------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autosummary_ignore_module_all = False
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {"show-inheritance": False}
add_module_names = False

# -- numpydoc -----------------------------------------------------------------
# Members are listed by the autosummary class template (docs/_templates), so
# numpydoc does not add its own member tables (which would need stub pages).
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

# -- sphinx-gallery -----------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": ["examples"],
    "gallery_dirs": ["auto_examples"],
    # Every example executes during the build; an error fails the build.
    "filename_pattern": r".*\.py$",
    "ignore_pattern": r"(^|/)_",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "plot_gallery": "True",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "show_memory": False,
    "show_signature": False,
    "capture_repr": ("_repr_html_", "__repr__"),
    "min_reported_time": 1,
    # The timing page links jQuery and DataTables from CDNs: not written.
    "write_computation_times": False,
    # No mini-galleries / backreferences: they cost a pass over every example.
    "backreferences_dir": None,
    "doc_module": (),
    "reference_url": {},
    "first_notebook_cell": None,
}

# -- myst ---------------------------------------------------------------------
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

# -- HTML ---------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"whybox {release}"
html_static_path = ["_static"]
html_css_files = ["whybox.css"]
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_end": ["theme-switcher"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "secondary_sidebar_items": ["page-toc"],
}
# The guide pages are single pages: no left navigation, the full width for
# their tables.
html_sidebars = {
    "index": [],
    "guide/*": [],
    "benchmarks": [],
}


def _drop_missing_gallery(app, docname, source):
    """Leave the gallery out of the pages when it is not built."""
    if not HAVE_EXAMPLES:
        text = source[0].replace("   auto_examples/index\n", "")
        text = re.sub(r":doc:`(\.\./)*auto_examples/index`", "the examples gallery", text)
        # A link to one example keeps its text.
        source[0] = re.sub(r":ref:`([^`<]+?)\s*<sphx_glr_[^>]+>`", r"\1", text)


def _plain_text_notation(app, what, name, obj, options, lines):
    escape_plain_text(lines)


# A name a package re-exports is documented once, where it is defined; a
# reference to the re-exported name (``whybox.TreeExplainer``) resolves there.
# The API pages list the re-exports as ``- ``name``: :obj:`target```.
_REEXPORT = re.compile(r"^- ``(?P<name>[\w.]+)``: :obj:`(?P<target>[\w.]+)`")


def _reexports():
    aliases = {}
    for page in sorted((HERE / "api").glob("whybox*.rst")):
        for line in page.read_text(encoding="utf-8").splitlines():
            match = _REEXPORT.match(line)
            if match:
                aliases[f"{page.stem}.{match['name']}"] = match["target"]
    return aliases


REEXPORTS = _reexports()


def _resolve_reexport(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = REEXPORTS.get(node.get("reftarget", ""))
    if target is None:
        return None
    domain = env.domains["py"]
    return domain.resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], target, node, contnode
    )


def setup(app):
    app.connect("source-read", _drop_missing_gallery)
    app.connect("missing-reference", _resolve_reexport)
    # Before numpydoc (priority 500) turns the docstring into reST.
    app.connect("autodoc-process-docstring", _plain_text_notation, priority=400)
