"""disca-edge: DISCA cultural alignment of LLM moral judgements on local GGUF models."""

__version__ = "0.1.0"
__all__ = ["Session", "__version__", "eval_multitp", "load_results"]


def __getattr__(name: str):
    """The notebook API (`Session`, `eval_multitp`, `load_results`), imported on first use.

    Importing the package stays instant: the console script imports it before its
    Ctrl-C guard is in place.
    """
    if name in ("Session", "eval_multitp", "load_results"):
        from . import session

        return getattr(session, name)
    raise AttributeError(f"module 'disca_edge' has no attribute {name!r}")
