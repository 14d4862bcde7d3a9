"""Calculus: text in, exact SymPy objects and fast float functions out.

Parsing (the only door for user text), gradlab's own functions, shaped variables,
exact derivatives under a budget, bounded precise evaluation, step-by-step
derivations, computational graphs, critical points, gradient checks, and many points
evaluated together. Nothing here imports from :mod:`gradlab.descent` or the CLI.
"""
