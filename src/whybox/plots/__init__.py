"""whybox.plots."""
