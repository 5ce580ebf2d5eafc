"""Forms evaluated together: a subexpression that the printed code of several derived forms (or of
one, twice) computes by the same operations on the same arguments is evaluated once
(:class:`Shared`), and a lower bound of a form's magnitude over many rows read off its code
(:meth:`SharedValues.at_least`). Read from the code lambdify printed, never rewritten, so every
form's numbers are its own function's bit for bit. Also :func:`bound` (a form as a function of
named arrays) and :func:`code_of` (a compiled form's code as syntax trees).
"""

from __future__ import annotations

import ast
import inspect
import math
import operator
import textwrap

import numpy as np


def bound(form, names: tuple[str, ...]):
    """The float function of the arrays named ``names`` (in that order) that ``form`` is; a bare
    symbol returns its argument itself (no copy)."""
    args, fn = form
    cols = [names.index(a) for a in args]
    if fn is None:
        (a,) = cols
        return lambda *values: values[a]

    def f(*values):
        with np.errstate(all="ignore"):
            return np.asarray(fn(*(values[c] for c in cols)), dtype=float)
    return f


# the operators of a form's code, applied as Python applies them (``operator.add(2, x)`` is ``2 + x``)
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.Pow: operator.pow}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
# the ufunc each arithmetic operator applies to float arrays, to write into a temporary (as NumPy's own
# elision of temporaries does): + − × ÷ are correctly rounded, the same numbers in place or not
_IN_PLACE = {operator.add: np.add, operator.sub: np.subtract, operator.mul: np.multiply,
             operator.truediv: np.true_divide, operator.neg: np.negative}
# where a plan's step reads an operand (Shared.plan): an argument, a number, a kept node's value, or
# the value an earlier step made
ARG, NUMBER, KEPT, MADE = range(4)
FLOATS = (int, float, np.float64)  # the numbers a float array's arithmetic keeps float64


def _float_ufunc(what, arguments: int) -> bool:
    """Whether ``what`` is a ufunc taking ``arguments`` floats to one float (log, exp; not isnan)."""
    return isinstance(what, np.ufunc) and what.nout == 1 and what.nin == arguments and \
        "d" * arguments + "->d" in what.types


class Shared:
    """Forms of the same arguments evaluated together, a subexpression that the code of several of
    them (or of one, twice) computes by the same operations evaluated once: the Gaussian's μ1² in
    its variance, θ, entropy and spread, and μ1² − μ2 in its θ and entropy; the exponential's 1/μ,
    its rate, in its entropy 1 − log(1/μ).

    Each form's code (lambdify's, its common-subexpression lines put back where they are read) is
    read as a syntax tree, and its nodes are numbered over every form by their operation (the same
    function object, or the same number) and their operands' numbers: two nodes with one number are
    the same operations on the same arguments, hence the same numbers.
    :meth:`at` evaluates a form node by node with the operators Python applies to its code, a
    number read more than once (or a form's value) kept and evaluated once: bit for bit what the
    form's own function returns (NumPy's ufuncs, the same operands in the same order; arithmetic
    writes into a temporary that nothing else reads, as NumPy's elision of temporaries does). A
    form whose code holds anything but names, numbers, arithmetic and calls of its module's
    functions is evaluated by its own function.

    ``forms``: key → form (:func:`bound`'s (argument names, function)); ``names``: the arguments
    :meth:`at` takes, in order."""

    def __init__(self, forms: dict, names: tuple[str, ...]):
        self.names = names
        self._plans: dict[int, tuple] = {}    # node -> plan(node)
        # (kind, what, operand numbers): kind "arg", "value", "unary", "binary" or "call"
        self.nodes: list[tuple] = []
        self.number: dict[str, int] = {}  # a node's tree -> its number
        self.roots: dict = {}             # key -> the number of the form's node, or its own function
        for key, form in forms.items():
            body = code_of(form)
            try:
                self.roots[key] = self._numbered(body[0], body[1], form[1].__globals__) if body else None
            except _NotArithmetic:
                self.roots[key] = None
            if self.roots[key] is None:
                self.roots[key] = bound(form, names)
        # the numbers whose value is kept: read by two nodes or more, or a form's value
        readers = np.zeros(len(self.nodes), int)
        for _, _, operands in self.nodes:
            np.add.at(readers, list(operands), 1)  # (an operand read twice by one node counts twice)
        self.kept = (readers > 1).tolist()
        for root in self.roots.values():
            if not callable(root):
                self.kept[root] = True
        # the numbers of the nodes of equal magnitude |value| (at_least): the same node up to the
        # sign moves rounding is symmetric in, x − y = x + (−y), x + y = y + x, −x + −y = −(x + y),
        # |−x| = |x|, |x·y| = |x|·|y| (μ2 − μ1² and −μ2 + μ1², the Gaussian's variance and a
        # factor of its spread)
        keys = [self._magnitude(n) for n in range(len(self.nodes))]
        self.alike = [[m for m, other in enumerate(keys) if other == key] for key in keys]
        # the value of each operation on numbers alone, made here once (the same number each
        # evaluation would make; one that raises is left to run), and which nodes are float arrays
        # at float arguments (an argument; an arithmetic operator, or a ufunc of floats to a float,
        # on float arrays and float numbers): the plans write into those alone (operands are
        # numbered before their node)
        self._numbers: dict[int, object] = {}
        self._float_array: list[bool] = []
        for n, (kind, what, operands) in enumerate(self.nodes):
            if kind == "value":
                self._numbers[n] = what
            elif kind != "arg" and operands and all(o in self._numbers for o in operands):
                try:
                    with np.errstate(all="raise"):
                        self._numbers[n] = what(*(self._numbers[o] for o in operands))
                except Exception:  # (left to run time, which raises as the form's own function does, or not)
                    pass
            floats = [self._float_array[o] or (o in self._numbers and type(self._numbers[o]) in FLOATS)
                      for o in operands]
            self._float_array.append(kind == "arg" or (
                n not in self._numbers and all(floats) and any(self._float_array[o] for o in operands)
                and (kind in ("unary", "binary") or _float_ufunc(what, len(operands)))))
    def _numbered(self, tree, lines: dict, namespace: dict, add: bool = True) -> int:
        """The number of ``tree`` (its subtrees numbered first; ``add`` False: only looked up, a
        tree no node computes raises _NotArithmetic); ``lines``: the code's temporaries' trees by
        name, ``namespace``: the module names it calls."""
        if isinstance(tree, ast.Name) and tree.id in lines:
            return self._numbered(lines[tree.id], lines, namespace, add)
        node: tuple
        if isinstance(tree, ast.Name):
            node = ("arg", self.names.index(tree.id), ()) if tree.id in self.names else \
                ("value", _global(namespace, tree.id), ())
        elif isinstance(tree, ast.Constant) and isinstance(tree.value, int | float):
            node = ("value", tree.value, ())
        elif isinstance(tree, ast.UnaryOp) and type(tree.op) in _UNARY:
            node = ("unary", _UNARY[type(tree.op)], (self._numbered(tree.operand, lines, namespace, add),))
        elif isinstance(tree, ast.BinOp) and type(tree.op) in _BINARY:
            node = ("binary", _BINARY[type(tree.op)], (self._numbered(tree.left, lines, namespace, add),
                                                        self._numbered(tree.right, lines, namespace, add)))
        elif isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and not tree.keywords:
            node = ("call", _global(namespace, tree.func.id),
                    tuple(self._numbered(a, lines, namespace, add) for a in tree.args))
        else:
            raise _NotArithmetic
        # the same operation (the same function object, by identity) on the same operands
        key = repr((node[0], id(node[1]) if node[0] in ("unary", "binary", "call") else
                    (type(node[1]).__name__, repr(node[1])), node[2]))
        if key not in self.number:
            if not add:
                raise _NotArithmetic
            self.number[key] = len(self.nodes)
            self.nodes.append(node)
        return self.number[key]

    def _magnitude(self, number: int) -> tuple:
        """A key of node ``number`` equal for nodes whose values have equal magnitudes (see __init__)."""
        kind, what, operands = self.nodes[number]
        if kind == "unary":
            return self._magnitude(operands[0])
        if kind == "binary" and what in (operator.add, operator.sub):
            (s, a), (t, b) = self._signed(operands[0]), self._signed(operands[1])
            terms = sorted([(s, a), (t if what is operator.add else -t, b)], key=lambda x: x[1])
            if terms[0][0] < 0:  # −x + −y = −(x + y)
                terms = [(-sign, n) for sign, n in terms]
            return ("sum", *terms)
        if kind == "binary" and what in (operator.mul, operator.truediv):
            factors = [self._magnitude(n) for n in operands]
            return (what.__name__, *(sorted(factors) if what is operator.mul else factors))
        return ("node", number)

    def _signed(self, number: int) -> tuple[int, int]:
        """(±1, n): node ``number`` is exactly ±(node n), n no negation."""
        kind, what, operands = self.nodes[number]
        if kind == "unary":
            sign, n = self._signed(operands[0])
            return (-sign if what is operator.neg else sign), n
        return 1, number

    def reads(self, key, part) -> bool:
        """Whether form ``key``'s code computes the subexpression ``part`` (the source of an
        expression in the arguments, ``"mu1**2 - mu2"``, or another form's key): evaluated once for
        both."""
        if isinstance(part, str) and part not in self.roots:
            try:
                target = self._numbered(ast.parse(part, mode="eval").body, {}, vars(np), add=False)
            except _NotArithmetic:  # (no node computes it)
                return False
        else:
            target = self.roots[part]
        root = self.roots[key]
        if callable(root) or callable(target):
            return False
        stack = [root]
        while stack:
            n = stack.pop()
            if n == target:
                return True
            stack.extend(self.nodes[n][2])
        return False

    def program(self, number: int) -> list[int]:
        """The operations that make node ``number`` from kept nodes and arguments, operands first
        (its subtree down to kept nodes, arguments and numbers, which are read, not made)."""
        out: list[int] = []

        def visit(n, top=False):
            kind, _, operands = self.nodes[n]
            if kind == "arg" or n in self._numbers or (self.kept[n] and not top):
                return
            for o in operands:
                visit(o)
            out.append(n)
        visit(number, top=True)
        return out

    def plan(self, number: int) -> tuple[tuple, tuple[int, ...], object]:
        """:meth:`program` ready to run, made once: (steps, the kept nodes they read, the node's
        value if it is an operation on numbers alone). A step is (node, function, the ufunc that
        writes it in place or None, its operands' sources, the operand it writes into or −1); a
        source is (ARG, i), (NUMBER, x), (KEPT, n) or (MADE, n): an earlier step's value that no
        other node reads. An arithmetic step on float arrays and float numbers alone writes into a
        MADE operand, a float array an earlier step made, as NumPy's elision of temporaries does:
        + − × ÷ are correctly rounded, the same numbers in place or not (where the arguments are
        float arrays of one shape, :class:`SharedValues`). The interpreter's work per node done
        once here: a block's forms cost their NumPy calls."""
        if number in self._plans:
            return self._plans[number]

        def source(o):
            kind, what, _ = self.nodes[o]
            if kind == "arg":
                return ARG, what
            if o in self._numbers:
                return NUMBER, self._numbers[o]
            return (KEPT if self.kept[o] else MADE), o
        steps, needs, own = [], [], set()  # own: float arrays the plan's steps made
        for n in self.program(number):
            kind, what, operands = self.nodes[n]
            sources = tuple(source(o) for o in operands)
            needs += [x for k, x in sources if k == KEPT]
            out = -1
            if kind != "call" and what in _IN_PLACE and self._float_array[n]:  # (float operands alone)
                out = next((i for i, (k, x) in enumerate(sources) if k == MADE and x in own), -1)
            if self._float_array[n]:
                own.add(n)
            steps.append((n, what, _IN_PLACE[what] if out >= 0 else None, sources, out))
        self._plans[number] = (tuple(steps), tuple(dict.fromkeys(needs)), self._numbers.get(number))
        return self._plans[number]

    def at(self, *columns) -> SharedValues:
        """The forms at the arguments ``columns`` (in :attr:`names` order), each evaluated when first
        read: ``values[key]`` (a float array, or the argument itself for a bare symbol)."""
        return SharedValues(self, columns)


class SharedValues:
    """:class:`Shared`'s forms at one set of arguments, each node evaluated once (see there)."""

    def __init__(self, shared: Shared, columns):
        self.shared, self.columns = shared, columns
        self.values: dict[int, object] = {}
        # the plans' writes into temporaries hold for float arrays of one shape (μ's columns)
        shapes = {c.shape if isinstance(c, np.ndarray) and c.dtype == np.float64 and c.ndim else None
                  for c in columns}
        self.in_place = len(shapes) == 1 and None not in shapes

    def __getitem__(self, key):
        root = self.shared.roots[key]
        if callable(root):
            return root(*self.columns)
        with np.errstate(all="ignore"):
            return np.asarray(self._value(root), dtype=float)

    def __contains__(self, key) -> bool:
        return key in self.shared.roots

    def at_least(self, key, threshold: float) -> bool:
        """Whether no row has |form ``key``| < ``threshold`` (a NaN has not), proven without
        evaluating the form (False: not proven, or not so). A lower bound of |value| over the rows
        (:meth:`_least`):
        a product's, the product of its factors' (|x·y| = |x|·|y| rounded, and rounding is
        monotone); a node of the same magnitude as one already evaluated, that one's least |value|
        (two passes: its least and greatest value); else the bound of its interval over the rows,
        from each argument's least and greatest value through each operation (rounding is
        monotone: the operation on the ends bounds the operation on the rows), or where that
        holds 0 the node evaluated (x**2 bounded by 0 alone, its operand unread: a NaN there
        makes that row's form NaN). A NaN in a range proves nothing. The Gaussian's spread
        −(−μ2 + μ1²)·(2μ2 + 2μ1² + 1): its first factor has the variance's magnitude (evaluated
        for the block's summaries), its second is at least 1 where μ2 ≥ 0."""
        root = self.shared.roots[key]
        with np.errstate(all="ignore"):  # (as the form's own evaluation: an overflow is ±∞)
            return not callable(root) and self._least(root) >= threshold

    def _least(self, number: int) -> float:
        kind, what, operands = self.shared.nodes[number]
        for n in self.shared.alike[number]:
            if n in self.values:
                return _least_of(self.values[n])
        if kind == "unary":
            return self._least(operands[0])
        if kind == "binary" and what is operator.mul:
            return self._least(operands[0]) * self._least(operands[1])
        lo, hi = self._interval(number)
        if lo > 0 or hi < 0:
            return lo if lo > 0 else -hi
        value = self._value(number)
        self.values[number] = value
        return _least_of(value)

    def _interval(self, number: int) -> tuple[float, float]:
        """(least, greatest) value of node ``number`` over the rows, bounded by interval arithmetic
        on the arguments' ranges (NaN where it is not bounded so: a call, a division by a range
        holding 0)."""
        kind, what, operands = self.shared.nodes[number]
        nan = (math.nan, math.nan)
        if kind == "arg":
            column = self.columns[what]
            if not np.size(column):
                return nan
            return float(np.minimum.reduce(column, axis=None)), float(np.maximum.reduce(column, axis=None))
        if kind == "value":
            return (float(what), float(what)) if isinstance(what, int | float | np.floating) else nan
        if kind == "call":
            return nan
        if what is operator.pow:  # (only the exponent's range is read)
            ends = [(math.nan, math.nan), self._interval(operands[1])]
        else:
            ends = [self._interval(n) for n in operands]
        if kind == "unary":
            lo, hi = ends[0]
            return (-hi, -lo) if what is operator.neg else (lo, hi)
        (a, b), (c, e) = ends
        if what is operator.add:
            return a + c, b + e
        if what is operator.sub:
            return a - e, b - c
        if what is operator.pow:  # x**2 (np.square: x·x rounded) ≥ 0, its operand's range not read
            return (0.0, math.inf) if (c, e) == (2, 2) else nan
        if what is operator.truediv and not (c > 0 or e < 0):
            return nan
        corners = [what(x, y) for x in (a, b) for y in (c, e)]
        return nan if any(math.isnan(x) for x in corners) else (min(corners), max(corners))

    def _value(self, number: int):
        """Node ``number``'s value: kept ones evaluated once (:meth:`Shared.plan`), the others for
        this call (the spread's factor in :meth:`_least`)."""
        values = self.values
        if number in values:
            return values[number]
        kind, what, _ = self.shared.nodes[number]
        if kind in ("arg", "value"):
            return self.columns[what] if kind == "arg" else what
        steps, needs, value = self.shared.plan(number)
        for n in needs:  # (the kept nodes it reads, made once)
            if n not in values:
                self._value(n)
        columns, in_place = self.columns, self.in_place
        made: dict[int, object] = {}
        for n, function, into, sources, out in steps:
            args = [columns[x] if k == ARG else x if k == NUMBER else values[x] if k == KEPT else made.pop(x)
                    for k, x in sources]
            value = into(*args, out=args[out]) if out >= 0 and in_place else function(*args)
            made[n] = value
        if self.shared.kept[number]:
            values[number] = value
        return value


def _least_of(value) -> float:
    """The least |x| over ``value``'s elements from its least and greatest (0 where the range holds
    0 or a NaN)."""
    value = np.asarray(value)
    if not value.size:
        return math.inf
    lo, hi = float(np.minimum.reduce(value, axis=None)), float(np.maximum.reduce(value, axis=None))
    return lo if lo > 0 else -hi if hi < 0 else 0.0


class _NotArithmetic(Exception):
    """A form's code holds what :class:`Shared` does not evaluate node by node."""


def _global(namespace: dict, name: str):
    if name not in namespace:
        raise _NotArithmetic
    return namespace[name]


def code_of(form) -> tuple | None:
    """(the returned expression's tree, the temporaries' trees by name) of a compiled form's code,
    or None (a bare symbol, no source: the form is then not shared, or other statements than
    ``x = ...`` lines, each name assigned once and no argument, and a return). The source is read
    again from its file (``inspect``): it is taken only if it compiles to the function's own code
    (a file changed since it was imported is not)."""
    if form[1] is None:
        return None
    try:
        function = ast.parse(textwrap.dedent(inspect.getsource(form[1]))).body[0]
    except (OSError, TypeError, SyntaxError):  # (its source no longer in linecache)
        return None
    if not isinstance(function, ast.FunctionDef) or not _compiles_to(function, form[1].__code__):
        return None
    body = function.body
    lines: dict = {}
    arguments = {a.arg for a in function.args.args}
    for statement in body[:-1]:
        if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)):
            return None
        name = statement.targets[0].id
        if name in lines or name in arguments:  # (a name assigned twice, or over an argument)
            return None
        lines[name] = statement.value
    if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
        return None
    return body[-1].value, lines


def _compiles_to(function: ast.FunctionDef, code) -> bool:
    """Whether ``function``'s tree compiles to ``code``: the same operations, names and constants
    (by type and repr: 0.0 is not −0.0)."""
    try:
        module = compile(ast.Module(body=[function], type_ignores=[]), code.co_filename, "exec")
    except (SyntaxError, ValueError, TypeError):
        return False
    made = next((c for c in module.co_consts if isinstance(c, type(code)) and c.co_name == code.co_name), None)

    def constants(c):
        return tuple((type(x).__name__, repr(x)) for x in c.co_consts)
    return made is not None and (made.co_code, made.co_names, made.co_varnames, constants(made)) == \
        (code.co_code, code.co_names, code.co_varnames, constants(code))
