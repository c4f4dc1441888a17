"""Run opwatch as ``python -m opwatch``."""

from opwatch.cli import main

main()
