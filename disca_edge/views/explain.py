"""Explain: the terminal report of one `disca ask` answer (rich, 80 columns, plain when piped).

`render` prints one `AskResult` (`disca_edge.ask.result`): the dilemma, the vanilla
and DISCA answers, one diverging bar per persona with the base gap and the consensus
marked, the panel statistics with a plain-language gloss each, a "why" paragraph and,
with ``--noise-floor``, one line on the model's noise against the panel's disagreement.
Everything is drawn with characters, so the report reads the same without colour
(``NO_COLOR``, pipes).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..ask.result import AskedDilemma, AskResult, Choice
from ..content import i18n

__all__ = ["render", "render_countries", "bar", "noise_line", "strength"]

_WIDTH = 80
_LABEL = 11  # persona label column
_BASE_MARK = "○"
_CONSENSUS_MARK = "◆"
_AXIS = "│"
_FILL = "█"
_PERSONAS = ("young", "middle", "older", "all")
_SIDE_STYLE = {"A": "cyan", "B": "magenta", "tie": "white"}


# --------------------------------------------------------------------------- pieces


def strength(p: float) -> str:
    """Words for how strongly a probability leans away from 1/2."""
    lean = abs(p - 0.5)
    if lean < 0.02:
        return "indifferent"
    if lean < 0.10:
        return "slight"
    if lean < 0.25:
        return "moderate"
    if lean < 0.40:
        return "strong"
    return "very strong"


def _p_b(gap: float, t_dec: float) -> float:
    x = gap / t_dec
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _cell(value: float, half: int, scale: float) -> int:
    """Column of a gap on a bar of 2 * half + 1 cells (half = the axis)."""
    offset = round(value / scale * half) if scale > 0 else 0
    return half + max(-half, min(half, offset))


def bar(
    value: float,
    half: int,
    scale: float,
    marks: Sequence[tuple[float, str]] = (),
    style: str = "",
) -> Text:
    """A diverging bar: filled from the axis to `value`, left for A (< 0), right for B.

    Args:
        value: the gap (logit / T_cat); > 0 favours B.
        half: cells on each side of the axis.
        scale: the gap drawn at full length (values beyond it are clipped).
        marks: (gap, character) pairs drawn over the bar, e.g. the base gap and consensus.
        style: rich style of the filled cells.

    Returns:
        Text of exactly ``2 * half + 1`` characters.
    """
    cells = [" "] * (2 * half + 1)
    styles = [""] * len(cells)
    cells[half] = _AXIS
    end = _cell(value, half, scale)
    lo, hi = (end, half - 1) if end < half else (half + 1, end)
    for i in range(lo, hi + 1):
        cells[i], styles[i] = _FILL, style
    if end == half and value != 0:  # a nonzero gap too small for one cell: show a sliver
        i = half - 1 if value < 0 else half + 1
        cells[i], styles[i] = ("▐" if value < 0 else "▌"), style
    for gap, char in marks:
        i = _cell(gap, half, scale)
        cells[i], styles[i] = char, "bold yellow"
    text = Text()
    for char, st in zip(cells, styles, strict=True):
        text.append(char, style=st or None)
    return text


def _pct(p: float) -> str:
    return f"{100 * p:.0f}%"


def _side(p_b: float) -> str:
    return "B" if p_b > 0.5 else "A" if p_b < 0.5 else "tie"


def _gap_words(gap: float, t_dec: float) -> Text:
    p_b = _p_b(gap, t_dec)
    side = _side(p_b)
    p_side = p_b if side == "B" else 1.0 - p_b
    words = f"{gap:+.3f} " + (
        "indifferent" if strength(p_b) == "indifferent" else f"{side} {_pct(p_side)}"
    )
    return Text(words, style=_SIDE_STYLE[side])


def _answer_line(
    label: str, read: Choice, style: str = "", options: tuple[str, str] | None = None
) -> Text:
    """One read-out: both probabilities and the chosen option (as in `options`, when given)."""
    text = Text(f"  {label:<24}", style=style)
    text.append(f"A {_pct(read.p_a):>4}  B {_pct(read.p_b):>4}   ")
    if read.choice == "tie":
        text.append("→ tie", style="bold")
    else:
        text.append(f"→ {read.choice} ", style=f"bold {_SIDE_STYLE[read.choice]}")
        option = read.option if options is None else options["AB".index(read.choice)]
        text.append(_short(option, 28))
    return text


def _short(text: str | None, n: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


# --------------------------------------------------------------------------- glosses


def _glosses(result: AskResult) -> list[tuple[str, str, str]]:
    """(name, value, plain-language gloss) rows for the panel statistics."""
    c = result.correction
    floor = result.params.sigma_floor
    rho = result.params.rho_eff
    d2 = c.disagreement
    spread = math.sqrt(d2)
    if spread < floor / 3:
        agree = "the personas almost agree"
    elif spread < floor:
        agree = "the personas differ a little"
    else:
        agree = "the personas disagree clearly"
    e1, e2 = c.ess_ratio
    kept = [e >= rho for e in (e1, e2)]
    if all(kept):
        ess_gloss = (
            f"share of the {result.params.k_half} samples per pass that count; both passes used"
        )
    elif any(kept):
        ess_gloss = f"a pass below {rho:g} is dropped (its offset set to 0)"
    else:
        ess_gloss = f"both passes below {rho:g}: importance sampling adds nothing"
    r = c.reliability
    if r > 0.9:
        r_gloss = "the two passes agree: the sampled offset is kept"
    elif r > 0.3:
        r_gloss = f"the passes partly agree: the offset is scaled by {r:.2f}"
    else:
        r_gloss = "the passes disagree: the offset is switched off"
    alpha = c.alpha_ess
    alpha_gloss = (
        "DISCA moves all the way from the base gap to the consensus"
        if alpha >= 0.999
        else f"DISCA moves {100 * alpha:.0f}% of the way from the base gap to the consensus"
    )
    s1, s2 = c.delta_star_passes
    return [
        ("disagreement D²", f"{d2:.4f}", f"variance of the four persona gaps: {agree}"),
        ("sigma σ", f"{c.sigma:.3f}", f"sampling spread = max(√D², {floor:g})"),
        ("shift Δ", f"{c.shift:+.3f}", "consensus minus base gap: the move the panel asks for"),
        ("ESS ratio e₁ e₂", f"{e1:.2f} {e2:.2f}", ess_gloss),
        ("offsets δ*₁ δ*₂", f"{s1:+.3f} {s2:+.3f}", "each pass's loss-averse compromise offset"),
        ("reliability r", f"{r:.3f}", r_gloss),
        ("offset δ*", f"{c.delta_star:+.3f}", "r × mean of the two offsets, added at the end"),
        ("blend α_ess", f"{alpha:.3f}", alpha_gloss),
    ]


def _why(result: AskResult) -> str:
    """The "why" paragraph: from the base gap and the personas to DISCA's answer."""
    c = result.correction
    t_dec = result.t_dec
    base = result.base_gap

    def lean(gap: float) -> str:
        p = _p_b(gap, t_dec)
        return "no side" if strength(p) == "indifferent" else _side(p)

    sides = [_side(_p_b(g, t_dec)) for g in result.persona_gaps.values()]
    split = (
        f"all four personas lean {sides[0]}"
        if len(set(sides)) == 1
        else f"the personas split {sides.count('A')} for A, {sides.count('B')} for B"
    )
    parts = [
        f"Debiased, the base prompt leans {lean(base)} ({base:+.3f}) and {split} "
        f"(consensus {c.delta_bar:+.3f}).",
        f"DISCA takes {c.alpha_ess:.2f} of the shift Δ {c.shift:+.3f} and adds the "
        f"gated offset {c.delta_star:+.3f} (r {c.reliability:.2f}): "
        f"δ = {c.delta_micro:+.3f}.",
    ]
    if not math.isclose(c.delta_micro, c.delta_final, rel_tol=0, abs_tol=1e-12):
        parts.append(f"The country prior moves it to {c.delta_final:+.3f}.")
    d, v, m = result.disca, result.vanilla, result.vanilla_matched
    parts.append(
        f"So DISCA answers {d.choice} with p {_pct(max(d.p_a, d.p_b))}"
        + (f", unlike the model alone ({v.choice})." if d.flips_vanilla
           else ", as the model alone does.")
    )  # fmt: skip
    if v.choice != m.choice:
        parts.append(
            "Note: debiasing the label order alone already changes the vanilla answer "
            f"({v.choice} → {m.choice})."
        )
    return " ".join(parts)


# --------------------------------------------------------------------------- report


def render(
    result: AskResult,
    console: Console | None = None,
    *,
    verbose: bool = False,
    persona_texts: Sequence[str] | None = None,
    elapsed_s: float | None = None,
) -> None:
    """Print the report of one answer.

    Args:
        result: the answer (`disca_edge.ask.run.answer`).
        console: where to print (default: stdout, at most 80 columns).
        verbose: add the persona texts and the raw logits.
        persona_texts: the four persona system prompts (young, middle, older, all),
            printed when `verbose`.
        elapsed_s: seconds the answer took, shown in the footer.
    """
    console = console or Console(highlight=False)
    width = min(console.width, _WIDTH)
    out = _Printer(console, width)
    out.para(
        f"DISCA · {result.panel.name} ({result.country}) · {result.model.name}"
        f" · {result.variant} · seed {result.seed} · T_cat {result.t_cat:g}"
        f" ({result.dilemma.category or 'no category'})",
        indent=0,
        style="bold",
    )
    out.blank()
    _dilemma_block(out, result.dilemma.text, result.dilemma, result.options_shown)
    _answers(out, result)
    _bars(out, result, width)
    out.blank()
    out.head("Panel statistics")
    out.grid(_glosses(result))
    out.blank()
    out.head("Why")
    out.para(_why(result), indent=2)
    if result.noise is not None:
        out.blank()
        below = result.noise.disagreement_below_floor or result.noise.shift_below_floor
        out.para(noise_line(result), indent=0, style="bold yellow" if below else "dim")
    if verbose:
        out.blank()
        _verbose(out, result, persona_texts)
    out.blank()
    out.para(_footer(result, elapsed_s), indent=0, style="dim")


def _answers(out: _Printer, result: AskResult) -> None:
    """The "Answer" section: the three read-outs and a flag when DISCA flips vanilla."""
    out.head("Answer")
    shown = result.options_shown
    out.line(_answer_line("vanilla (model alone)", result.vanilla, options=shown))
    out.line(_answer_line("vanilla, debiased", result.vanilla_matched, "dim", shown))
    out.line(_answer_line(f"DISCA for {result.country}", result.disca, "bold", shown))
    if result.disca.flips_vanilla:
        out.line(
            Text(
                f"  ⚑ DISCA flips the vanilla answer ({result.vanilla.choice} → "
                f"{result.disca.choice})",
                style="bold yellow",
            )
        )
    out.blank()


def noise_line(result: AskResult) -> str:
    """One line: the noise floor of `result`, and whether the panel's disagreement is below it.

    Raises:
        ValueError: `result` has no noise check.
    """
    check = result.noise
    if check is None:
        raise ValueError("the result has no noise check (ask with --noise-floor)")
    c = result.correction
    spread, shift = math.sqrt(c.disagreement), abs(c.shift)
    floor = (
        f"under {check.setting} the persona effects move by up to {check.floor_max:.3f} "
        f"(median {check.floor_median:.3f})"
    )
    below = [f"disagreement D {spread:.3f}"] if check.disagreement_below_floor else []
    below += [f"shift |Δ| {shift:.3f}"] if check.shift_below_floor else []
    if not below:
        return (
            f"noise floor: {floor}; the panel's disagreement D {spread:.3f} and shift "
            f"|Δ| {shift:.3f} are above it."
        )
    return (
        f"⚠ noise floor: {floor}; the panel's {' and '.join(below)} "
        f"{'is' if len(below) == 1 else 'are'} below it: this correction is within the "
        "model's numerical noise."
    )


def _footer(result: AskResult, elapsed_s: float | None) -> str:
    """Provenance, panel hash, prompt languages and time, in one dim line."""
    foot = f"{result.panel.provenance_statement}; panel sha256 {result.panel.sha256[:12]}"
    language = result.language
    foot += (
        f"; prompts --lang {language.mode}: personas {language.persona_language}, "
        f"frame {language.frame_language}"
    )
    if language.persona_only:
        foot += f" ({language.note})"
    if elapsed_s is not None:
        foot += f"; answered in {elapsed_s:.1f} s"
    return foot


def render_countries(
    results: Sequence[AskResult],
    console: Console | None = None,
    *,
    errors: Sequence[str] = (),
    elapsed_s: float | None = None,
) -> None:
    """Print one dilemma answered for several countries: the dilemma once, a row per country.

    Args:
        results: the answers of one dilemma, one per country, in row order.
        console: where to print (default: stdout, at most 80 columns).
        errors: one-line messages of countries that could not be answered.
        elapsed_s: seconds all countries took together, shown in the footer.
    """
    console = console or Console(highlight=False)
    width = min(console.width, _WIDTH)
    out = _Printer(console, width)
    first = results[0]
    out.para(
        f"DISCA · {len(results)} countries · {first.model.name} · {first.variant}"
        f" · seed {first.seed} · T_cat {first.t_cat:g}"
        f" ({first.dilemma.category or 'no category'})",
        indent=0,
        style="bold",
    )
    out.blank()
    _shared_dilemma_block(out, results)
    console.print(_country_table(results, width), width=width)
    for message in errors:
        out.para(f"✗ {message}", indent=2, style="red")
    out.blank()
    for line in _noise_lines(results):
        out.para(line, indent=2, style="bold yellow")
    foot = (
        "p_B: probability of option B; flip: DISCA's choice differs from vanilla's; "
        "D²: the panel's disagreement. `disca ask --country ISO3` explains one country."
    )
    if elapsed_s is not None:
        foot += f" Answered in {elapsed_s:.1f} s."
    out.para(foot, indent=0, style="dim")


def _noise_lines(results: Sequence[AskResult]) -> list[str]:
    """One line naming the countries whose panel disagreement is below the model's noise."""
    below = [
        f"{r.country} (up to {r.noise.floor_max:.3f})"
        for r in results
        if r.noise is not None and (r.noise.disagreement_below_floor or r.noise.shift_below_floor)
    ]
    if not below:
        return []
    setting = next(r.noise.setting for r in results if r.noise is not None)
    return [
        f"⚠ the panel's disagreement or shift is below the model's noise (the persona effects "
        f"moved under {setting}) in: " + ", ".join(below)
    ]


def _country_table(results: Sequence[AskResult], width: int) -> Table:
    """One row per country: vanilla and DISCA p_B, a flip mark and the disagreement."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, width=width, show_edge=False)
    table.add_column("country", no_wrap=True, overflow="ellipsis")
    table.add_column("vanilla p_B", justify="right", no_wrap=True)
    table.add_column("DISCA p_B", justify="right", no_wrap=True)
    table.add_column("flip", justify="center", no_wrap=True)
    table.add_column("D²", justify="right", no_wrap=True)
    for r in results:
        vanilla, disca = r.vanilla, r.disca
        move = f"{vanilla.choice}→{disca.choice}"
        table.add_row(
            f"{r.country} {r.panel.name}",
            f"{vanilla.p_b:.3f} {vanilla.choice}",
            Text(f"{disca.p_b:.3f} {disca.choice}", style=f"bold {_SIDE_STYLE[disca.choice]}"),
            Text(f"⚑ {move}", style="bold yellow")
            if disca.flips_vanilla
            else Text("·", style="dim"),
            f"{r.correction.disagreement:.4f}",
        )
    return table


def _bars(out: _Printer, result: AskResult, width: int) -> None:
    """The persona bars, then base, consensus and DISCA, on one shared scale."""
    t_dec = result.t_dec
    gaps = result.persona_gaps
    base, cons, final = result.base_gap, result.correction.delta_bar, result.correction.delta_final
    values = [*gaps.values(), base, cons, final]
    scale = max(0.25, max(abs(v) for v in values))
    scale = _nice(scale)
    half = max(8, min(20, (width - _LABEL - 20) // 2))
    out.head("Personas  (debiased gap δ: left favours A, right favours B)")
    axis = Text(" " * (_LABEL + 2))
    axis.append("A", style=f"bold {_SIDE_STYLE['A']}")
    axis.append(" " * (half - 1) + _AXIS + " " * (half - 1))
    axis.append("B", style=f"bold {_SIDE_STYLE['B']}")
    out.line(axis)
    marks = [(base, _BASE_MARK), (cons, _CONSENSUS_MARK)]
    for name in _PERSONAS:
        if name not in gaps:
            continue
        out.line(_bar_row(name, gaps[name], half, scale, t_dec, marks, "blue"))
    out.line(Text(" " * 2 + "─" * (_LABEL + 2 * half + 1)))
    out.line(_bar_row(f"base {_BASE_MARK}", base, half, scale, t_dec, (), "white"))
    out.line(_bar_row(f"consensus {_CONSENSUS_MARK}", cons, half, scale, t_dec, (), "white"))
    out.line(_bar_row("DISCA", final, half, scale, t_dec, (), "bold green"))
    out.para(
        f"{_BASE_MARK} base gap  {_CONSENSUS_MARK} consensus δ̄  bars span ±{scale:g}  "
        f"% = sigmoid(δ/{t_dec:g})",
        style="dim",
    )


def _nice(x: float) -> float:
    """Round a scale up to 1, 2, 2.5 or 5 times a power of ten."""
    exp = math.floor(math.log10(x))
    for step in (1, 2, 2.5, 5, 10):
        if step * 10**exp >= x - 1e-12:
            return step * 10**exp
    return 10 ** (exp + 1)  # pragma: no cover


def _bar_row(label, value, half, scale, t_dec, marks, style) -> Text:
    row = Text(f"  {label:<{_LABEL}}")
    row.append_text(bar(value, half, scale, marks, style))
    row.append("  ")
    row.append_text(_gap_words(value, t_dec))
    return row


def _verbose(out: _Printer, result: AskResult, persona_texts: Sequence[str] | None) -> None:
    """The persona system prompts and the raw logits of every evaluation."""
    out.head("Persona system prompts")
    if persona_texts is None:
        out.line(Text("  (not given; they are the system turns of the --json prompts)"))
    for name, text in zip(_PERSONAS, persona_texts or (), strict=False):
        out.line(Text(f"  {name}", style="bold"))
        out.para(text, indent=4)
    out.blank()
    out.head("Raw logits  (z at the last prompt position; gap = z_B − z_A)")
    out.line(
        Text(f"  {'agent':<8}{'order':<6}{'tok A':>7}{'tok B':>7}{'z_A':>12}{'z_B':>12}{'gap':>10}")
    )
    for ev in result.evaluations:
        gap = ev.logit_b - ev.logit_a
        out.line(
            Text(
                f"  {ev.agent:<8}{ev.order:<6}{ev.token_a:>7}{ev.token_b:>7}"
                f"{ev.logit_a:>12.4f}{ev.logit_b:>12.4f}{gap:>+10.4f}"
            )
        )
    out.line(Text("  the exact prompts are in the --json output", style="dim"))


class _Printer:
    """Prints lines and wrapped paragraphs on a console at the report width."""

    def __init__(self, console: Console, width: int) -> None:
        self.console, self.width = console, width

    def line(self, text: Text) -> None:
        text.no_wrap = True
        text.overflow = "ellipsis"
        self.console.print(text, width=self.width, crop=True)

    def blank(self) -> None:
        self.console.print()

    def head(self, title: str) -> None:
        self.console.print(Text(title, style="bold"), width=self.width)

    def para(self, text: str, indent: int = 2, style: str | None = None) -> None:
        """Word-wrap plain text with an indent (no trailing spaces, unlike rich padding)."""
        lines = textwrap.wrap(
            text, self.width, initial_indent=" " * indent, subsequent_indent=" " * indent
        )
        for piece in lines or [""]:
            self.line(Text(piece, style=style or ""))

    def labelled(self, label: str, text: str, label_style: str) -> None:
        """`label` then `text` wrapped under itself (hanging indent)."""
        pieces = textwrap.wrap(" ".join(text.split()), max(20, self.width - len(label))) or [""]
        first = Text(label, style=label_style)
        first.append(pieces[0])
        self.line(first)
        for piece in pieces[1:]:
            self.line(Text(" " * len(label) + piece))

    def grid(self, rows: list[tuple[str, str, str]], indent: int = 2) -> None:
        """Name, right-aligned value and a dim gloss that wraps under itself."""
        name_w = max(len(r[0]) for r in rows)
        value_w = max(len(r[1]) for r in rows)
        left = indent + name_w + 2 + value_w + 2
        room = max(20, self.width - left)
        for name, value, gloss in rows:
            pieces = textwrap.wrap(gloss, room) or [""]
            first = Text(" " * indent + f"{name:<{name_w}}  {value:>{value_w}}  ")
            first.append(pieces[0], style="dim")
            self.line(first)
            for piece in pieces[1:]:
                self.line(Text(" " * left + piece, style="dim"))


def _dilemma_block(out: _Printer, text: str, dilemma: AskedDilemma, shown: tuple[str, str]) -> None:
    """The "Dilemma" section: the question and options A and B as the model saw them.

    An option the prompt showed in another language than typed ("1 Junge" for "a boy")
    is followed by the typed text.
    """
    out.head("Dilemma")
    out.para(text, indent=2)
    typed = (dilemma.option_a, dilemma.option_b)
    for label, option, own in zip("AB", shown, typed, strict=True):
        text = option if option == own else f"{option} (typed: {own})"
        out.labelled(f"  {label}  ", text, f"bold {_SIDE_STYLE[label]}")
    out.blank()


def _shared_dilemma_block(out: _Printer, results: Sequence[AskResult]) -> None:
    """The dilemma of a several-country ask: as seen when all share a frame language.

    Countries asked in different languages saw different texts: then the question is
    shown in English (the trolley form) or as typed, the options as typed, and a line
    names each language.
    """
    first = results[0]
    languages: dict[str, list[str]] = {}
    for r in results:
        languages.setdefault(r.language.frame_language, []).append(r.country)
    if len(languages) == 1:
        _dilemma_block(out, first.dilemma.text, first.dilemma, first.options_shown)
        return
    d = first.dilemma
    text = i18n.language("en").trolley_opener if d.form == "trolley" else d.text
    _dilemma_block(out, text, d, (d.option_a, d.option_b))
    out.para(
        "each country was asked in its own frame language: "
        + "; ".join(f"{code} ({', '.join(isos)})" for code, isos in languages.items()),
        indent=2,
        style="dim",
    )
    out.blank()
