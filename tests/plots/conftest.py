"""The plot tests draw with matplotlib's Agg backend: no display, no window."""

import matplotlib

matplotlib.use("Agg")
