"""umreview: LLM-assisted utilization review of spine-imaging requests.

The deterministic pieces (fact extraction, criteria engine, validator) decide what is safe;
a language model, when configured, only drafts.
"""

__version__ = "0.1.0"
ENGINE_VERSION = "engine-1"
