"""Demo data: bundled with scikit-learn or generated, never downloaded."""

from whybox.datasets._applications import (
    ApplicationsCase,
    load_applications,
    make_applications,
)
from whybox.datasets._credit import CreditCase, load_credit, make_credit_data
from whybox.datasets._demo import DemoCase, load_demo
from whybox.datasets._digits import DigitsCNN, digits_cnn_architecture, load_digits_cnn
from whybox.datasets._induction import (
    InductionTransformer,
    induction_transformer_architecture,
    load_induction_transformer,
)
from whybox.datasets._superposition import SuperpositionData, make_superposition
from whybox.datasets._text_transformer import (
    TextTransformer,
    load_text_transformer,
    text_transformer_architecture,
)

__all__ = [
    "ApplicationsCase",
    "CreditCase",
    "DemoCase",
    "DigitsCNN",
    "SuperpositionData",
    "TextTransformer",
    "digits_cnn_architecture",
    "load_applications",
    "load_credit",
    "load_demo",
    "load_digits_cnn",
    "load_text_transformer",
    "make_applications",
    "make_credit_data",
    "make_superposition",
    "text_transformer_architecture",
    "InductionTransformer",
    "induction_transformer_architecture",
    "load_induction_transformer",
]
