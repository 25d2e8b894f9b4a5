"""The shared-prefix planner: prompts' tokens in, KV-cache groups and decode steps out.

Pure Python (no llama import), so its correctness is tested without a model.

A prompt is a token list whose first ``prefix_len`` tokens are its *pinned prefix* (the
rendered system prompt, resident in the KV cache as its own sequence). The rest, its
*suffix*, is decoded in a trie. A trie node stands for one token at one position in
one context, so two prompts may share a node only when everything before it is
identical: the same pinned prefix and the same suffix path. The trie's roots are
therefore keyed by the pinned prefix, never by (position, token) alone.

Every distinct prompt gets a *leaf sequence* id. The engine copies the prompt's pinned
prefix into that sequence (``llama_memory_seq_cp``, no compute), then decodes the steps
in order: each step is one token at one position, assigned to the leaf sequences of
every prompt below its node, so it attends to exactly the prompt's own preceding
tokens. Steps come in pre-order (every node after its ancestors), so in a KV cache that
fills cells in order, the cells a token sees lie in position order, as they do when the
prompt is evaluated alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["Group", "Step", "common_prefix_len", "plan"]


class Step(NamedTuple):
    """One token to decode.

    Attributes:
        token: token id.
        pos: its position in the prompt (0-based).
        seq_ids: the leaf sequences (prompts) it belongs to.
        prompts: indices of the prompts whose last token this is (their logits row).
    """

    token: int
    pos: int
    seq_ids: tuple[int, ...]
    prompts: tuple[int, ...]


@dataclass(frozen=True)
class Group:
    """Prompts decoded together in one KV-cache fill.

    Attributes:
        prompts: prompt indices in this group.
        prefixes: the distinct non-empty pinned prefixes the group needs resident.
        leaves: (leaf sequence id, pinned prefix to copy into it, possibly empty) per
            distinct prompt.
        steps: the suffix tokens, in decode (pre-)order.
    """

    prompts: tuple[int, ...]
    prefixes: tuple[tuple[int, ...], ...]
    leaves: tuple[tuple[int, tuple[int, ...]], ...]
    steps: tuple[Step, ...]

    @property
    def cells(self) -> int:
        """KV cells the group occupies: its pinned prefixes plus its trie nodes."""
        return sum(len(p) for p in self.prefixes) + len(self.steps)


def common_prefix_len(a: Sequence[int], b: Sequence[int]) -> int:
    """Number of leading tokens `a` and `b` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _order(tokens: Sequence[Sequence[int]], prefix_lens: Sequence[int]) -> list[int]:
    """Prompt indices sorted so that prompts sharing a prefix and suffix start are adjacent.

    Prefixes keep their order of first appearance; within one, suffixes sort
    lexicographically, so scenarios with the same opening land in the same group.
    """
    rank: dict[tuple[int, ...], int] = {}
    for toks, plen in zip(tokens, prefix_lens, strict=True):
        rank.setdefault(tuple(toks[:plen]), len(rank))
    return sorted(
        range(len(tokens)),
        key=lambda i: (rank[tuple(tokens[i][: prefix_lens[i]])], list(tokens[i][prefix_lens[i] :])),
    )


def plan(
    tokens: Sequence[Sequence[int]],
    prefix_lens: Sequence[int],
    *,
    first_leaf: int,
    leaf_slots: int,
    cell_budget: int,
    prefix_slots: int | None = None,
    cell_limit: int | None = None,
) -> list[Group]:
    """Plan the shared-prefix evaluation of P prompts.

    Args:
        tokens: P token lists.
        prefix_lens: P pinned-prefix lengths, each in ``[0, len(tokens[i]) - 1]`` (the
            last token is always decoded, as its logits row is the result).
        first_leaf: the first sequence id free for leaf sequences.
        leaf_slots: most distinct prompts (leaf sequences) per group.
        cell_budget: KV cells per group (pinned prefixes + trie nodes) to aim for.
        prefix_slots: most distinct non-empty pinned prefixes per group (None: no limit).
        cell_limit: most KV cells per group (None: `cell_budget`). A prompt with 3/4 of
            its suffix already on the trie joins past `cell_budget`, within twice its
            length and `cell_limit` (a long dilemma's two option orders share a group).

    Returns:
        Groups covering every prompt exactly once. Results do not depend on the input
        order: prompts are regrouped so similar ones share nodes.

    Raises:
        ValueError: a prefix length is out of range, or one prompt exceeds `cell_budget`.
    """
    _check_plan(tokens, prefix_lens, leaf_slots, cell_budget)
    groups: list[Group] = []
    members: list[int] = []
    tries: dict[tuple[int, ...], dict] = {}  # pinned prefix -> nested {token: children}
    leaves: set[tuple[int, ...]] = set()
    cells = 0
    for i in _order(tokens, prefix_lens):
        toks = tuple(tokens[i])
        prefix, suffix = toks[: prefix_lens[i]], toks[prefix_lens[i] :]
        extra = _new_cells(tries, prefix, suffix)
        new_leaf = toks not in leaves
        new_prefix = bool(prefix) and prefix not in tries
        full = (new_leaf and len(leaves) >= leaf_slots) or not _fits(
            cells, extra, len(toks), len(suffix), cell_budget, cell_limit
        )
        full |= new_prefix and prefix_slots is not None and sum(map(bool, tries)) >= prefix_slots
        if members and full:
            groups.append(_build(tokens, prefix_lens, members, first_leaf))
            members, tries, leaves, cells = [], {}, set(), 0
            extra = len(toks)
        node = tries.setdefault(prefix, {})
        for tok in suffix:
            node = node.setdefault(tok, {})
        leaves.add(toks)
        members.append(i)
        cells += extra
    if members:
        groups.append(_build(tokens, prefix_lens, members, first_leaf))
    return groups


def _fits(cells: int, extra: int, length: int, suffix: int, budget: int, limit: int | None) -> bool:
    """Whether a prompt adding `extra` cells to a group of `cells` joins it (`plan`'s rule)."""
    if cells + extra <= budget:
        return True
    shares = 4 * extra <= suffix  # at least 3/4 of its suffix is on the trie already
    return limit is not None and shares and cells + extra <= min(limit, 2 * length)


def _check_plan(
    tokens: Sequence[Sequence[int]], prefix_lens: Sequence[int], leaf_slots: int, cell_budget: int
) -> None:
    """Refuse what `plan` cannot lay out (its Raises)."""
    if len(tokens) != len(prefix_lens):
        raise ValueError(
            f"tokens and prefix_lens differ in length: {len(tokens)}, {len(prefix_lens)}"
        )
    if leaf_slots < 1:
        raise ValueError(f"leaf_slots must be >= 1, got {leaf_slots}")
    for i, (toks, plen) in enumerate(zip(tokens, prefix_lens, strict=True)):
        if not 0 <= plen < len(toks):
            raise ValueError(f"prompt {i}: prefix_len {plen} not in [0, {len(toks) - 1}]")
        if len(toks) > cell_budget:
            raise ValueError(f"prompt {i} has {len(toks)} tokens; a group holds {cell_budget}")


def _new_cells(
    tries: dict[tuple[int, ...], dict], prefix: tuple[int, ...], suffix: tuple[int, ...]
) -> int:
    """KV cells a prompt adds to a group: its prefix if not yet there, its suffix tokens off the trie."""
    extra = 0 if prefix in tries else len(prefix)
    node: dict | None = tries.get(prefix, {})
    for tok in suffix:
        if node is None or tok not in node:
            extra += 1
            node = None
        else:
            node = node[tok]
    return extra


class _Node:
    __slots__ = ("children", "prompts", "seqs", "token")

    def __init__(self, token: int) -> None:
        self.token = token
        self.children: dict[int, _Node] = {}
        self.seqs: list[int] = []
        self.prompts: list[int] = []


def _build(
    tokens: Sequence[Sequence[int]], prefix_lens: Sequence[int], members: list[int], first_leaf: int
) -> Group:
    """Lay one group's prompts out as a trie rooted at their pinned prefixes."""
    roots: dict[tuple[int, ...], dict[int, _Node]] = {}
    leaf_of: dict[tuple[int, ...], int] = {}
    leaves: list[tuple[int, tuple[int, ...]]] = []
    for i in members:
        toks = tuple(tokens[i])
        prefix = toks[: prefix_lens[i]]
        if toks not in leaf_of:
            leaf_of[toks] = first_leaf + len(leaf_of)
            leaves.append((leaf_of[toks], prefix))
        seq = leaf_of[toks]
        level = roots.setdefault(prefix, {})
        node = None
        for tok in toks[prefix_lens[i] :]:
            node = level.get(tok)
            if node is None:
                node = level[tok] = _Node(tok)
            if seq not in node.seqs:
                node.seqs.append(seq)
            level = node.children
        assert node is not None  # a prompt has at least one suffix token (prefix_len < len)
        node.prompts.append(i)

    steps: list[Step] = []
    for prefix, level in roots.items():
        stack = [(len(prefix), node) for node in reversed(level.values())]
        while stack:
            pos, node = stack.pop()
            steps.append(Step(node.token, pos, tuple(node.seqs), tuple(node.prompts)))
            stack.extend((pos + 1, child) for child in reversed(node.children.values()))
    return Group(
        prompts=tuple(members),
        prefixes=tuple(p for p in roots if p),
        leaves=tuple(leaves),
        steps=tuple(steps),
    )
