"""disca-edge: DISCA cultural alignment of LLM moral judgements on local GGUF models."""

__version__ = "0.1.0"
__all__ = ["__version__"]
