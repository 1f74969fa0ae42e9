"""Fairness auditing: group metrics and disparities, proxy detection, flip tests, reason codes."""

from whybox.fairness._flip import FlipTest, flip_test
from whybox.fairness._group_metrics import GroupMetrics, group_metrics
from whybox.fairness._proxy import ProxyDetection, proxy_detection
from whybox.fairness._reason_codes import ReasonCodes, reason_codes

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
