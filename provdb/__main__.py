"""``python -m provdb`` runs the command-line interface."""

from provdb.cli import main

main()
