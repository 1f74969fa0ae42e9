"""HTML rendering of a :class:`~whybox.report.Report` with a jinja2 template."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("whybox.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(report: Any) -> str:
    """Render the report; all user-controlled text is HTML-escaped by autoescaping."""
    return _environment().get_template("report.html").render(report=report)
