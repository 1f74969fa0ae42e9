"""whybox.report."""
