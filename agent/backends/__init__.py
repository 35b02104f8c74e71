"""Drafting backends: one small protocol (base), implemented by the rules engine and by LLMs alike."""
