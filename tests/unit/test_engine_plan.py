"""The shared-prefix planner, without a model: every planned token sees exactly its prompt."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disca_edge.engine.plan import common_prefix_len, plan

FIRST_LEAF = 16


def _contexts(tokens, prefix_lens, groups):
    """Simulate llama.cpp's unified KV cache filled in order; check every step's attention.

    Pinned prefixes take the first cells, each as its own sequence, and are copied into
    their leaf sequences; steps then take the following cells in order. A token attends
    to the cells of its sequence at positions <= its own (llama.cpp's causal mask),
    checked here over the group's final cells, a superset of those present when it runs.
    Returns {prompt index: position of the step whose logits row it reads}.
    """
    read = {}
    for group in groups:
        cells = []  # [pos, token, seq ids]
        pinned = {}
        for k, prefix in enumerate(group.prefixes):
            pinned[prefix] = -(k + 1)
            cells += [[pos, tok, {-(k + 1)}] for pos, tok in enumerate(prefix)]
        prompts_of = {}
        for leaf, prefix in group.leaves:
            assert leaf >= FIRST_LEAF
            if prefix:
                for cell in cells:
                    if pinned[prefix] in cell[2]:
                        cell[2].add(leaf)
            prompts_of[leaf] = [
                i for i in group.prompts if tuple(tokens[i][: prefix_lens[i]]) == prefix
            ]
        first_step_cell = len(cells)
        cells += [[s.pos, s.token, set(s.seq_ids)] for s in group.steps]
        for j, step in enumerate(group.steps):
            assert step.seq_ids, "a step that belongs to no sequence is wasted work"
            for seq in step.seq_ids:
                visible = [c for c in cells if seq in c[2] and c[0] <= step.pos]
                # cells in position order, one per position: what isolated evaluation sees
                assert [c[0] for c in visible] == list(range(step.pos + 1))
                assert visible[-1] is cells[first_step_cell + j]
                context = [c[1] for c in visible]
                owners = [i for i in prompts_of[seq] if len(tokens[i]) > step.pos]
                owners = [i for i in owners if list(tokens[i][: step.pos + 1]) == context]
                assert owners, f"seq {seq} at pos {step.pos} sees a context no prompt has"
            for i in step.prompts:
                assert i not in read, f"prompt {i} read twice"
                assert step.pos == len(tokens[i]) - 1
                # the row read for prompt i was computed from exactly prompt i's tokens
                visible = [c[1] for c in cells if step.seq_ids[0] in c[2] and c[0] <= step.pos]
                assert visible == list(tokens[i])
                read[i] = step.pos
    return read


_token_lists = st.lists(st.integers(0, 3), min_size=0, max_size=6)


@st.composite
def _prompts(draw):
    """Prompts built from a few system prefixes (often of equal length) and suffixes."""
    systems = draw(st.lists(_token_lists, min_size=1, max_size=4))
    users = draw(
        st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=8), min_size=1, max_size=5)
    )
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, len(systems) - 1), st.integers(0, len(users) - 1)),
            min_size=1,
            max_size=14,
        )
    )
    tokens = [systems[s] + users[u] for s, u in pairs]
    prefix_lens = [len(systems[s]) for s, _ in pairs]
    return tokens, prefix_lens


@settings(max_examples=300, deadline=None)
@given(
    _prompts(), st.integers(1, 6), st.integers(0, 30), st.integers(1, 3),
    st.none() | st.integers(0, 40),
)  # fmt: skip
def test_every_planned_token_attends_to_its_own_prompt(
    prompts, leaf_slots, spare, prefix_slots, past
):
    tokens, prefix_lens = prompts
    budget = max(len(t) for t in tokens) + spare
    limit = None if past is None else budget + past
    groups = plan(tokens, prefix_lens, first_leaf=FIRST_LEAF, leaf_slots=leaf_slots,
                  cell_budget=budget, prefix_slots=prefix_slots, cell_limit=limit)  # fmt: skip
    read = _contexts(tokens, prefix_lens, groups)
    assert sorted(read) == list(range(len(tokens)))
    assert sorted(i for g in groups for i in g.prompts) == list(range(len(tokens)))
    for group in groups:
        assert group.cells <= (budget if limit is None else limit)
        assert len(group.leaves) <= leaf_slots
        assert len(group.prefixes) <= prefix_slots


def test_equal_length_different_prefixes_share_nothing():
    """The issue-9 bug: two system prompts of the same length must not share suffix nodes."""
    kind, harsh = [1, 2, 3], [1, 5, 6]
    user = [7, 8, 9]
    groups = plan([kind + user, harsh + user], [3, 3], first_leaf=FIRST_LEAF, leaf_slots=8,
                  cell_budget=100)  # fmt: skip
    (group,) = groups
    assert len(group.steps) == 2 * len(user)
    assert all(len(step.seq_ids) == 1 for step in group.steps)


def test_same_prefix_prompts_share_their_common_suffix():
    system = [1, 2]
    tokens = [system + [3, 4, 5], system + [3, 4, 6], system + [3, 4, 5]]
    (group,) = plan(tokens, [2, 2, 2], first_leaf=FIRST_LEAF, leaf_slots=8, cell_budget=100)
    assert [s.token for s in group.steps] == [3, 4, 5, 6]
    assert len(group.leaves) == 2  # identical prompts share one leaf sequence
    assert group.steps[0].seq_ids == (FIRST_LEAF, FIRST_LEAF + 1)
    assert group.steps[2].prompts == (0, 2)


def test_plan_splits_groups_by_cells_and_leaves():
    tokens = [[1, 2, 3, k] for k in range(10)]
    groups = plan(tokens, [3] * 10, first_leaf=FIRST_LEAF, leaf_slots=4, cell_budget=100)
    assert [len(g.prompts) for g in groups] == [4, 4, 2]
    groups = plan(tokens, [3] * 10, first_leaf=FIRST_LEAF, leaf_slots=64, cell_budget=6)
    assert [g.cells for g in groups] == [6, 6, 6, 4]  # 3 prefix cells + 3 leaves


def test_a_prompt_sharing_most_of_its_suffix_joins_past_the_budget():
    """The two option orders of a long dilemma: one group, the shared part decoded once."""
    system, dilemma = [1, 2, 3], list(range(10, 50))  # 3 + 40 + 2 tokens a prompt
    orders = [system + dilemma + [7, 8], system + dilemma + [8, 7]]
    alone = plan(orders, [3, 3], first_leaf=FIRST_LEAF, leaf_slots=8, cell_budget=45)
    assert [len(g.prompts) for g in alone] == [1, 1]  # no limit: the budget holds
    (pair,) = plan(orders, [3, 3], first_leaf=FIRST_LEAF, leaf_slots=8, cell_budget=45,
                   cell_limit=4096)  # fmt: skip
    assert pair.cells == 3 + 40 + 2 + 2 and len(pair.steps) == 44
    tight = plan(orders, [3, 3], first_leaf=FIRST_LEAF, leaf_slots=8, cell_budget=45,
                 cell_limit=46)  # fmt: skip
    assert [len(g.prompts) for g in tight] == [1, 1]  # the limit holds


def test_a_prompt_sharing_little_does_not_join_past_the_budget():
    system = [1, 2, 3]
    tokens = [system + list(range(10, 30)), system + [10, 11] + list(range(60, 78))]
    groups = plan(tokens, [3, 3], first_leaf=FIRST_LEAF, leaf_slots=8, cell_budget=30,
                  cell_limit=4096)  # fmt: skip
    assert [len(g.prompts) for g in groups] == [1, 1]


@pytest.mark.parametrize(
    ("prefix_lens", "match"), [([3], r"prefix_len 3 not in \[0, 2\]"), ([-1], "prefix_len -1")]
)
def test_plan_rejects_bad_prefix_lengths(prefix_lens, match):
    with pytest.raises(ValueError, match=match):
        plan([[1, 2, 3]], prefix_lens, first_leaf=FIRST_LEAF, leaf_slots=2, cell_budget=10)


def test_common_prefix_len():
    assert common_prefix_len([1, 2, 3], [1, 2, 4, 5]) == 2
    assert common_prefix_len([], [1]) == 0
