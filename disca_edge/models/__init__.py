"""GGUF models: the registry, GGUF checks, integrity, pulls, opening an engine, the cache.

One module per job: `registry` (``models.toml``), `gguf` (header checks), `integrity`
(sha256 and its memo), `pull` (into the cache), `open` (``--model`` to an `Engine`),
`cache` (listing and clearing the cache folder). Import names from the module that owns them.
"""
