"""``python -m whybox``: the command line."""

from whybox.cli import main

main()
