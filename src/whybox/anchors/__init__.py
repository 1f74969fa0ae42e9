"""Anchors: high-precision IF-THEN rules that explain one prediction (tables and text).

Ribeiro, Singh & Guestrin (2018), "Anchors: High-Precision Model-Agnostic Explanations".
An explainer is called on rows (:class:`AnchorTabular`) or texts (:class:`AnchorText`)
and returns one :class:`Anchor` per row or text.
"""

from whybox.anchors._result import Anchor
from whybox.anchors._tabular import AnchorTabular
from whybox.anchors._text import AnchorText

__all__ = ["Anchor", "AnchorTabular", "AnchorText"]
