"""Fairness auditing: group metrics and disparities, proxy detection, flip tests, reason codes.

Besides ``__all__``, for whybox's own report, plots and command line: ``FOUR_FIFTHS`` (the
four-fifths rule's threshold), ``check_group_count`` and ``bin_numeric`` (checking and
binning a sensitive attribute).
"""

from whybox.fairness._flip import FlipTest, flip_test
from whybox.fairness._group_metrics import FOUR_FIFTHS as FOUR_FIFTHS
from whybox.fairness._group_metrics import GroupMetrics, group_metrics
from whybox.fairness._proxy import ProxyDetection, proxy_detection
from whybox.fairness._reason_codes import ReasonCodes, reason_codes
from whybox.fairness._sensitive import bin_numeric as bin_numeric
from whybox.fairness._sensitive import check_group_count as check_group_count

__all__ = [
    "FlipTest",
    "GroupMetrics",
    "ProxyDetection",
    "ReasonCodes",
    "flip_test",
    "group_metrics",
    "proxy_detection",
    "reason_codes",
]
