"""The `closedloop` command: derive | simulate | validate | figures | reproduce.

Errors from bad input are one line on stderr (``closedloop: error: ...``) and
exit status 2; JSON goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import InputError


def parse_params(text: str | None, what: str = "parameter") -> dict[str, float]:
    """``"mean=3,var=0.5"`` -> {"mean": 3.0, "var": 0.5}; InputError names a malformed item."""
    out: dict[str, float] = {}
    for item in filter(None, (text or "").split(",")):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"malformed {what} {item!r}: expected name=value")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise InputError(f"{what} {name.strip()}: {value!r} is not a number") from None
        if out[name.strip()] != out[name.strip()] or abs(out[name.strip()]) == float("inf"):
            raise InputError(f"{what} {name.strip()}={value} is not finite")
    return out


def _integer_args(text: str | None) -> dict[str, int]:
    args = parse_params(text, "family argument")
    bad = [k for k, v in args.items() if v != int(v)]
    if bad:
        raise InputError(f"family argument {bad[0]} must be an integer")
    return {k: int(v) for k, v in args.items()}


def _progress(enabled: bool):
    if not enabled or not sys.stderr.isatty():
        return None
    return lambda what: print(f"  derived {what}", file=sys.stderr)


def cmd_derive(args) -> int:
    from . import derive

    families = derive.targets(args.families, _integer_args(args.family_args),
                              parse_params(args.fixed, "fixed parameter"))
    if args.json:
        print(json.dumps(derive.to_json(families), indent=1))
        return 0
    import shutil

    compile_pdf = shutil.which("pdflatex") is not None and not args.no_pdf
    docs = derive.write_all(families, Path(args.out), compile_pdf=compile_pdf,
                            progress=_progress(True))
    note = "" if compile_pdf else " (pdflatex not found or --no-pdf: .tex only)"
    print(f"wrote {len(docs)} documents to {args.out}/{note}")
    return 0


def cmd_reproduce(args) -> int:
    ns = argparse.Namespace(families=None, family_args=None, fixed=None, json=False,
                            out=args.derivations, no_pdf=False)
    return cmd_derive(ns)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="closedloop", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("derive", help="derive R1-R8 symbolically and write LaTeX")
    d.add_argument("families", nargs="*", help="family names (default: all)")
    d.add_argument("--out", default="derivations", help="output folder (default: derivations)")
    d.add_argument("--json", action="store_true", help="print A, mu, chi, R3 drift/cov as JSON")
    d.add_argument("--family-args", help="family arguments, e.g. N=10 or n=5,K=4")
    d.add_argument("--fixed", help="natural parameters held fixed, e.g. theta2=0")
    d.add_argument("--no-pdf", action="store_true", help="do not run pdflatex")
    d.set_defaults(run=cmd_derive)

    r = sub.add_parser("reproduce", help="derive + validate + figures (quick settings)")
    r.add_argument("--derivations", default="derivations", help=argparse.SUPPRESS)
    r.set_defaults(run=cmd_reproduce)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except InputError as e:
        print(f"closedloop: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
