"""The audit report: sections of figures, tables and text, rendered to HTML and JSON.

The JSON follows whybox's one rule (:func:`whybox._utils.json_value`): NaN is ``null``,
infinities are ``"inf"``/``"-inf"``.
"""

from __future__ import annotations

import base64
import html
import io
import os
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from whybox._utils import json_dumps, json_value
from whybox.io import REPORT_ID_KEY, check_output_path, report_paths, write_atomic, write_pair


@dataclass(frozen=True)
class Figure:
    """A figure: the PNG shown in the HTML and the numbers behind it for the JSON."""

    title: str
    png_base64: str
    data: dict[str, Any]
    caption: str = ""

    kind = "figure"

    @classmethod
    def from_matplotlib(
        cls, fig: Any, title: str, numbers: dict[str, Any], caption: str = ""
    ) -> Figure:
        """Render a matplotlib Figure to an embedded PNG.

        Parameters
        ----------
        fig : matplotlib.figure.Figure
            The figure, saved at 96 dpi.
        title : str
        numbers : dict
            The numbers drawn, written to the report's JSON (as ``data``).
        caption : str, optional
            How to read the figure.

        Returns
        -------
        Figure
        """
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
        return cls(title, base64.b64encode(buf.getvalue()).decode("ascii"), numbers, caption)


@dataclass(frozen=True)
class Table:
    """A table of rows; cells are shown as text (escaped in the HTML)."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    caption: str = ""

    kind = "table"

    @classmethod
    def from_frame(
        cls, frame: Any, title: str, caption: str = "", with_index: bool = True
    ) -> Table:
        """A table from a pandas DataFrame.

        Parameters
        ----------
        frame : DataFrame
        title : str
        caption : str, optional
        with_index : bool, default=True
            Keep the frame's index as the first column.

        Returns
        -------
        Table
            Floats rounded to 4 significant digits, numpy scalars as Python ones, other
            objects as text.
        """
        frame = frame.reset_index() if with_index else frame
        rows = tuple(tuple(_cell(v) for v in r) for r in frame.itertuples(index=False))
        return cls(title, tuple(str(c) for c in frame.columns), rows, caption)


@dataclass(frozen=True)
class Text:
    """A paragraph of plain text."""

    text: str

    kind = "text"


@dataclass(frozen=True)
class Section:
    """One titled part of the report.

    ``results`` holds the library results the section shows (not in its JSON: the
    report's ``results`` gathers them).
    """

    id: str
    title: str
    blocks: tuple[Figure | Table | Text, ...]
    summary: str = ""
    results: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def _cell(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        return float(f"{float(v):.4g}") if np.isfinite(v) else float(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    return v if isinstance(v, (int, str)) or v is None else str(v)


@dataclass(frozen=True, eq=False)
class Report:
    """An audit report: metadata and sections, rendered to one self-contained HTML file.

    Every figure is embedded as a PNG; every user-controlled string (feature names,
    category values, file names) is escaped by the template. ``to_json`` holds the
    same figures as numbers. ``notes`` are read before everything else (shown at the
    top of the HTML, ``"notes"`` in the JSON): what the reader must know to read the
    rest, such as the audited rows standing in for missing training data.
    ``interactive`` holds the explained rows as data (see
    :func:`whybox.report._interactive.row_payload`): the HTML embeds them with a script
    that draws any row's SHAP waterfall; not part of the JSON.
    """

    title: str
    meta: dict[str, Any]
    sections: tuple[Section, ...]
    results: dict[str, Any] = field(default_factory=dict, repr=False)
    notes: tuple[str, ...] = ()
    interactive: dict[str, Any] | None = field(default=None, repr=False)

    def section(self, section_id: str) -> Section:
        """The section with this id."""
        for s in self.sections:
            if s.id == section_id:
                return s
        raise KeyError(f"no section {section_id!r}; sections are {[s.id for s in self.sections]}")

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict: metadata, and per section its tables and
        the numbers behind its figures (not the images)."""
        sections = []
        for s in self.sections:
            blocks = []
            for b in s.blocks:
                if isinstance(b, Figure):
                    blocks.append({"kind": "figure", "title": b.title, "data": b.data})
                elif isinstance(b, Table):
                    blocks.append(
                        {
                            "kind": "table",
                            "title": b.title,
                            "columns": list(b.columns),
                            "rows": [list(r) for r in b.rows],
                        }
                    )
                else:
                    blocks.append({"kind": "text", "text": b.text})
            sections.append({"id": s.id, "title": s.title, "summary": s.summary, "blocks": blocks})
        return json_value(
            {
                "title": self.title,
                "notes": list(self.notes),
                "meta": self.meta,
                "sections": sections,
            }
        )

    def to_json(self) -> str:
        """The report as a strict JSON string (see :meth:`to_dict`)."""
        return json_dumps(self.to_dict(), indent=1)

    def to_html(self) -> str:
        """The report as one self-contained HTML page."""
        from whybox.report._render import render_html

        return render_html(self)

    def _repr_html_(self) -> str:
        """What a notebook shows: the rendered report inline, in a sandboxed iframe.

        The page goes into the iframe's ``srcdoc`` attribute, escaped for it; the bare
        ``sandbox`` attribute gives it an opaque origin with scripts, forms and
        navigation off, so the report cannot reach the notebook (it reads as the static
        report). A line above it gives the title, the number of sections and the size
        of the HTML the notebook stores; :meth:`save` writes the interactive file.
        """
        page = self.to_html()
        size = len(page.encode("utf-8"))
        shown = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{max(size / 1e3, 0.1):.0f} kB"
        note = (
            f"<p><b>Report</b>: {html.escape(self.title)} ({len(self.sections)} sections, "
            f"{shown} of HTML stored in the notebook; <code>.save(path)</code> writes the "
            "interactive file)</p>"
        )
        frame = (
            '<iframe sandbox="" title="whybox report" '
            'style="width: 100%; height: 640px; border: 1px solid #ccc" '
            f'srcdoc="{html.escape(page, quote=True)}"></iframe>'
        )
        return note + frame

    def save(self, path: str | os.PathLike) -> tuple[Path, Path]:
        """Write the HTML report at ``path`` and its JSON beside it, as one pair.

        The JSON takes ``path``'s name with the suffix ``.json``. Both files carry one
        new report id (``meta["report id"]``, also a ``whybox-report-id`` meta tag in
        the HTML), and are written with :func:`whybox.io.write_pair`: an interrupted
        write leaves the old pair, or a mixed pair that
        :func:`whybox.io.pair_matches` detects and the next save to the same path
        completes.

        Parameters
        ----------
        path : str or path-like
            Where the HTML goes; not a ``.json`` name.

        Returns
        -------
        (Path, Path)
            The HTML and JSON paths written.

        Raises
        ------
        InputError
            If ``path`` ends in ``.json``, its folder does not exist or either file's
            path is a folder; nothing is written then.
        """
        html_path, json_path = report_paths(path, name="path")
        rid = uuid.uuid4().hex
        stamped = replace(self, meta={**self.meta, REPORT_ID_KEY: rid})
        write_pair(html_path, stamped.to_html(), json_path, stamped.to_json(), pair_id=rid)
        return html_path, json_path

    def save_html(self, path: str | os.PathLike) -> None:
        """Write only the HTML report, atomically (temporary file, then rename).

        Parameters
        ----------
        path : str or path-like
        """
        p = check_output_path(path, name="path")
        write_atomic(p, self.to_html())

    def save_json(self, path: str | os.PathLike) -> None:
        """Write only the JSON report, atomically.

        Parameters
        ----------
        path : str or path-like
        """
        p = check_output_path(path, name="path")
        write_atomic(p, self.to_json())
