"""whybox.lime: LIME, local weighted linear surrogates, for tables, text and images.

Ribeiro, Singh & Guestrin 2016, "'Why should I trust you?': Explaining the predictions
of any classifier". Every explainer returns an :class:`whybox.Explanation` whose values
are the surrogate's weights, with its local R^2 in ``quality["local_r2"]``.
"""

from whybox.lime._image import LimeImageExplainer
from whybox.lime._tabular import LimeTabularExplainer, conditions
from whybox.lime._text import LimeTextExplainer

__all__ = ["LimeImageExplainer", "LimeTabularExplainer", "LimeTextExplainer", "conditions"]
