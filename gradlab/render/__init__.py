"""Render: results drawn for people and programs.

Rich tables for a terminal, plain/TSV/CSV/JSON/JSONL/LaTeX from the same records, and
matplotlib figures (always the object API, written atomically). Imports results; no
result imports rendering except lazily, when asked to show itself.
"""
