"""Run opwatch as ``python -m opwatch``."""

from opwatch.cli import console_script

console_script()
