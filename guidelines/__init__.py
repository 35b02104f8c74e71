"""Guideline corpus (Markdown) and criteria files (YAML), shipped as package data."""
