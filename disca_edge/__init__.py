"""disca-edge: DISCA cultural alignment of LLM moral judgements on local GGUF models."""

__version__ = "0.1.0"
__all__ = ["Session", "__version__", "load_results"]

from .session import Session, load_results  # noqa: E402  (the notebook API)
