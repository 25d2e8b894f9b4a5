"""Engine options: which model to open and how to run it, as one frozen value.

`EngineOptions` is what the CLI's shared engine options build, what `Session` and the
evaluation workers carry, what `models.open_engine` resolves against the registry and
what `Engine` runs with. None means "the default": the registry entry's, else the
engine's.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CONTEXT_RESERVE", "DEFAULT_N_CTX", "GROUP_CELLS", "EngineOptions"]

#: Context size of a model without a registry entry (a path to a .gguf file).
DEFAULT_N_CTX = 4096

#: KV cells every group leaves free, and the margin by which a prompt must fit the context.
CONTEXT_RESERVE = 16

#: Default most KV cells per group of prompts: one panel prompt's prefix and about ten
#: suffixes; attention then scans ~600 cells per token instead of the whole context.
GROUP_CELLS = 1024


@dataclass(frozen=True)
class EngineOptions:
    """How to open a model and run it; every field has a default.

    Attributes:
        model: registry name or path of a ``.gguf`` file (None: the registry default).
            `models.open_engine` resolves it; `Engine` is handed the file itself.
        n_threads: CPU threads (None: all cores).
        n_ctx: context size in tokens (None: the registry entry's, else `DEFAULT_N_CTX`;
            `models.open_engine` sizes a default context up for the prompts, and refuses
            a given one that is too small).
        n_gpu_layers: layers to offload to the GPU, -1 for all (None: the registry
            entry's, else 0).
        extra_buffers: llama.cpp weight repacking, ``auto``, ``on`` or ``off`` (None:
            ``$DISCA_EXTRA_BUFFERS``, else auto).
        kv_type: KV-cache element type, one of `engine.KV_TYPES` (None: the compute
            path's, ``q8_0`` on the CPU).
        n_batch: most tokens per ``llama_decode`` call.
        n_ubatch: micro-batch (None: the engine's choice, see `Engine`).
        n_seq_max: sequence ids in the context (pinned prefixes + prompts in flight).
        group_cells: most KV cells one group of prompts may fill (None: the context).
        only_group_prefixes: keep only the current group's pinned prefixes resident.
        chat_template: Jinja template (None: the registry entry's, else the GGUF's).
        seed: recorded with the settings; decoding reads logits and never samples.
        prefix_cache: keep the pinned prefixes' KV states on disk, one folder per model
            sha256 under the cache dir, so later processes load them instead of decoding.
    """

    model: str | None = None
    n_threads: int | None = None
    n_ctx: int | None = None
    n_gpu_layers: int | None = None
    extra_buffers: str | None = None
    kv_type: str | None = None
    n_batch: int = 512
    n_ubatch: int | None = None
    n_seq_max: int = 128
    group_cells: int | None = GROUP_CELLS
    only_group_prefixes: bool = True
    chat_template: str | None = None
    seed: int = 0
    prefix_cache: bool = False
