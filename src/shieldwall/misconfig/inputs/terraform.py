"""Terraform: HCL files (``*.tf``, parsed in-process with python-hcl2) and ``terraform show -json`` plans.

Every ``resource``, ``data`` and ``provider`` block becomes one ``Resource``
whose ``kind`` is the resource type (``aws_s3_bucket``; ``data.<type>`` for
data sources, ``provider`` for provider blocks) and whose ``name`` is the
Terraform address (``aws_s3_bucket.logs``, ``module.net.aws_security_group.web``,
``data.aws_iam_policy_document.admin``, ``provider.aws``). ``data`` is a
``TfResource``: the block with its values, line ranges of its attributes and
nested blocks, and the ``TfModule`` it belongs to (so a check can find the
``aws_s3_bucket_public_access_block`` that points at a bucket).

Values are resolved where they are literal: ``var.x`` with a literal
``default``, ``local.y``, templates made only of those, and ``jsonencode(...)``
of an object (turned into the JSON string Terraform would produce). Anything
else (a resource attribute, a function call, a variable without a default)
stays an ``Unresolved`` value, which checks treat as unknown and never flag.

Plans: ``planned_values.root_module`` and its ``child_modules``; values there
are already resolved (values only known after apply are absent; the
configuration's references fill in which resource an attribute points at).
Plan findings get the line of the resource's ``"address"`` in the JSON text.

Limits: one HCL file is evaluated on its own (variables and companion
resources declared in another file of the module are not seen: unresolved, so
never flagged, but a check that needs a companion resource such as a bucket's
public access block may miss one declared in a sibling file). Files are bounded
by ``MAX_HCL_BYTES`` / ``MAX_PLAN_BYTES``; a file that does not parse is a
warning for that file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shieldwall.analyze.base import AnalyzerError, FileInfo, basename
from shieldwall.misconfig.check import InputKind, ParsedFile, Resource
from shieldwall.misconfig.suppress import scan_lines

MAX_HCL_BYTES = 2 * 1024 * 1024
MAX_PLAN_BYTES = 32 * 1024 * 1024
MAX_RESOLVE_DEPTH = 8
MAX_BLOCK_DEPTH = 32

_REFERENCE = re.compile(r"^(var|local)\.([A-Za-z_][A-Za-z0-9_-]*)$")
_JSONENCODE = re.compile(r"^jsonencode\((.*)\)$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Unresolved:
    """A value Terraform computes (an expression that is not a literal); never judged by a check."""

    expr: str

    def __str__(self) -> str:
        return self.expr


def is_known(value: object) -> bool:
    """True for a literal value (not ``Unresolved``, not ``None``)."""
    return value is not None and not isinstance(value, Unresolved)


@dataclass(frozen=True, slots=True)
class TfBlock:
    """A block (or an object value) with its attributes, nested blocks and line ranges.

    ``attrs`` holds every attribute (resolved where literal); ``blocks`` the
    nested blocks by type. ``children(name)`` returns both nested blocks and
    attributes that are objects or lists of objects, since HCL, plans and
    providers use either form for the same thing (``ingress { }`` and
    ``ingress = [{ }]``).
    """

    type: str
    labels: tuple[str, ...] = ()
    attrs: Mapping[str, Any] = field(default_factory=dict)
    blocks: Mapping[str, tuple[TfBlock, ...]] = field(default_factory=dict)
    line: int | None = None
    end_line: int | None = None
    attr_lines: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        """The attribute ``name`` (``default`` when absent)."""
        return self.attrs.get(name, default)

    def has(self, name: str) -> bool:
        """True when ``name`` is set as an attribute or a nested block."""
        return name in self.attrs or name in self.blocks

    def children(self, name: str) -> tuple[TfBlock, ...]:
        """Nested blocks called ``name`` and object-valued attributes of that name, as blocks."""
        found = list(self.blocks.get(name, ()))
        value = self.attrs.get(name)
        items = value if isinstance(value, list) else [value]
        lines = self.attr_lines.get(name)
        for item in items:
            if isinstance(item, dict):
                found.append(block_of_value(name, item, lines))
        return tuple(found)

    def child(self, name: str) -> TfBlock | None:
        """The first nested block (or object attribute) ``name``."""
        found = self.children(name)
        return found[0] if found else None

    def path(self, *names: str) -> Any:
        """Follow nested blocks then an attribute: ``path("versioning", "enabled")``."""
        node: TfBlock | None = self
        for name in names[:-1]:
            node = node.child(name) if node is not None else None
        return node.get(names[-1]) if node is not None else None

    def lines(self, name: str) -> tuple[int | None, int | None]:
        """Line range of attribute or nested block ``name``, else of the block itself."""
        if name in self.attr_lines:
            return self.attr_lines[name]
        nested = self.blocks.get(name)
        if nested and nested[0].line is not None:
            return nested[0].line, nested[0].end_line
        return self.line, self.end_line


def block_of_value(name: str, value: Mapping[str, Any], lines: tuple[int, int] | None = None) -> TfBlock:
    """An object value seen as a block (plan values, ``ingress = [{...}]``)."""
    attrs: dict[str, Any] = {}
    blocks: dict[str, tuple[TfBlock, ...]] = {}
    for key, item in value.items():
        if isinstance(item, list) and item and all(isinstance(i, dict) for i in item):
            blocks[key] = tuple(block_of_value(key, i, lines) for i in item)
        else:
            attrs[key] = item
    start, end = lines if lines else (None, None)
    spans = {k: lines for k in attrs} if lines else {}
    return TfBlock(name, (), attrs, blocks, start, end, spans)


@dataclass(frozen=True, slots=True)
class TfResource:
    """One resource, data source or provider block and the module (file or plan) it belongs to."""

    mode: str  # "managed", "data" or "provider"
    type: str
    name: str
    address: str
    block: TfBlock
    module: TfModule = field(repr=False, compare=False)
    module_path: str = ""
    from_plan: bool = False

    @property
    def ref_prefix(self) -> str:
        """How other resources of the same module refer to this one (``aws_s3_bucket.logs``)."""
        return f"data.{self.type}.{self.name}" if self.mode == "data" else f"{self.type}.{self.name}"


@dataclass(frozen=True, slots=True)
class TfModule:
    """Every resource of one parsed file (HCL) or plan, for checks that look at related resources."""

    resources: list[TfResource] = field(default_factory=list)

    def of_type(self, type_: str, mode: str = "managed") -> Iterator[TfResource]:
        """Resources of one type."""
        return (r for r in self.resources if r.type == type_ and r.mode == mode)

    def referring(self, type_: str, attr: str, target: TfResource) -> list[TfResource]:
        """Resources of ``type_`` whose ``attr`` points at ``target`` (by reference or by its literal name)."""
        out = []
        for item in self.of_type(type_):
            if item.module_path != target.module_path:
                continue
            if refers_to(item.block.get(attr), target):
                out.append(item)
        return out

    def resolve_reference(self, value: object, mode: str = "data") -> TfResource | None:
        """The resource ``value`` (``${data.x.y.json}``) refers to, if it is one of this module's."""
        if not isinstance(value, Unresolved):
            return None
        for item in self.resources:
            if item.mode == mode and f"{item.ref_prefix}." in item_text(value):
                return item
        return None


def item_text(value: object) -> str:
    """Text of a value for reference tests."""
    return value.expr if isinstance(value, Unresolved) else str(value)


def refers_to(value: object, target: TfResource) -> bool:
    """True when ``value`` references ``target`` (``${aws_s3_bucket.x.id}``) or equals its bucket/name literal."""
    if value is None:
        return False
    if isinstance(value, Unresolved):
        text = value.expr
        return f"{target.ref_prefix}." in text or text.endswith("{" + target.ref_prefix + "}")
    names = {target.block.get("bucket"), target.block.get("name"), target.block.get("id")}
    return is_known(value) and value in {n for n in names if isinstance(n, str) and n}


# --------------------------------------------------------------------------- value resolution


def split_template(text: str) -> list[tuple[str, str]] | None:
    """A template as ("text", ...) and ("expr", ...) parts; braces nest and quoted strings are skipped.

    Returns None when an interpolation is not closed.
    """
    parts: list[tuple[str, str]] = []
    i, n, start = 0, len(text), 0
    while i < n:
        if text.startswith("$${", i):
            i += 3
            continue
        if not text.startswith("${", i):
            i += 1
            continue
        if i > start:
            parts.append(("text", text[start:i]))
        j, depth, quote = i + 2, 1, False
        while j < n and depth:
            ch = text[j]
            if quote:
                if ch == "\\":
                    j += 1
                elif ch == '"':
                    quote = False
            elif ch == '"':
                quote = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            j += 1
        if depth:
            return None
        parts.append(("expr", text[i + 2 : j - 1]))
        i = start = j
    if start < n:
        parts.append(("text", text[start:]))
    return parts


class _Resolver:
    """Resolves ``var.x`` (literal defaults) and ``local.y`` inside serialized HCL values."""

    def __init__(self, variables: Mapping[str, Any], locals_: Mapping[str, Any]) -> None:
        self.variables = variables
        self.locals = locals_

    def value(self, raw: Any, depth: int = 0) -> Any:
        if depth > MAX_RESOLVE_DEPTH:
            return Unresolved(str(raw))
        if isinstance(raw, str):
            return self.string(raw, depth)
        if isinstance(raw, list):
            return [self.value(v, depth + 1) for v in raw]
        if isinstance(raw, dict):
            return {_key(k): self.value(v, depth + 1) for k, v in raw.items() if not _meta_key(k)}
        return raw

    def string(self, text: str, depth: int) -> Any:
        if "${" not in text:
            return text
        parts = split_template(text)
        if parts is None:
            return Unresolved(text)
        if len(parts) == 1 and parts[0][0] == "expr":
            return self.expression(parts[0][1].strip(), depth)
        # a template: substitute what resolves to a scalar, otherwise keep it unresolved (partly filled in)
        unresolved = False
        out: list[str] = []
        for kind, chunk in parts:
            if kind == "text":
                out.append(chunk)
                continue
            got = self.expression(chunk.strip(), depth)
            if isinstance(got, bool):
                out.append("true" if got else "false")
            elif isinstance(got, str | int | float):
                out.append(str(got))
            else:
                unresolved = True
                out.append("${" + chunk + "}")
        filled = "".join(out)
        return Unresolved(filled) if unresolved else filled

    def expression(self, expr: str, depth: int) -> Any:
        ref = _REFERENCE.match(expr)
        if ref is not None:
            table = self.variables if ref.group(1) == "var" else self.locals
            if ref.group(2) in table:
                got = self.value(table[ref.group(2)], depth + 1)
                return got
            return Unresolved("${" + expr + "}")
        encoded = _JSONENCODE.match(expr)
        if encoded is not None:
            inner = parse_expression(encoded.group(1))
            if inner is not None:
                resolved = self.value(inner, depth + 1)
                return json.dumps(_plain(resolved), separators=(",", ":"))
        if expr in ("true", "false"):
            return expr == "true"
        if expr == "null":
            return None
        return Unresolved("${" + expr + "}")


def _key(key: object) -> str:
    text = str(key)
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def _meta_key(key: object) -> bool:
    return str(key).startswith("__") and str(key).endswith("__")


def _plain(value: Any) -> Any:
    """JSON-ready form: unresolved values become their expression text."""
    if isinstance(value, Unresolved):
        return value.expr
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def parse_expression(text: str) -> Any:
    """An HCL expression (the argument of ``jsonencode``) as plain data, or None if it does not parse."""
    parsed = _loads(f"x = {text}\n")
    return parsed.get("x") if parsed is not None else None


# --------------------------------------------------------------------------- HCL


def _options() -> Any:
    from hcl2.utils import SerializationOptions

    return SerializationOptions(
        with_comments=False, strip_string_quotes=True, preserve_heredocs=False, explicit_blocks=False
    )


def _loads(text: str) -> dict[str, Any] | None:
    import hcl2

    try:
        loaded: dict[str, Any] = hcl2.loads(text, serialization_options=_options())
    except Exception:  # python-hcl2 raises lark errors, RuntimeError, ValueError...: not parseable here
        return None
    return loaded


def _tree(text: str, path: str) -> Any:
    import hcl2

    try:
        return hcl2.parses(text, discard_comments=True)
    except RecursionError as exc:
        raise AnalyzerError(f"{path}: HCL nested too deeply") from exc
    except Exception as exc:  # lark.UnexpectedInput and friends: a malformed file is a warning for that file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AnalyzerError(f"{path}: not valid HCL: {first[:200]}") from exc


def _label(rule: Any, options: Any) -> str:
    return _key(rule.serialize(options))


def _lines(rule: Any) -> tuple[int, int] | None:
    meta = getattr(rule, "_meta", None)
    line = getattr(meta, "line", None)
    end = getattr(meta, "end_line", None)
    if isinstance(line, int):
        return line, end if isinstance(end, int) else line
    return None


def _raw_body(body: Any, options: Any) -> list[tuple[str, Any, Any]]:
    """(kind, name-or-labels, rule) for each attribute and block of a body."""
    from hcl2.rules.base import AttributeRule, BlockRule

    out: list[tuple[str, Any, Any]] = []
    for child in body.children:
        if isinstance(child, AttributeRule):
            out.append(("attr", _key(child.identifier.serialize(options)), child))
        elif isinstance(child, BlockRule):
            out.append(("block", tuple(_label(lbl, options) for lbl in child.labels), child))
    return out


def _build_block(
    type_: str, labels: tuple[str, ...], rule: Any, resolver: _Resolver, options: Any, depth: int = 0
) -> TfBlock:
    if depth > MAX_BLOCK_DEPTH:
        raise AnalyzerError("HCL blocks nested too deeply")
    attrs: dict[str, Any] = {}
    blocks: dict[str, list[TfBlock]] = {}
    spans: dict[str, tuple[int, int]] = {}
    for kind, name, child in _raw_body(rule.body, options):
        if kind == "attr":
            raw = child.serialize(options)
            (value,) = raw.values() if isinstance(raw, dict) and len(raw) == 1 else (None,)
            attrs[name] = resolver.value(value)
            got = _lines(child)
            if got is not None:
                spans[name] = got
            continue
        child_type, child_labels = name[0], tuple(name[1:])
        nested = _build_block(child_type, child_labels, child, resolver, options, depth + 1)
        if child_type == "dynamic" and child_labels:
            # dynamic "ingress" { content { ... } }: the content blocks stand for ingress blocks
            for content in nested.blocks.get("content", ()):
                blocks.setdefault(child_labels[0], []).append(
                    TfBlock(
                        child_labels[0],
                        (),
                        content.attrs,
                        content.blocks,
                        content.line,
                        content.end_line,
                        content.attr_lines,
                    )
                )
            continue
        blocks.setdefault(child_type, []).append(nested)
    span = _lines(rule)
    return TfBlock(
        type_,
        labels,
        attrs,
        {k: tuple(v) for k, v in blocks.items()},
        span[0] if span else None,
        span[1] if span else None,
        spans,
    )


def _count_is_zero(block: TfBlock) -> bool:
    count = block.get("count")
    return is_known(count) and not isinstance(count, bool) and count in (0, "0")


def parse_hcl(path: str, text: str) -> tuple[list[TfResource], int]:
    """Resources, data sources and providers of one HCL file, and the line before the first block."""
    options = _options()
    tree = _tree(text, path)
    top = _raw_body(tree.body, options)
    variables: dict[str, Any] = {}
    locals_: dict[str, Any] = {}
    for kind, labels, rule in top:
        if kind != "block":
            continue
        if labels[0] == "variable" and len(labels) == 2:
            for akind, name, child in _raw_body(rule.body, options):
                if akind == "attr" and name == "default":
                    raw = child.serialize(options)
                    if isinstance(raw, dict) and len(raw) == 1:
                        variables[labels[1]] = next(iter(raw.values()))
        elif labels[0] == "locals":
            for akind, name, child in _raw_body(rule.body, options):
                if akind == "attr":
                    raw = child.serialize(options)
                    if isinstance(raw, dict) and len(raw) == 1:
                        locals_[name] = next(iter(raw.values()))
    resolver = _Resolver(variables, locals_)
    module = TfModule()
    first_line = 0
    for kind, labels, rule in top:
        if kind != "block":
            continue
        span = _lines(rule)
        if span is not None and (first_line == 0 or span[0] < first_line):
            first_line = span[0]
        head = labels[0]
        if head in ("resource", "data") and len(labels) == 3:
            block = _build_block(head, labels[1:], rule, resolver, options)
            if _count_is_zero(block):
                continue
            mode = "managed" if head == "resource" else "data"
            address = f"{labels[1]}.{labels[2]}" if mode == "managed" else f"data.{labels[1]}.{labels[2]}"
            module.resources.append(TfResource(mode, labels[1], labels[2], address, block, module))
        elif head == "provider" and len(labels) == 2:
            block = _build_block(head, labels[1:], rule, resolver, options)
            alias = block.get("alias")
            name = f"{labels[1]}.{alias}" if isinstance(alias, str) else labels[1]
            module.resources.append(TfResource("provider", "provider", name, f"provider.{name}", block, module))
    return module.resources, max(first_line - 1, 0)


# --------------------------------------------------------------------------- plans


def looks_like_plan(content: bytes) -> bool:
    """Cheap sniff for ``terraform show -json`` output."""
    head = content[:4096]
    return head.lstrip()[:1] == b"{" and b'"format_version"' in content[:65536] and b'"planned_values"' in content


def _config_references(config: Mapping[str, Any], prefix: str, out: dict[str, dict[str, list[str]]]) -> None:
    """address -> {attribute: [references]} from the plan's ``configuration`` section."""
    for res in config.get("resources") or ():
        if not isinstance(res, dict):
            continue
        addr = f"{prefix}{res.get('address', '')}"
        refs: dict[str, list[str]] = {}
        for attr, expr in (res.get("expressions") or {}).items():
            if isinstance(expr, dict) and isinstance(expr.get("references"), list):
                refs[str(attr)] = [str(r) for r in expr["references"]]
        out[addr] = refs
    for name, call in (config.get("module_calls") or {}).items():
        if isinstance(call, dict) and isinstance(call.get("module"), dict):
            _config_references(call["module"], f"{prefix}module.{name}.", out)


def _line_of(text: str, needle: str) -> int | None:
    index = text.find(needle)
    return text.count("\n", 0, index) + 1 if index >= 0 else None


def _plan_modules(module: Mapping[str, Any], depth: int = 0) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if depth > MAX_BLOCK_DEPTH:
        return
    yield str(module.get("address", "")), module
    for child in module.get("child_modules") or ():
        if isinstance(child, dict):
            yield from _plan_modules(child, depth + 1)


def parse_plan(path: str, text: str) -> list[TfResource]:
    """Resources of a ``terraform show -json`` plan (root and child modules)."""
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise AnalyzerError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("planned_values"), dict):
        return []
    root = raw["planned_values"].get("root_module")
    if not isinstance(root, dict):
        return []
    references: dict[str, dict[str, list[str]]] = {}
    config = raw.get("configuration")
    if isinstance(config, dict) and isinstance(config.get("root_module"), dict):
        _config_references(config["root_module"], "", references)
    module = TfModule()
    for module_address, mod in _plan_modules(root):
        for res in mod.get("resources") or ():
            if not isinstance(res, dict) or not isinstance(res.get("values"), dict):
                continue
            address = str(res.get("address", ""))
            mode = "data" if res.get("mode") == "data" else "managed"
            values: dict[str, Any] = dict(res["values"])
            # attributes known only after apply: say what they point at (the configuration's references)
            config_addr = re.sub(r"\[[^\]]*\]", "", address)
            for attr, refs in references.get(config_addr, {}).items():
                if values.get(attr) is None and refs:
                    local = [r for r in refs if not r.startswith(("var.", "local."))]
                    if local:
                        values[attr] = Unresolved("${" + local[0] + "}")
            line = _line_of(text, f'"address": "{address}"') or _line_of(text, f'"address":"{address}"')
            block = block_of_value("resource", values)
            block = TfBlock("resource", (str(res.get("type", "")), str(res.get("name", ""))), block.attrs,
                            block.blocks, line, line, {})  # fmt: skip
            module.resources.append(
                TfResource(
                    mode,
                    str(res.get("type", "")),
                    str(res.get("name", "")),
                    address,
                    block,
                    module,
                    module_address,
                    from_plan=True,
                )
            )
    return module.resources


# --------------------------------------------------------------------------- the parser


def is_terraform_name(path: str) -> bool:
    """``*.tf`` files and plan JSON names (``tfplan.json``, ``plan.json``, ``*.tfplan.json``, ``*.plan.json``)."""
    name = basename(path).lower()
    return name.endswith(".tf") or (name.endswith(".json") and ("tfplan" in name or name.endswith("plan.json")))


def resource_kind(item: TfResource) -> str:
    """The ``Resource.kind`` of a Terraform item: its type, ``data.<type>`` or ``provider``."""
    if item.mode == "data":
        return f"data.{item.type}"
    return item.type


def to_resources(path: str, items: Sequence[TfResource]) -> tuple[Resource, ...]:
    """Engine resources for parsed Terraform items."""
    return tuple(
        Resource(
            input=InputKind.TERRAFORM,
            kind=resource_kind(item),
            name=item.address,
            path=path,
            data=item,
            line=item.block.line,
            end_line=item.block.end_line,
            document={"type": item.type, "address": item.address, "values": _plain(dict(item.block.attrs))},
        )
        for item in items
    )


class TerraformInput:
    """Parser for the ``terraform`` input kind."""

    input = InputKind.TERRAFORM

    def claims(self, path: str, info: FileInfo) -> bool:
        """``*.tf`` up to 2 MiB; plan JSON names up to 32 MiB."""
        name = basename(path).lower()
        if name.endswith(".tf"):
            return info.size <= MAX_HCL_BYTES
        return info.size <= MAX_PLAN_BYTES and is_terraform_name(path)

    def parse(self, path: str, content: bytes) -> ParsedFile | None:
        """One resource per resource/data/provider block (HCL) or planned resource (plan JSON)."""
        if len(content) > MAX_PLAN_BYTES:
            raise AnalyzerError(f"{path}: {len(content)} bytes is above the Terraform size limit")
        text = content.decode("utf-8", errors="replace")
        if looks_like_plan(content):
            items = parse_plan(path, text)
            header = 0
        elif content.lstrip()[:1] in (b"{", b"["):
            return None  # some other JSON document
        else:
            if len(content) > MAX_HCL_BYTES:
                raise AnalyzerError(f"{path}: {len(content)} bytes is above the HCL size limit")
            items, header = parse_hcl(path, text)
        if not items:
            return None
        suppressions, quiet = scan_lines(text)
        return ParsedFile(path, self.input, to_resources(path, items), suppressions, header, quiet)
