"""The GGUF model registry, integrity checks, pulls, opening an engine, the cache."""
