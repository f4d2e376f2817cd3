"""Code structure: the functions, classes and methods of a code file, and its imports.

`extract_structure(language, source)` returns symbols as
`(kind, name, qualified_name, start_line, end_line, first_doc_line, parent_qualified_name)`
and imports as `(module, imported_name_or_None, line)`. Lines are 1-based and inclusive; a
symbol starts at its first decorator / annotation / attribute / `export` keyword and ends at
the last line of its body (trailing comments excluded), so later stages can chunk code along
these boundaries.

Every language but Python goes through a tree-sitter grammar and one compiled Query per grammar:
the captures run in C and Python only touches the few nodes that matched.

Python, usually most of an estate's code bytes, goes through a native outline scanner
(anfl_assets/_pyoutline.c): a tokenizer with Python 3.11's lexical rules that tracks brackets,
indentation and statement heads at 110-130 MB/s per core, 10-20 times a full parse (ast.parse runs at
6-7 MB/s per core, tree-sitter-python at 11-12). Where it finds anything it cannot vouch for -
a lexical or indentation error, two atoms side by side (`print "x"`), a Python 2 form, a
foreign coding cookie, non-ASCII identifiers - `ast` decides: if the file parses, its results
are used; if not, the error is the `SyntaxError` with its line and tree-sitter's error-tolerant
tree gives the partial symbols. The tests check the scanner against `ast` file by file on the
standard library, the installed packages and the sample estate. Its blind spot: a syntax error
that only a grammar sees (`f() = 1`) is not reported. Without the compiled scanner (no C
compiler at install, or another Python), Python takes the tree-sitter path with the same
`ast` arbitration where the tree has ERROR nodes.

Pure Python, no dagster: results depend on (content, EXTRACTOR_VERSION) only and are cached by
the pipeline under that key.
"""

from __future__ import annotations

import ast
import re
import sys
import threading
import warnings
from dataclasses import dataclass

EXTRACTOR_VERSION = 2  # 2: Python through the native outline scanner

LANGUAGES = frozenset({"python", "javascript", "typescript", "tsx", "go", "java", "rust", "shell", "hcl"})

# Bigger sources are generated or minified code: no useful structure, and parse time grows with size.
MAX_SOURCE_BYTES = 4 * 1024 * 1024

Symbol = tuple[str, str, str, int, int, "str | None", "str | None"]
Import = tuple[str, "str | None", int]


@dataclass(slots=True)
class Structure:
    symbols: list[tuple[str, str, str, int, int, str | None, str | None]]
    imports: list[tuple[str, str | None, int]]
    error: str | None = None


# --------------------------------------------------------------------------- language detection

_BY_EXTENSION = {
    "py": "python", "pyi": "python", "pyw": "python",
    "js": "javascript", "mjs": "javascript", "cjs": "javascript", "jsx": "javascript",
    "ts": "typescript", "mts": "typescript", "cts": "typescript", "tsx": "tsx",
    "go": "go", "java": "java", "rs": "rust",
    "sh": "shell", "bash": "shell", "ksh": "shell",
    "tf": "hcl", "tfvars": "hcl", "hcl": "hcl",
}
# Inventory file types (anfl_assets.domain.sniff), shebang types included.
_BY_FILE_TYPE = {
    "python": "python", "javascript": "javascript", "typescript": "typescript", "tsx": "tsx", "go": "go",
    "java": "java", "rust": "rust", "shell": "shell", "terraform": "hcl", "hcl": "hcl",
}


def language_for(path: str, file_type: str | None) -> str | None:
    """The language `extract_structure` should parse a file as, or None for non-code.

    The inventory's file type decides (it already accounts for shebangs); the extension refines
    TypeScript into TSX and stands in when there is no file type, or only a generic one.
    """
    base = path.rsplit("/", 1)[-1]
    ext = base.rsplit(".", 1)[-1].lower() if "." in base.lstrip(".") else ""
    if file_type is not None:
        lang = _BY_FILE_TYPE.get(file_type.lower())
        if lang is None:
            if file_type not in ("text", "script"):
                return None
            return _BY_EXTENSION.get(ext)
        if lang == "typescript" and ext == "tsx":
            return "tsx"
        return lang
    return _BY_EXTENSION.get(ext)


# --------------------------------------------------------------------------- grammars and queries

_FUNC_VALUES = "[(arrow_function) (function_expression) (generator_function)]"

_JS_COMMON = f"""
(function_declaration name: (_) @name) @function
(generator_function_declaration name: (_) @name) @function
(class_declaration name: (_) @name) @class
(class_body (method_definition name: (_) @name) @method)
(variable_declarator name: (identifier) @name value: {_FUNC_VALUES}) @function
(variable_declarator name: (identifier) @name value: (class)) @class
(export_statement value: {_FUNC_VALUES} @default) @export_default
(export_statement value: (class) @default) @export_default_class
(expression_statement (assignment_expression
   left: [(identifier) (member_expression)] @name right: {_FUNC_VALUES})) @assigned
(import_statement) @import
(export_statement source: (_)) @reexport
(call_expression function: (identifier) @_req arguments: (arguments . (string) @source)
   (#eq? @_req "require")) @require
(call_expression function: (import) arguments: (arguments . (string) @source)) @dynamic
"""

_QUERIES = {
    "python": """
(function_definition) @function
(class_definition) @class
(decorated_definition) @decorated
(import_statement) @import
(import_from_statement) @import
(future_import_statement) @import
(print_statement) @py2
(exec_statement) @py2
""",
    "javascript": _JS_COMMON + f"""
(class_body (field_definition property: (_) @name value: {_FUNC_VALUES}) @method)
""",
    "typescript": _JS_COMMON + f"""
(abstract_class_declaration name: (_) @name) @class
(class_body (abstract_method_signature name: (_) @name) @method)
(class_body (public_field_definition name: (_) @name value: {_FUNC_VALUES}) @method)
(interface_declaration name: (_) @name) @interface
(type_alias_declaration name: (_) @name) @type
(enum_declaration name: (_) @name) @enum
""",
    "go": """
(function_declaration name: (identifier) @name) @function
(method_declaration receiver: (parameter_list) @receiver name: (field_identifier) @name) @method
(type_spec name: (type_identifier) @name type: (_) @type) @typespec
(type_alias name: (type_identifier) @name) @alias
(import_spec) @import
""",
    "java": """
(class_declaration name: (identifier) @name) @class
(record_declaration name: (identifier) @name) @class
(interface_declaration name: (identifier) @name) @interface
(annotation_type_declaration name: (identifier) @name) @interface
(enum_declaration name: (identifier) @name) @enum
(method_declaration name: (identifier) @name) @method
(constructor_declaration name: (identifier) @name) @constructor
(compact_constructor_declaration name: (identifier) @name) @constructor
(import_declaration) @import
""",
    "rust": """
(function_item name: (identifier) @name) @function
(function_signature_item name: (identifier) @name) @function
(struct_item name: (type_identifier) @name) @struct
(enum_item name: (type_identifier) @name) @enum
(union_item name: (type_identifier) @name) @struct
(trait_item name: (type_identifier) @name) @trait
(impl_item type: (_) @name) @impl
(mod_item name: (identifier) @name body: (declaration_list)) @module
(type_item name: (type_identifier) @name) @type
(use_declaration argument: (_) @use) @import
(extern_crate_declaration name: (identifier) @name) @extern
""",
    "shell": """
(function_definition name: (word) @name) @function
(command name: (command_name) @_cmd . argument: (_) @source (#any-of? @_cmd "source" ".")) @import
""",
    "hcl": """
(config_file (body (block . (identifier) @type) @block))
""",
}
_QUERIES["tsx"] = _QUERIES["typescript"]

# Captures that name the definition node of a symbol, with the symbol kind.
_DEF_KINDS = {
    "function": "function", "class": "class", "method": "method", "interface": "interface",
    "type": "type", "enum": "enum", "struct": "struct", "trait": "trait", "impl": "impl",
    "module": "module", "constructor": "constructor",
}
# A function directly inside one of these is a method.
_METHOD_PARENTS = {
    "python": frozenset({"class"}),
    "rust": frozenset({"impl", "trait"}),
}
_NO_METHOD_PARENTS: frozenset[str] = frozenset()


def _load_language(name: str):
    import tree_sitter

    if name == "python":
        import tree_sitter_python as mod
        ptr = mod.language()
    elif name == "javascript":
        import tree_sitter_javascript as mod
        ptr = mod.language()
    elif name == "typescript":
        import tree_sitter_typescript as mod
        ptr = mod.language_typescript()
    elif name == "tsx":
        import tree_sitter_typescript as mod
        ptr = mod.language_tsx()
    elif name == "go":
        import tree_sitter_go as mod
        ptr = mod.language()
    elif name == "java":
        import tree_sitter_java as mod
        ptr = mod.language()
    elif name == "rust":
        import tree_sitter_rust as mod
        ptr = mod.language()
    elif name == "shell":
        import tree_sitter_bash as mod
        ptr = mod.language()
    elif name == "hcl":
        import tree_sitter_hcl as mod
        ptr = mod.language()
    else:
        raise ValueError(f"unsupported language {name!r}")
    return tree_sitter.Language(ptr)


_grammars: dict[str, tuple[object, object]] = {}  # language -> (Language, Query); shared, read-only
_grammar_lock = threading.Lock()
_local = threading.local()  # parsers are not thread-safe: one per thread and language


def _grammar(name: str):
    g = _grammars.get(name)
    if g is None:
        import tree_sitter

        with _grammar_lock:
            g = _grammars.get(name)
            if g is None:
                lang = _load_language(name)
                g = _grammars[name] = (lang, tree_sitter.Query(lang, _QUERIES[name]))
    return g


def _parse(name: str, source: bytes):
    """(tree, query) for `source`."""
    import tree_sitter

    lang, query = _grammar(name)
    parsers = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    parser = parsers.get(name)
    if parser is None:
        parser = parsers[name] = tree_sitter.Parser(lang)
    return parser.parse(source), query


def _matches(query, root, max_start_depth: int | None = None):
    import tree_sitter

    cursor = tree_sitter.QueryCursor(query)
    if max_start_depth is not None:
        # Patterns can only start this close to the root: the cursor skips deeper subtrees,
        # which is most of the cost of a query (it otherwise visits every node).
        cursor.set_max_start_depth(max_start_depth)
    return cursor.matches(root)


def _captures(query, root):
    import tree_sitter

    return tree_sitter.QueryCursor(query).captures(root)


# --------------------------------------------------------------------------- shared helpers

def _text(node) -> str:
    return node.text.decode("utf-8", "replace")


def _squash(node) -> str:
    """Node text without whitespace: `a . b` -> `a.b`."""
    return "".join(node.text.decode("utf-8", "replace").split())


def _end_row(node) -> int:
    """Row of the last token of `node` that is not a comment (extras such as a trailing comment
    that the grammar attached to an indented block do not count)."""
    while True:
        count = node.child_count
        if not count:
            return node.end_point[0]
        child = node.child(count - 1)
        while child is not None and child.is_extra:
            child = child.prev_sibling
        if child is None:
            return node.end_point[0]
        node = child


def _last_row(node) -> int:
    """Last line a node occupies: a line comment token ends at column 0 of the next row."""
    row, col = node.end_point
    return row - 1 if col == 0 and row > node.start_point[0] else row


def _first_line(text: str) -> str | None:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line
    return None


_DIRECTIVE_RE = re.compile(r"^//[a-z0-9_-]+:\S")  # //go:generate, //nolint:..., //export:...


def _comment_line(raw: str) -> str:
    """Text of one comment with its markers stripped (`//`, `///`, `/** */`, ` * `, `#`)."""
    if raw.startswith("/*"):
        body = raw[2:-2] if raw.endswith("*/") else raw[2:]
        lines = []
        for line in body.lstrip("*!").splitlines():
            line = line.strip()
            if line.startswith("*"):
                line = line.lstrip("*").strip()
            lines.append(line)
        return "\n".join(lines)
    return raw.lstrip("/!#").strip()


def _doc_before(node, start_row: int, is_doc) -> str | None:
    """First text line of the doc comment block that ends right above `start_row` (the lines
    just before the definition, no blank line between). `is_doc(raw)` says whether a comment
    is doc (True), is not and ends the block (False) or is a directive to step over (None)."""
    prev = node.prev_named_sibling
    block = []
    row = start_row
    while prev is not None and prev.type in _COMMENT_TYPES and _last_row(prev) >= row - 1:
        raw = _text(prev)
        verdict = is_doc(raw)
        if verdict is False:
            break
        before = prev.prev_named_sibling
        if before is not None and before.type not in _COMMENT_TYPES \
                and _last_row(before) >= prev.start_point[0]:
            break  # a trailing comment of the code line above, not a doc comment
        if verdict:
            block.append(raw)
        row = prev.start_point[0]
        if raw.startswith("/*"):
            break  # one block comment is the whole doc
        prev = before
    for raw in reversed(block):
        line = _first_line(_comment_line(raw))
        if line:
            return line
    return None


_COMMENT_TYPES = frozenset({"comment", "line_comment", "block_comment"})


def _is_jsdoc(raw: str) -> bool:
    return raw.startswith("/**") and not raw.startswith("/**/")


def _is_go_doc(raw: str) -> bool | None:
    return None if _DIRECTIVE_RE.match(raw) else True


def _is_rust_doc(raw: str) -> bool:
    return (raw.startswith("///") and not raw.startswith("////")) or (
        raw.startswith("/**") and not raw.startswith("/***") and not raw.startswith("/**/"))


def _extend_over(node, start_row: int, types: frozenset[str]):
    """Preceding siblings of these types (TS member decorators, Rust attributes) belong to the
    definition: returns (first such sibling or node, its start row)."""
    prev = node.prev_named_sibling
    while prev is not None and prev.type in types and _last_row(prev) >= start_row - 1:
        node, start_row = prev, prev.start_point[0]
        prev = prev.prev_named_sibling
    return node, start_row


def _first_error(root) -> str | None:
    """'SyntaxError line N: ...' for the first ERROR or MISSING node in source order (the
    outermost one: where the construct the parser could not fit begins)."""
    if not root.has_error:
        return None
    node = root
    while not node.is_error or node is root:
        for child in node.children:
            if child.is_missing:
                return f"SyntaxError line {child.start_point[0] + 1}: missing {child.type!r}"
            if child.has_error:
                node = child
                break
        else:
            break
    snippet = node.text[:40].decode("utf-8", "replace").split("\n", 1)[0].strip()
    what = f"unexpected {snippet!r}" if snippet else "invalid syntax"
    return f"SyntaxError line {node.start_point[0] + 1}: {what}"


def _by_position(r: tuple) -> tuple[int, int]:
    return r[0], -r[1]


def _nest(raw: list, method_parents: frozenset[str]) -> list[Symbol]:
    """Symbols in source order with qualified names and parents from byte-range nesting.

    raw: (start_byte, end_byte, kind, name, start_row, end_row, doc, parent_override)."""
    raw.sort(key=_by_position)
    out: list[Symbol] = []
    stack: list[tuple[int, str, str]] = []  # (end_byte, qualified_name, kind)
    for start, end, kind, name, srow, erow, doc, parent in raw:
        while stack and stack[-1][0] <= start:
            stack.pop()
        if parent is None and stack:
            _, parent, pkind = stack[-1]
            if kind == "function" and pkind in method_parents:
                kind = "method"
        qual = f"{parent}.{name}" if parent else name
        out.append((kind, name, qual, srow + 1, erow + 1, doc, parent))
        stack.append((end, qual, kind))
    return out


# --------------------------------------------------------------------------- Python

_PY_STRING_RE = re.compile(rb"([A-Za-z]*)('''|\"\"\"|'|\")")


def _py_string_value(node) -> str | None:
    """Value of a docstring literal node (string / concatenated_string / parenthesized), or
    None if it is not a plain str literal (bytes and f-strings are not docstrings)."""
    while node.type == "parenthesized_expression" and node.named_child_count == 1:
        node = node.named_child(0)
    if node.type == "string":
        parts = [node]
    elif node.type == "concatenated_string":
        parts = [c for c in node.named_children if not c.is_extra]
    else:
        return None
    values = []
    for part in parts:
        if part.type != "string":
            return None
        raw = part.text
        m = _PY_STRING_RE.match(raw)
        if m is None:
            return None
        prefix = m.group(1).lower()
        if b"b" in prefix or b"f" in prefix or b"t" in prefix:
            return None
        n = len(m.group(2))
        content = raw[m.end():len(raw) - n] if len(raw) - m.end() >= n else b""
        if b"\\" in content and b"r" not in prefix:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    value = ast.literal_eval(raw.decode("utf-8", "replace"))
                if not isinstance(value, str):
                    return None
                values.append(value)
                continue
            except Exception:  # noqa: BLE001 - fall back to the raw text
                pass
        values.append(content.decode("utf-8", "replace"))
    return "".join(values)


# A docstring statement starts with a quote, a string prefix or a parenthesis; a comment may
# come first. Anything else is rejected from the source byte without touching the tree.
_PY_DOC_FIRST = frozenset(b"\"'rRuUbBfFtT(#")


def _py_docstring(body, src: bytes) -> str | None:
    start = body.start_byte
    if start >= len(src) or src[start] not in _PY_DOC_FIRST or not body.named_child_count:
        return None
    first = body.named_child(0)
    while first is not None and first.is_extra:
        first = first.next_named_sibling
    if first is None or first.type != "expression_statement" or first.named_child_count != 1:
        return None
    value = _py_string_value(first.named_child(0))
    return _first_line(value) if value is not None else None


def _py_end_row(node, src: bytes) -> int:
    """_end_row, without walking the tree when the last line of the node holds no comment (no
    `#`) and no line continuation (no backslash): then the node's own end is its last token."""
    end = node.end_byte
    line_start = src.rfind(b"\n", 0, end) + 1
    if src.find(b"#", line_start, end) < 0 and src.find(b"\\", line_start, end) < 0:
        return node.end_point[0]
    return _end_row(node)


def _py_imports_ts(node, out: list) -> None:
    line = node.start_point[0] + 1
    kind = node.type
    if kind == "import_statement":
        for name in node.children_by_field_name("name"):
            if name.type == "aliased_import":
                name = name.child_by_field_name("name")
            out.append((_squash(name), None, line))
        return
    if kind == "future_import_statement":
        module = "__future__"
    else:
        mod = node.child_by_field_name("module_name")
        if mod is None:
            return
        module = _squash(mod)
    names = node.children_by_field_name("name")
    if not names:
        if any(c.type == "wildcard_import" for c in node.named_children):
            out.append((module, "*", line))
        else:
            out.append((module, None, line))
        return
    for name in names:
        if name.type == "aliased_import":
            name = name.child_by_field_name("name")
        out.append((module, _squash(name), line))


# Python statements that hold blocks of statements: definitions can only be found under these
# (an expression never contains a statement), so a clean tree is searched statement by statement.
_PY_CONTAINERS = frozenset({
    "block", "if_statement", "elif_clause", "else_clause", "for_statement", "while_statement",
    "try_statement", "except_clause", "except_group_clause", "finally_clause", "with_statement",
    "match_statement", "case_clause", "decorated_definition", "ERROR",
})
_PY_IMPORTS = frozenset({"import_statement", "import_from_statement", "future_import_statement"})
_PY_PY2 = frozenset({"print_statement", "exec_statement"})


def _py_statements(root, src: bytes):
    """(function nodes, class nodes, decorated_definition nodes, import nodes, py2 seen) by
    walking statements only, and only into blocks whose bytes contain one of the keywords
    sought (a plain substring test in C: a superset, so nothing is missed). Several times
    cheaper than running the query, which visits every node; that matters for Python, the
    biggest share of an estate's code bytes."""
    find = src.find
    functions, classes, decorated, imports = [], [], [], []
    py2 = False
    stack = [root]
    pop, push = stack.pop, stack.append
    while stack:
        for node in pop().named_children:
            t = node.type
            if t == "function_definition" or t == "class_definition":
                (functions if t == "function_definition" else classes).append(node)
                node = node.child_by_field_name("body")
                if node is None:
                    continue
            elif t in _PY_CONTAINERS:
                if t == "decorated_definition":
                    decorated.append(node)
                    push(node)
                    continue
            elif t in _PY_IMPORTS:
                imports.append(node)
                continue
            else:
                if t in _PY_PY2:
                    py2 = True
                continue
            s, e = node.start_byte, node.end_byte
            if (find(b"def", s, e) >= 0 or find(b"class", s, e) >= 0 or find(b"import", s, e) >= 0
                    or find(b"print", s, e) >= 0 or find(b"exec", s, e) >= 0):
                push(node)
    return functions, classes, decorated, imports, py2


def _python_ts(root, query, src: bytes) -> tuple[list[Symbol], list[Import], bool]:
    if root.has_error:  # definitions may hang anywhere under ERROR nodes: ask the query
        caps = _captures(query, root)
        functions, classes = caps.get("function", ()), caps.get("class", ())
        decorated_nodes, import_nodes = caps.get("decorated", ()), caps.get("import", ())
        py2 = bool(caps.get("py2"))
    else:
        functions, classes, decorated_nodes, import_nodes, py2 = _py_statements(root, src)
    decorated = {}
    for d in decorated_nodes:
        inner = d.child_by_field_name("definition")
        if inner is not None:
            decorated[inner.start_byte] = d.start_point[0]
    raw = []
    for nodes, kind in ((functions, "function"), (classes, "class")):
        for node in nodes:
            name = node.child_by_field_name("name")
            if name is None:
                continue
            body = node.child_by_field_name("body")
            start = node.start_byte
            srow = decorated.get(start, node.start_point[0])
            raw.append((start, node.end_byte, kind, _text(name), srow, _py_end_row(node, src),
                        _py_docstring(body, src) if body is not None else None, None))
    imports: list[Import] = []
    if import_nodes:
        for node in sorted(import_nodes, key=lambda n: n.start_byte):
            _py_imports_ts(node, imports)
    return _nest(raw, _METHOD_PARENTS["python"]), imports, py2


def _python_ast(tree: ast.Module) -> tuple[list[Symbol], list[Import]]:
    symbols: list[Symbol] = []
    imports: list[Import] = []
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)

    def visit(stmts, parent: str | None, parent_is_class: bool) -> None:
        for st in stmts:
            if isinstance(st, defs):
                is_class = isinstance(st, ast.ClassDef)
                kind = "class" if is_class else ("method" if parent_is_class else "function")
                qual = f"{parent}.{st.name}" if parent else st.name
                start = st.decorator_list[0].lineno if st.decorator_list else st.lineno
                doc = None
                body = st.body
                if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                        and isinstance(body[0].value.value, str)):
                    doc = _first_line(body[0].value.value)
                symbols.append((kind, st.name, qual, start, st.end_lineno, doc, parent))
                visit(body, qual, is_class)
            elif isinstance(st, ast.Import):
                for alias in st.names:
                    imports.append((alias.name, None, st.lineno))
            elif isinstance(st, ast.ImportFrom):
                module = "." * (st.level or 0) + (st.module or "")
                for alias in st.names:
                    imports.append((module, alias.name, st.lineno))
            else:  # compound statements, their blocks in source order
                body = getattr(st, "body", None)
                if body:
                    visit(body, parent, parent_is_class)
                for h in getattr(st, "handlers", None) or getattr(st, "cases", None) or ():
                    visit(h.body, parent, parent_is_class)
                for fld in ("orelse", "finalbody"):
                    sub = getattr(st, fld, None)
                    if sub:
                        visit(sub, parent, parent_is_class)

    visit(tree.body, None, False)
    return symbols, imports


def _ast_error(source: bytes) -> tuple[ast.Module | None, str | None]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(source), None
    except (SyntaxError, ValueError) as exc:  # null bytes: ValueError or a SyntaxError without line
        line = getattr(exc, "lineno", None)
        if line is None:
            pos = source.find(b"\x00")
            line = source.count(b"\n", 0, pos) + 1 if pos >= 0 else 1
        return None, f"SyntaxError line {line}: {getattr(exc, 'msg', None) or exc}"
    except (MemoryError, RecursionError) as exc:
        return None, f"SyntaxError line 1: {type(exc).__name__}"


try:  # the native outline scanner (anfl_assets/_pyoutline.c), built at install where a C compiler exists
    if sys.version_info[:2] != (3, 11):  # it lexes as Python 3.11 does (3.12 changed f-strings)
        raise ImportError("Python 3.11 only")
    from anfl_assets import _pyoutline
except ImportError:
    _pyoutline = None


def _docstring_line(doc: bytes) -> str | None:
    """First line of a docstring the scanner handed back as source (escapes, non-ASCII)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = ast.literal_eval(doc.decode("utf-8"))
    if not isinstance(value, str):
        raise ValueError("not a str docstring")
    return _first_line(value)


def _outline_python(source: bytes) -> Structure:
    """The native scanner where it vouches for its result; otherwise `ast` decides and, on a
    real syntax error, tree-sitter's error-tolerant tree gives the partial symbols."""
    symbols, imports, suspect = _pyoutline.outline(source)
    if not suspect:
        try:
            for k, sym in enumerate(symbols):
                if type(sym[5]) is bytes:
                    symbols[k] = (*sym[:5], _docstring_line(sym[5]), sym[6])
            return Structure(symbols, imports, None)
        except (SyntaxError, ValueError, UnicodeDecodeError, MemoryError, RecursionError):
            pass  # e.g. an invalid escape in the docstring: the file does not parse either
    module, error = _ast_error(source)
    if module is not None:
        return Structure(*_python_ast(module), None)
    tree, query = _parse("python", source)
    symbols, imports, _ = _python_ts(tree.root_node, query, source)
    return Structure(symbols, imports, error)


def _extract_python(source: bytes) -> Structure:
    if _pyoutline is not None:
        return _outline_python(source)
    return _extract_python_ts(source)


def _extract_python_ts(source: bytes) -> Structure:
    tree, query = _parse("python", source)
    root = tree.root_node
    symbols, imports, py2 = _python_ts(root, query, source)
    if root.has_error or py2:
        module, error = _ast_error(source)
        if module is not None:
            # tree-sitter-python's grammar gaps: ast is the reference, use its results.
            symbols, imports = _python_ast(module)
            return Structure(symbols, imports, None)
        return Structure(symbols, imports, error)
    return Structure(symbols, imports, None)


# --------------------------------------------------------------------------- JavaScript / TypeScript

_TS_MEMBER_PREFIX = frozenset({"decorator"})


def _js_string(node) -> str:
    s = _text(node)
    return s[1:-1] if len(s) >= 2 and s[0] in "'\"`" else s


def _js_outer(node):
    """The statement a declaration belongs to: `export ...` and, for `const f = () => {}`, the
    declaration statement (when it declares only this)."""
    parent = node.parent
    if node.type == "variable_declarator":
        if parent is None or parent.type not in ("lexical_declaration", "variable_declaration") \
                or parent.named_child_count != 1:
            return node
        node, parent = parent, parent.parent
    if parent is not None and parent.type == "export_statement":
        return parent
    return node


def _js_imports(node, out: list) -> None:
    line = node.start_point[0] + 1
    source = node.child_by_field_name("source")
    if source is None:
        # TS `import x = require('y')`
        for child in node.named_children:
            if child.type == "import_require_clause":
                src = child.child_by_field_name("source")
                if src is not None:
                    out.append((_js_string(src), None, line))
        return
    module = _js_string(source)
    names = []
    for child in node.named_children:
        if child.type == "import_clause":
            for part in child.named_children:
                if part.type == "identifier":
                    names.append("default")
                elif part.type == "namespace_import":
                    names.append("*")
                elif part.type == "named_imports":
                    for spec in part.named_children:
                        if spec.type == "import_specifier":
                            names.append(_text(spec.child_by_field_name("name")))
        elif child.type == "export_clause":
            for spec in child.named_children:
                if spec.type == "export_specifier":
                    names.append(_text(spec.child_by_field_name("name")))
        elif child.type == "namespace_export":
            names.append("*")
    if node.type == "export_statement" and not names:
        names.append("*")  # export * from 'x'
    if not names:
        out.append((module, None, line))
    for name in names:
        out.append((module, name, line))


def _extract_js(lang: str, source: bytes) -> Structure:
    tree, query = _parse(lang, source)
    root = tree.root_node
    raw = []
    imports: list[Import] = []
    for _, caps in _matches(query, root):
        if "name" in caps or "default" in caps:
            if "export_default" in caps or "export_default_class" in caps:
                outer = caps.get("export_default", caps.get("export_default_class"))[0]
                node = caps["default"][0]
                kind = "class" if "export_default_class" in caps else "function"
                name = "default"
                start_row = outer.start_point[0]
            else:
                for cap, node_list in caps.items():
                    if cap in _DEF_KINDS or cap == "assigned":
                        break
                else:
                    continue
                node = node_list[0]
                kind = _DEF_KINDS.get(cap, "function")
                name_node = caps["name"][0]
                name = _squash(name_node) if cap == "assigned" else _text(name_node)
                if cap == "method":
                    outer, start_row = _extend_over(node, node.start_point[0], _TS_MEMBER_PREFIX)
                elif cap == "assigned":
                    outer = node
                    start_row = node.start_point[0]
                else:
                    outer = _js_outer(node)
                    start_row = outer.start_point[0]
            doc = _doc_before(outer, start_row, _is_jsdoc)
            raw.append((node.start_byte, node.end_byte, kind, name, start_row,
                        node.end_point[0], doc, None))
        elif "import" in caps:
            _js_imports(caps["import"][0], imports)
        elif "reexport" in caps:
            _js_imports(caps["reexport"][0], imports)
        elif "source" in caps:
            src = caps["source"][0]
            if src.named_child_count <= 1:  # a plain string, no template substitutions
                imports.append((_js_string(src), None, src.start_point[0] + 1))
    imports.sort(key=lambda i: i[2])
    return Structure(_nest(raw, _NO_METHOD_PARENTS), imports, _first_error(root))


# --------------------------------------------------------------------------- Go

_GO_RECEIVER_RE = re.compile(r"[\w.]+")


def _go_receiver(params) -> str | None:
    for p in params.named_children:
        if p.type == "parameter_declaration":
            t = p.child_by_field_name("type")
            if t is not None:
                text = _text(t).lstrip("*( ")
                m = _GO_RECEIVER_RE.match(text)
                return m.group(0) if m else text
    return None


def _extract_go(source: bytes) -> Structure:
    tree, query = _parse("go", source)
    root = tree.root_node
    raw = []
    imports: list[Import] = []
    # Declarations are top-level in Go (source_file > import_declaration > import_spec_list >
    # import_spec is the deepest); types declared inside function bodies are not symbols here.
    for _, caps in _matches(query, root, 3):
        parent = None
        if "import" in caps:
            spec = caps["import"][0]
            path = spec.child_by_field_name("path")
            if path is not None:
                imports.append((_text(path).strip("\"`"), None, spec.start_point[0] + 1))
            continue
        name = _text(caps["name"][0])
        if "typespec" in caps:
            node = caps["typespec"][0]
            ttype = caps["type"][0].type
            kind = "struct" if ttype == "struct_type" else "interface" if ttype == "interface_type" else "type"
        elif "alias" in caps:
            node, kind = caps["alias"][0], "type"
        elif "method" in caps:
            node, kind = caps["method"][0], "method"
            parent = _go_receiver(caps["receiver"][0])
        else:
            node, kind = caps["function"][0], "function"
        outer = node
        if node.type in ("type_spec", "type_alias"):
            decl = node.parent
            if decl is not None and decl.type == "type_declaration" and decl.named_child_count == 1:
                outer = decl
        start_row = outer.start_point[0]
        doc = _doc_before(outer, start_row, _is_go_doc)
        raw.append((outer.start_byte, outer.end_byte, kind, name, start_row, outer.end_point[0],
                    doc, parent))
    imports.sort(key=lambda i: i[2])
    return Structure(_nest(raw, _NO_METHOD_PARENTS), imports, _first_error(root))


# --------------------------------------------------------------------------- Java

def _extract_java(source: bytes) -> Structure:
    tree, query = _parse("java", source)
    root = tree.root_node
    raw = []
    imports: list[Import] = []
    for _, caps in _matches(query, root):
        if "import" in caps:
            node = caps["import"][0]
            path = None
            star = False
            for child in node.named_children:
                if child.type in ("scoped_identifier", "identifier"):
                    path = _squash(child)
                elif child.type == "asterisk":
                    star = True
            if path is None:
                continue
            line = node.start_point[0] + 1
            if star:
                imports.append((path, "*", line))
            elif "." in path:
                module, name = path.rsplit(".", 1)
                imports.append((module, name, line))
            else:
                imports.append((path, None, line))
            continue
        for cap, nodes in caps.items():
            if cap in _DEF_KINDS:
                break
        else:
            continue
        node = nodes[0]
        start_row = node.start_point[0]
        doc = _doc_before(node, start_row, _is_jsdoc)
        raw.append((node.start_byte, node.end_byte, _DEF_KINDS[cap], _text(caps["name"][0]),
                    start_row, node.end_point[0], doc, None))
    imports.sort(key=lambda i: i[2])
    return Structure(_nest(raw, _NO_METHOD_PARENTS), imports, _first_error(root))


# --------------------------------------------------------------------------- Rust

_RUST_ATTRS = frozenset({"attribute_item"})
_GENERICS_RE = re.compile(r"<.*$", re.S)


def _rust_type_name(node) -> str:
    return _GENERICS_RE.sub("", "".join(_text(node).split()))


def _rust_use(node, prefix: str, line: int, out: list) -> None:
    t = node.type
    if t in ("identifier", "crate", "self", "super", "metavariable"):
        name = _text(node)
        if prefix:
            out.append((prefix, None if name == "self" else name, line))
        else:
            out.append((name, None, line))
    elif t == "scoped_identifier":
        path = node.child_by_field_name("path")
        name = node.child_by_field_name("name")
        full = prefix + "::" + _squash(path) if prefix and path is not None else (
            _squash(path) if path is not None else prefix)
        if name is None:
            out.append((full, None, line))
        elif not full:
            out.append((_text(name), None, line))
        else:
            nm = _text(name)
            out.append((full, None if nm == "self" else nm, line))
    elif t == "use_as_clause":
        path = node.child_by_field_name("path")
        if path is not None:
            _rust_use(path, prefix, line, out)
    elif t == "use_wildcard":
        module = _squash(node.named_child(0)) if node.named_child_count else ""
        module = f"{prefix}::{module}" if prefix and module else (module or prefix)
        out.append((module, "*", line))
    elif t == "scoped_use_list":
        path = node.child_by_field_name("path")
        lst = node.child_by_field_name("list")
        sub = _squash(path) if path is not None else ""
        new_prefix = f"{prefix}::{sub}" if prefix and sub else (sub or prefix)
        if lst is not None:
            _rust_use(lst, new_prefix, line, out)
    elif t == "use_list":
        for child in node.named_children:
            if not child.is_extra:
                _rust_use(child, prefix, line, out)
    else:
        out.append((f"{prefix}::{_squash(node)}" if prefix else _squash(node), None, line))


def _extract_rust(source: bytes) -> Structure:
    tree, query = _parse("rust", source)
    root = tree.root_node
    raw = []
    imports: list[Import] = []
    for _, caps in _matches(query, root):
        if "import" in caps:
            _rust_use(caps["use"][0], "", caps["import"][0].start_point[0] + 1, imports)
            continue
        if "extern" in caps:
            imports.append((_text(caps["name"][0]), None, caps["extern"][0].start_point[0] + 1))
            continue
        for cap, nodes in caps.items():
            if cap in _DEF_KINDS:
                break
        else:
            continue
        node = nodes[0]
        if cap == "impl":
            name = _rust_type_name(caps["name"][0])
            trait = node.child_by_field_name("trait")
            if trait is not None:
                name = f"{_rust_type_name(trait)} for {name}"
        else:
            name = _text(caps["name"][0])
        outer, start_row = _extend_over(node, node.start_point[0], _RUST_ATTRS)
        doc = _doc_before(outer, start_row, _is_rust_doc)
        raw.append((node.start_byte, node.end_byte, _DEF_KINDS[cap], name, start_row,
                    node.end_point[0], doc, None))
    imports.sort(key=lambda i: i[2])
    return Structure(_nest(raw, _METHOD_PARENTS["rust"]), imports, _first_error(root))


# --------------------------------------------------------------------------- shell

def _extract_shell(source: bytes) -> Structure:
    tree, query = _parse("shell", source)
    root = tree.root_node
    raw = []
    imports: list[Import] = []
    for _, caps in _matches(query, root):
        if "import" in caps:
            arg = caps["source"][0]
            text = _text(arg)
            if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
                text = text[1:-1]
            imports.append((text, None, arg.start_point[0] + 1))
            continue
        node = caps["function"][0]
        raw.append((node.start_byte, node.end_byte, "function", _text(caps["name"][0]),
                    node.start_point[0], _end_row(node), None, None))
    imports.sort(key=lambda i: i[2])
    return Structure(_nest(raw, _NO_METHOD_PARENTS), imports, _first_error(root))


# --------------------------------------------------------------------------- HCL / Terraform

def _hcl_string(expr) -> str | None:
    """Value of an attribute expression that is a plain quoted string."""
    node = expr
    while node is not None and node.type in ("expression", "literal_value", "template_expr") \
            and node.named_child_count == 1:
        node = node.named_child(0)
    if node is None or node.type not in ("string_lit", "quoted_template"):
        return None
    parts = [c for c in node.named_children if c.type not in ("quoted_template_start", "quoted_template_end")]
    if len(parts) > 1 or (parts and parts[0].type != "template_literal"):
        return None
    return _text(parts[0]) if parts else ""


def _hcl_attributes(block, wanted: tuple[str, ...]) -> dict:
    out = {}
    for child in block.named_children:
        if child.type == "body":
            for attr in child.named_children:
                if attr.type == "attribute" and attr.named_child_count >= 2:
                    key = attr.named_child(0)
                    if key.type == "identifier":
                        k = _text(key)
                        if k in wanted and k not in out:
                            value = _hcl_string(attr.named_child(1))
                            if value is not None:
                                out[k] = (value, attr.start_point[0] + 1)
    return out


def _extract_hcl(source: bytes) -> Structure:
    tree, query = _parse("hcl", source)
    root = tree.root_node
    raw = []
    imports: list[Import] = []
    for _, caps in _matches(query, root, 0):  # top-level blocks only (the pattern is rooted at config_file)
        block = caps["block"][0]
        kind = _text(caps["type"][0])
        labels = []
        for child in block.named_children[1:]:
            if child.type == "string_lit":
                labels.append(_hcl_string(child) or _text(child).strip('"'))
            elif child.type == "identifier":
                labels.append(_text(child))
            else:
                break
        name = ".".join(labels) if labels else kind
        doc = None
        if kind == "module":
            attrs = _hcl_attributes(block, ("source",))
            if "source" in attrs:
                value, line = attrs["source"]
                imports.append((value, None, line))
        elif kind in ("variable", "output"):
            attrs = _hcl_attributes(block, ("description",))
            if "description" in attrs:
                doc = _first_line(attrs["description"][0])
        raw.append((block.start_byte, block.end_byte, kind, name, block.start_point[0],
                    block.end_point[0], doc, None))
    return Structure(_nest(raw, _NO_METHOD_PARENTS), imports, _first_error(root))


# --------------------------------------------------------------------------- entry point

_EXTRACTORS = {
    "python": _extract_python,
    "javascript": lambda src: _extract_js("javascript", src),
    "typescript": lambda src: _extract_js("typescript", src),
    "tsx": lambda src: _extract_js("tsx", src),
    "go": _extract_go,
    "java": _extract_java,
    "rust": _extract_rust,
    "shell": _extract_shell,
    "hcl": _extract_hcl,
}


def _normalise(source: bytes) -> bytes:
    """UTF-8 without BOM; UTF-16/32 files re-encoded (line numbers are unchanged)."""
    if source[:3] == b"\xef\xbb\xbf":
        return source[3:]
    if source[:2] in (b"\xff\xfe", b"\xfe\xff") or source[:4] == b"\x00\x00\xfe\xff":
        enc = "utf-32" if source[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff") else "utf-16"
        try:
            return source.decode(enc).encode("utf-8")
        except UnicodeError:
            return source
    return source


def extract_structure(language: str, source: bytes) -> Structure:
    """Symbols and imports of one file. Never raises for bad input: a file that does not parse
    gives what could be recovered plus `error` ('SyntaxError line N: ...')."""
    extractor = _EXTRACTORS.get(language)
    if extractor is None:
        raise ValueError(f"unsupported language {language!r}; expected one of {sorted(LANGUAGES)}")
    if len(source) > MAX_SOURCE_BYTES:
        return Structure([], [], f"skipped: {len(source)} bytes > {MAX_SOURCE_BYTES}")
    source = _normalise(source)
    if not source or source.isspace():
        return Structure([], [], None)
    try:
        return extractor(source)
    except RecursionError:
        return Structure([], [], "SyntaxError line 1: nesting too deep")
    except Exception as exc:  # noqa: BLE001 - one odd file must not fail a batch of thousands
        return Structure([], [], f"extractor failed: {type(exc).__name__}: {exc}")
