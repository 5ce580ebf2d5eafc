"""The claims report: a terminal table, JSON, and ``claims.md`` (no timings: the same seed and
budget give the same file on the same machine)."""

from __future__ import annotations

from pathlib import Path

from ..io import write_text_atomic
from ..stats import FAMILY_WISE_ALPHA
from .registry import VERDICTS, Budget, Result


def _fmt(x, digits: int = 5) -> str:
    return "-" if x is None else f"{x:.{digits}g}"


def _cells(r: Result) -> list[str]:
    e = r.evidence
    if e is None:
        return [r.claim.id, "-", "-", "-", "-", "-", r.verdict]
    return [r.claim.id, _fmt(e.published), _fmt(e.derived), f"{_fmt(e.estimate)} ± {_fmt(e.sem, 2)}",
            _fmt(r.z_ours, 3), _fmt(r.z_control, 3) if e.control is not None else "-", r.verdict]


HEADER = ["claim", "published", "ours (derived)", "simulated ± s.e.", "z", "control z", "verdict"]


def summary_line(results: list[Result]) -> str:
    counts = {v: n for v in VERDICTS if (n := sum(r.verdict == v for r in results))}
    return (", ".join(f"{n} {v}" for v, n in counts.items()) + f" of {len(results)} claims; z* = "
            f"{results[0].z_star:.3f} (Sidak, family-wise alpha = {FAMILY_WISE_ALPHA:g} over the registry)")


def text(results: list[Result]) -> str:
    rows = [HEADER] + [_cells(r) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines + [""] + [f"{r.claim.id}: {r.verdict}: {r.why}" for r in results]
                     + ["", summary_line(results)])


def as_json(results: list[Result], budget: Budget, seed: int) -> dict:
    return {"budget": budget.name, "seed": seed, "alpha": FAMILY_WISE_ALPHA, "z_star": results[0].z_star,
            "claims": [r.as_json(budget, seed) for r in results]}


def markdown(results: list[Result], budget: Budget, seed: int) -> str:
    """``claims.md``: the table, then each claim with its citation, statement, command and evidence."""
    rows = [HEADER, ["---"] * len(HEADER)] + [_cells(r) for r in results]
    out = ["# Published claims, checked", "",
           (f"Written by `closedloop claims --out` (budget {budget.name}, seed {seed}). Each claim is "
            "simulated with the command shown (chains at this budget) and compared with the toolkit's "
            "derivation; z = (simulated − ours)/s.e., the control is a wrong value the same estimate must "
            "reject."), "",
           *("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows), "",
           summary_line(results), ""]
    for r in results:
        c, e = r.claim, r.evidence
        out += [f"## `{c.id}`: {r.verdict}", "",
                f"*{c.citation.authors}*, {c.citation.title}, arXiv:{c.citation.arxiv}"
                + (f", {c.citation.venue}" if c.citation.venue else "") + f"; {c.citation.where}.", "",
                f"- **Statement:** {c.statement}", f"- **Published:** {c.published}",
                f"- **What was checked:** {c.checked}"]
        if c.setting:
            out.append(f"- **Setting:** `{c.command(budget, seed)}`")
        if e is not None:
            out += [(f"- **Quantity:** {e.quantity}; ours {_fmt(e.derived, 6)} ({e.derived_from}); simulated "
                     f"{_fmt(e.estimate, 6)} ± {_fmt(e.sem, 2)} (z = {_fmt(r.z_ours, 3)})"),
                    f"- **Control:** {e.control_label or '-'}"
                    + (f" = {_fmt(e.control, 6)}, z = {_fmt(r.z_control, 3)}" if e.control is not None
                       else "")]
        out += [f"- **Verdict:** {r.verdict}: {r.why}", ""]
    return "\n".join(out)


def write(results: list[Result], budget: Budget, seed: int, folder: Path) -> Path:
    path = Path(folder) / "claims.md"
    write_text_atomic(path, markdown(results, budget, seed))
    return path
