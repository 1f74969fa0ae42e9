"""whybox.debugging."""
