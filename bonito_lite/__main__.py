"""``python -m bonito_lite`` runs the command line."""

from .cli import main

main()
