"""`disca ask` and `disca eval` read the same numbers from the same logits (one path).

Random logits (some dilemmas without a swap, one without a category) go through
`ask.result.answers_from_logits` and through `methods.compute_methods`, with the same seed and
noise indices; every number both report must be bit-identical.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from disca_edge import pipeline
from disca_edge.ask.inputs import make_input
from disca_edge.ask.result import answers_from_logits
from disca_edge.content.personas import load_panel
from disca_edge.maths import core, methods
from disca_edge.models.open import ModelInfo

FAKE_MODEL = ModelInfo(name="fake", path="/models/fake.gguf", sha256="0" * 64, settings={})
CATEGORIES = ["Age", "Species", None, "Gender", "SocialValue", "Utilitarianism", "Fitness"]


@pytest.fixture(scope="module", params=[0, 1, 2])
def same_logits(request):
    rng = np.random.default_rng(request.param)
    n = len(CATEGORIES)
    logits = rng.normal(0.0, 2.0, size=(n, 2, 5, 2))
    has_swap = np.array([True, True, False, True, True, False, True])
    logits[~has_swap, 1] = logits[~has_swap, 0]
    items = [
        make_input(f"group {s} left", f"group {s} right", category=c, index=10 * s + 3)
        for s, c in enumerate(CATEGORIES)
    ]
    panel_logits = pipeline.PanelLogits(
        logits,
        has_swap,
        np.zeros((n, 2, 5, 2), dtype=np.int64),
        [[f"p{s}-{k}" for k in range(10 if has_swap[s] else 5)] for s in range(n)],
    )
    return items, panel_logits


def test_ask_and_eval_give_identical_numbers(same_logits):
    items, panel_logits = same_logits
    params, seed = core.DiscaParams("paper"), 7
    results = answers_from_logits(
        items,
        panel_logits,
        model_info=FAKE_MODEL,
        panel=load_panel("JPN"),
        params=params,
        seed=seed,
    )
    suite = methods.method_suite("paper")
    outputs = methods.compute_methods(
        panel_logits.logits,
        panel_logits.has_swap,
        [item.category for item in items],
        np.ones(len(items), dtype=bool),  # preferred = B, so p_spare is p_B
        core.draws(seed, [item.index for item in items], params.k_half),
        suite,
    )
    disca = outputs["disca_paper"]

    def column(get):
        return np.array([get(r) for r in results], dtype=float)

    assert_array_equal(column(lambda r: r.base_gap), disca["delta_base"])
    assert_array_equal(column(lambda r: r.base_gap), outputs["vanilla_lfl"]["delta_micro"])
    personas = np.array([list(r.persona_gaps.values()) for r in results], dtype=float)
    assert_array_equal(personas, disca["delta_personas"])
    bias = np.array(
        [[np.nan if v is None else v for v in r.position_bias.values()] for r in results]
    )
    assert_array_equal(bias, disca["bias"])
    assert np.isnan(bias[~panel_logits.has_swap]).all()
    for key in ("delta_bar", "disagreement", "sigma", "reliability", "delta_star", "alpha_ess"):
        assert_array_equal(column(lambda r, k=key: getattr(r.correction, k)), disca[key])
    for key in ("ess_ratio", "delta_star_passes"):
        got = np.array([getattr(r.correction, key) for r in results], dtype=float)
        assert_array_equal(got, disca[key])
    assert_array_equal(column(lambda r: r.correction.delta_micro), disca["delta_micro"])
    # the three read-outs: p_B of ask equals p_spare of eval when B is the preferred side
    assert_array_equal(column(lambda r: r.disca.p_b), disca["p_spare_micro"])
    assert_array_equal(column(lambda r: r.vanilla.p_b), outputs["vanilla_raw"]["p_spare_micro"])
    assert_array_equal(
        column(lambda r: r.vanilla_matched.p_b), outputs["vanilla_lfl"]["p_spare_micro"]
    )
    assert_array_equal(column(lambda r: r.t_cat), [params.t_cat(c) for c in CATEGORIES])
