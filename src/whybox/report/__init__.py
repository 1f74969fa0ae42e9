"""The audit report: orchestration over public library calls, rendered to HTML and JSON."""

from whybox.report._audit import audit
from whybox.report._audit_images import audit_images
from whybox.report._report import Figure, Report, Section, Table, Text

__all__ = ["Figure", "Report", "Section", "Table", "Text", "audit", "audit_images"]
