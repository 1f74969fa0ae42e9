"""Docstring notation shared by docs/conf.py and tests/test_docs.py.

In reStructuredText a lone ``*`` opens emphasis and ``|x|`` is a substitution
reference. whybox's docstrings write shapes such as ``(n_samples,
*input_shape)`` and absolute values such as ``mean |SHAP value|`` as plain
text; :func:`escape_plain_text` escapes them before numpydoc reads the
docstring.
"""

import re

# Inline literals, roles and interpreted text: left exactly as written.
_QUOTED = re.compile(r"(``.*?``|`[^`]*`)")
# A ``*`` that starts a name followed by ``,``, ``)`` or ``]``: (n, *input_shape).
_STARRED_NAME = re.compile(r"(?<![\w*\\`])\*(?=[A-Za-z_][\w.]*\s*[,)\]])")
_PIPE = re.compile(r"(?<!\\)\|")
# Where emphasis could open and close (a ``*`` that is not part of ``**``).
_OPENING = re.compile(r"(?<![\\\w*])\*(?=[^\s*])")
_CLOSING = re.compile(r"(?<=[^\s\\*])\*(?![\w*])")


def _escape_unclosed(text):
    """Escape each ``*`` that opens emphasis no later ``*`` on the line closes."""
    out, start = [], 0
    while True:
        opening = _OPENING.search(text, start)
        if opening is None:
            break
        closing = _CLOSING.search(text, opening.end())
        if closing is None:
            out.append(text[start : opening.start()] + "\\*")
            start = opening.end()
            continue
        out.append(text[start : closing.end()])
        start = closing.end()
    out.append(text[start:])
    return "".join(out)


def escape_plain_text(lines):
    """Let docstrings write shapes and absolute values as they read.

    In reStructuredText a lone ``*`` opens emphasis and ``|x|`` is a
    substitution. Docstrings write ``(n_samples, *input_shape)`` and
    ``mean |SHAP value|`` meaning just that, so outside inline literals and
    roles such a ``*``, any ``*`` that opens emphasis nothing on its line
    closes (``("samples", *input axes, "outputs")``), and every ``|`` are
    escaped (lines that start with ``|`` or ``+``, tables and line blocks, are
    left alone). ``lines`` is changed in place.
    """
    for i, line in enumerate(lines):
        if ("*" not in line and "|" not in line) or line.lstrip()[:1] in ("|", "+"):
            continue
        parts = _QUOTED.split(line)
        for k in range(0, len(parts), 2):
            text = _escape_unclosed(_STARRED_NAME.sub(r"\\*", parts[k]))
            parts[k] = _PIPE.sub(r"\\|", text)
        lines[i] = "".join(parts)
