"""whybox.shapley.tree."""
