"""HTML rendering of a :class:`~whybox.report.Report` with a jinja2 template.

The page's Content-Security-Policy forbids everything but embedded images, inline styles
and one script: ``templates/interactive.js``, allowed by the sha256 hash of its exact
text (computed here, at render time). The explained rows it draws are embedded as an
inert JSON data block (:func:`whybox.report._interactive.payload_json`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2
from markupsafe import Markup

from whybox.report._interactive import payload_json, script_hash, script_text


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("whybox.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def content_security_policy() -> str:
    """The page's policy: no fetches, images from data URLs, and only the report's script."""
    return (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src {script_hash(script_text())}"
    )


def render_html(report: Any) -> str:
    """Render the report; all user-controlled text is HTML-escaped by autoescaping, and
    the explained rows' JSON is escaped so that no text in it can end its block."""
    payload = getattr(report, "interactive", None)
    script = script_text()
    return (
        _environment()
        .get_template("report.html")
        .render(
            report=report,
            csp=content_security_policy(),
            rows_json=Markup(payload_json(payload)) if payload else None,
            # the exact text hashed in the policy, between the tags with nothing added
            script_tag=Markup("<script>" + script + "</script>"),
        )
    )
