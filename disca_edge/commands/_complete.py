"""Shell completion of country codes and model names (click's ``shell_complete`` hooks).

Enable it once per shell (README, "Shell completion"); e.g. for bash:
``eval "$(_DISCA_COMPLETE=bash_source disca)"``.
"""

from __future__ import annotations

from click.shell_completion import CompletionItem

__all__ = ["complete_countries", "complete_models"]


def complete_countries(ctx, param, incomplete: str) -> list[CompletionItem]:
    """ISO3 codes (and ``paper20``) for the last item of a comma-separated list.

    Reads the ``--personas`` folder when it is already on the command line.
    """
    from ..content.personas import PAPER20, list_panels

    head, _, last = incomplete.rpartition(",")
    prefix = f"{head}," if head else ""
    try:
        panels = list_panels(ctx.params.get("personas_dir"))
    except Exception:  # completion must never fail loudly
        return []
    done = {c.upper() for c in head.split(",") if c}
    choices = [(p.iso3, p.name) for p in panels if p.iso3 not in done]
    if not head and set(PAPER20) <= {p.iso3 for p in panels}:
        choices.append(("paper20", "the paper's 20 countries"))
    return [
        CompletionItem(prefix + code, help=name)
        for code, name in choices
        if code.lower().startswith(last.lower())
    ]


def complete_models(ctx, param, incomplete: str) -> list[CompletionItem]:
    """Registry model names (shipped and the user's own); paths complete as files."""
    if "/" in incomplete or incomplete.endswith(".gguf"):
        return [CompletionItem(incomplete, type="file")]
    from ..models.registry import load_registry

    try:
        specs, _ = load_registry()
    except Exception:
        return []
    return [
        CompletionItem(name, help=spec.description)
        for name, spec in specs.items()
        if name.lower().startswith(incomplete.lower())
    ]
