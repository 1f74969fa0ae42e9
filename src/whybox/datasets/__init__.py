"""whybox.datasets."""
