"""Run fail2ban's annotated test logs (``# failJSON:``) through Shieldwall's filter translation."""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shieldwall.logrules.fail2ban import Fail2banFilter, FilterError, load_filter

F2B = Path(__file__).resolve().parents[4] / "shared" / "data" / "logs" / "fail2ban"  # ../shared beside the repo
FILTERS = F2B / "etc" / "fail2ban" / "filter.d"
LOGS = F2B / "usr" / "lib" / "python3" / "dist-packages" / "fail2ban" / "tests" / "files" / "logs"


@dataclass
class FileResult:
    """Known answers of one test log."""

    name: str
    passed: int = 0
    total: int = 0
    error: str = ""
    misses: list[str] = field(default_factory=list)


def _constraint(expr: str, name: str, opts: dict[str, str]) -> bool:
    """Evaluate fail2ban's constraint expressions without eval (names, opts.get, ==, !=, and/or/not)."""

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.BoolOp):
            vals = [ev(v) for v in node.values]
            return all(vals) if isinstance(node.op, ast.And) else any(vals)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return not ev(node.operand)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            left, right = ev(node.left), ev(node.comparators[0])
            op = node.ops[0]
            if isinstance(op, ast.Eq):
                return left == right
            if isinstance(op, ast.NotEq):
                return left != right
            if isinstance(op, ast.In):
                return left in right
            if isinstance(op, ast.NotIn):
                return left not in right
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name) and node.id == "name":
            return name
        if isinstance(node, ast.Tuple | ast.List):
            return [ev(e) for e in node.elts]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "opts"
        ):
            args = [ev(a) for a in node.args]
            return opts.get(args[0], args[1] if len(args) > 1 else None)
        raise ValueError(f"unsupported constraint {expr!r}")

    return bool(ev(ast.parse(expr, mode="eval")))


def _option_sets(raw: str) -> list[dict[str, str]]:
    data = json.loads(raw)
    return [dict(d) for d in data] if isinstance(data, list) else [dict(data)]


def run_log(log: Path) -> FileResult:
    """Check every annotated line of one test log under each active option set."""
    result = FileResult(log.name)
    conf = FILTERS / f"{log.name}.conf"
    if not conf.is_file():
        result.error = "no filter with this name"
        return result
    option_sets: list[dict[str, str]] = [{}]
    cache: dict[str, Fail2banFilter | str] = {}
    expect: dict[str, Any] | None = None
    for raw in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if raw.startswith("# filterOptions:"):
            option_sets = _option_sets(raw.split(":", 1)[1])
            continue
        if raw.startswith("# failJSON:"):
            expect = json.loads(raw.split(":", 1)[1])
            continue
        if raw.startswith("#") or expect is None:
            continue
        for opts in option_sets:
            if "constraint" in expect and not _constraint(expect["constraint"], log.name, opts):
                continue
            key = json.dumps(opts, sort_keys=True)
            if key not in cache:
                try:
                    cache[key] = load_filter(conf, {k: v for k, v in opts.items() if not k.startswith("test.")})
                except FilterError as exc:
                    cache[key] = str(exc)
            flt = cache[key]
            result.total += 1
            if isinstance(flt, str):
                result.misses.append(f"filter not loaded ({flt}): {raw[:120]}")
                continue
            line = opts.get("test.prefix-line", "") + raw
            hit, host = flt.check(line)
            want = bool(expect.get("match"))
            ok = hit == want and (not want or "host" not in expect or str(expect["host"]) == str(host))
            if ok:
                result.passed += 1
            else:
                result.misses.append(
                    f"opts={opts} expected match={want} host={expect.get('host')}, "
                    f"got match={hit} host={host}: {raw[:140]}"
                )
        expect = None
    return result


def run_all() -> list[FileResult]:
    """Every test log that has a filter of the same name."""
    return [run_log(p) for p in sorted(LOGS.iterdir()) if p.is_file()]
