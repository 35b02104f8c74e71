"""Versioned prompt templates for the LLM backend, shipped as package data."""
