"""Utilities at the bottom of the import graph: structured logging and asyncio helpers."""
