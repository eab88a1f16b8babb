"""Turning objects into what a user reads: tables, YAML/JSON/name output, describe text."""
