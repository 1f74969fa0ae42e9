"""whybox.shapley."""
