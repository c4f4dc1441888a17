"""Renderers: they build text or rich renderables from the model and return them; the CLI prints.

Nothing here reads config or talks HTTP, and nothing outside this package imports rich.
"""
