"""Token cost of native-language prompts, per language, on the registry's PyPI models.

For one country per language (the first of the paper's 20), renders the panel under
``--lang native`` and counts tokens with each model's own chat template and tokenizer
(no decoding, so it runs in seconds):

* ``prompts``: the 10 prompts of one scenario (2 label orders x base + 4 personas),
  averaged over the first N pool scenarios: what an unshared evaluation decodes;
* ``systems``: the five system prefixes (decoded once per panel when shared);
* ``user``: one user turn (frame + scenario), the per-scenario cost under sharing;
* ``x en``: each column over the English panel's (USA).

Usage: python benchmarks/i18n_tokens.py [--scenarios 10]
Prints a table per model and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from disca_edge import pipeline  # noqa: E402
from disca_edge.content import i18n, personas, scenarios
from disca_edge.engine import ChatPrompt, Engine, EngineOptions  # noqa: E402
from disca_edge.models import registry as models
from disca_edge.models.pull import pull

MODELS = ("smollm2-135m", "gemma3-270m")


def count(engine: Engine, country: str, n_scenarios: int) -> dict[str, float]:
    """Mean token counts for one country's native panel (see the module docstring)."""
    prompts = pipeline.panel_prompts(personas.load_panel(country), "native")
    pool = scenarios.disca_pool()[:n_scenarios]
    full, user = 0, 0
    for vignette in pool:
        dilemma = prompts.vignette(vignette)
        for text in (dilemma.user_orig, dilemma.user_swap):
            for system in prompts.systems:
                full += len(engine.tokenize(engine.render(ChatPrompt(system, text))))
    base = engine.prefix_len(prompts.systems[0])
    for vignette in pool:
        dilemma = prompts.vignette(vignette)
        n = len(engine.tokenize(engine.render(ChatPrompt(prompts.systems[0], dilemma.user_orig))))
        user += n - base
    systems = sum(engine.prefix_len(s) for s in prompts.systems)
    return {
        "prompts": full / len(pool),
        "systems": float(systems),
        "user": user / len(pool),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=10)
    args = parser.parse_args()
    first: dict[str, str] = {}
    for iso in personas.PAPER20:
        first.setdefault(i18n.tables().country_lang[iso], iso)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name in MODELS:
        spec = models.get_model(name)
        path = pull(spec)
        engine = Engine(
            path, EngineOptions(n_ctx=512, n_threads=1, chat_template=spec.chat_template)
        )
        try:
            out[name] = {code: count(engine, iso, args.scenarios) for code, iso in first.items()}
        finally:
            engine.close()
        en = out[name]["en"]
        print(f"\n{name}: tokens per scenario (10 prompts), native panels")
        print(f"{'lang':<5}{'country':<8}{'prompts':>9}{'x en':>7}{'systems':>9}{'x en':>7}"
              f"{'user':>7}{'x en':>7}  kind")  # fmt: skip
        for code, iso in first.items():
            row = out[name][code]
            kind = "full" if i18n.language(code).full else "persona-only (English frame)"
            print(
                f"{code:<5}{iso:<8}{row['prompts']:>9.0f}{row['prompts'] / en['prompts']:>7.2f}"
                f"{row['systems']:>9.0f}{row['systems'] / en['systems']:>7.2f}"
                f"{row['user']:>7.0f}{row['user'] / en['user']:>7.2f}  {kind}"
            )
    print(json.dumps({"benchmark": "i18n_tokens", "scenarios": args.scenarios, "tokens": out}))


if __name__ == "__main__":
    main()
