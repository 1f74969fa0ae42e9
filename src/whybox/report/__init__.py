"""The audit report: orchestration over public library calls, rendered to HTML and JSON.

- ``_audit``: :func:`audit` checks its inputs, then runs a plan of steps over an
  ``AuditContext`` (``_context``: the model, data, settings and the explanations the
  sections share; ``_inputs``: the input checks);
- ``_section_*``: one module per section, each a function ``(context) -> Section``;
- ``_audit_images``: :func:`audit_images`, the audit of a PyTorch image classifier;
- ``_report``: :class:`Report` and its blocks, with their JSON form (whybox's one JSON
  rule); ``_render``: the HTML.
"""

from whybox.report._audit import audit
from whybox.report._audit_images import audit_images
from whybox.report._report import Figure, Report, Section, Table, Text

__all__ = ["Figure", "Report", "Section", "Table", "Text", "audit", "audit_images"]
