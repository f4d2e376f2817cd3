"""code_structure: symbols with exact line ranges, doc lines and imports per language; broken
files; language detection; Python cross-checked against `ast` on the sample estate."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from anfl_assets.domain.enrich import code_structure as cs
from anfl_assets.domain.enrich.code_structure import (
    EXTRACTOR_VERSION,
    LANGUAGES,
    Structure,
    extract_structure,
    language_for,
)


def src(text: str) -> bytes:
    """Source text from an indented literal; line 1 is the first line after the opening quotes."""
    return textwrap.dedent(text).lstrip("\n").encode()


def by_qual(st: Structure) -> dict:
    return {s[2]: s for s in st.symbols}


# --------------------------------------------------------------------------------------
# Python
# --------------------------------------------------------------------------------------

PYTHON = src('''
    """Module docstring."""
    from __future__ import annotations

    import os
    import os.path as osp
    from typing import Any, Optional
    from . import utils
    from .models import (
        Model,
        Other as O,
    )
    from ..core import *


    def plain(a, b):
        """Add two numbers.

        Longer description.
        """
        return a + b


    @dataclass(frozen=True)
    @register("x")
    class Config(Base):
        \'\'\'
            Holds configuration.
        \'\'\'

        name: str = "x"

        @property
        def path(self) -> str:
            return osp.join("/", self.name)

        async def load(self):
            """Load it."""
            import json

            def parse(text):
                return json.loads(
                    text,
                )

            return parse("{}")
            # trailing comment, not part of the method


        class Inner:
            def method(self):
                pass


    async def main() -> None:
        r"""Raw \\d docstring."""
        async with session() as s:
            await s.run()
    # a comment at column 0 after the last statement


    if __name__ == "__main__":
        def cli():
            main()
''')


def test_python_symbols_exact():
    st = extract_structure("python", PYTHON)
    assert st.error is None
    assert st.symbols == [
        ("function", "plain", "plain", 15, 20, "Add two numbers.", None),
        ("class", "Config", "Config", 23, 51, "Holds configuration.", None),
        ("method", "path", "Config.path", 32, 34, None, "Config"),
        ("method", "load", "Config.load", 36, 45, "Load it.", "Config"),
        ("function", "parse", "Config.load.parse", 40, 43, None, "Config.load"),
        ("class", "Inner", "Config.Inner", 49, 51, None, "Config"),
        ("method", "method", "Config.Inner.method", 50, 51, None, "Config.Inner"),
        ("function", "main", "main", 54, 57, "Raw \\d docstring.", None),
        ("function", "cli", "cli", 62, 63, None, None),
    ]
    assert st.imports == [
        ("__future__", "annotations", 2),
        ("os", None, 4),
        ("os.path", None, 5),
        ("typing", "Any", 6),
        ("typing", "Optional", 6),
        (".", "utils", 7),
        (".models", "Model", 8),
        (".models", "Other", 8),
        ("..core", "*", 12),
        ("json", None, 38),
    ]


def test_python_lines_match_ast():
    """Start = first decorator, end = ast's end_lineno, for every definition."""
    tree = ast.parse(PYTHON)
    want = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            start = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            want[node.name] = (start, node.end_lineno)
    got = {s[1]: (s[3], s[4]) for s in extract_structure("python", PYTHON).symbols}
    assert got == want


def test_python_tree_sitter_and_ast_paths_agree():
    """The fast path (tree-sitter) and the fallback (ast) give identical results."""
    root = cs._parse("python", PYTHON)[0].root_node
    assert not root.has_error
    ts_symbols, ts_imports, _ = cs._python_ts(root, cs._grammar("python")[1], PYTHON)
    assert (ts_symbols, ts_imports) == cs._python_ast(ast.parse(PYTHON))


def test_python_docstring_forms():
    st = extract_structure("python", src('''
        def a():
            """

            First non-empty line.   
            """

        def b():
            # a comment before the docstring
            "single quoted"

        def c():
            ("parenthesised " "and concatenated")

        def d():
            b"bytes are not docstrings"

        def e():
            f"nor are f-strings"

        def f():
            x = "not first"

        def g():
            "tab\\tescape\\nsecond line"
    '''))
    assert [(s[1], s[5]) for s in st.symbols] == [
        ("a", "First non-empty line."),
        ("b", "single quoted"),
        ("c", "parenthesised and concatenated"),
        ("d", None),
        ("e", None),
        ("f", None),
        ("g", "tab\tescape"),
    ]


def test_python_definitions_under_compound_statements():
    source = src('''
        try:
            import ujson as json
        except ImportError:  # pragma: no cover
            import json
        else:
            def fast(): pass
        finally:
            pass

        if TYPE_CHECKING:
            from typing import Protocol

            class P(Protocol):
                def m(self) -> int: ...

        match command:
            case "go":
                def go(): pass

        with lock:
            class Locked:
                pass

        for i in range(3):
            def loop_fn(): pass
        else:
            def after_loop(): pass

        x = 1; import sys
    ''')
    st = extract_structure("python", source)
    assert st.error is None
    assert [(s[0], s[2], s[3], s[4]) for s in st.symbols] == [
        ("function", "fast", 6, 6),
        ("class", "P", 13, 14),
        ("method", "P.m", 14, 14),
        ("function", "go", 18, 18),
        ("class", "Locked", 21, 22),
        ("function", "loop_fn", 25, 25),
        ("function", "after_loop", 27, 27),
    ]
    assert st.imports == [("ujson", None, 2), ("json", None, 4), ("typing", "Protocol", 11), ("sys", None, 29)]
    assert (st.symbols, st.imports) == cs._python_ast(ast.parse(source))


def test_python_syntax_error_gives_partial_symbols_and_line():
    st = extract_structure("python", src('''
        import os

        def ok():
            """Fine."""
            return 1

        def broken(:
            pass

        class After:
            def m(self):
                return 2
    '''))
    assert st.error == "SyntaxError line 7: invalid syntax"
    names = {s[2]: (s[0], s[3], s[4]) for s in st.symbols}
    assert names["ok"] == ("function", 3, 5)
    assert names["After"] == ("class", 10, 12)
    assert names["After.m"] == ("method", 11, 12)
    assert st.imports == [("os", None, 1)]


def test_python_grammar_gap_falls_back_to_ast():
    """Valid Python that tree-sitter-python cannot parse (a dedent inside brackets): ast
    parses it, so its results are used and no error is reported."""
    st = extract_structure("python", src('''
        class T:
            def test_weird(self):
                def f():
                    (bar.
                baz)
                return f
    '''))
    assert cs._parse("python", src("def f():\n    (bar.\nbaz)\n"))[0].root_node.has_error
    assert st.error is None
    assert st.symbols == [
        ("class", "T", "T", 1, 6, None, None),
        ("method", "test_weird", "T.test_weird", 2, 6, None, "T"),
        ("function", "f", "T.test_weird.f", 3, 5, None, "T.test_weird"),
    ]


def test_python2_file_reports_the_syntax_error():
    st = extract_structure("python", b'print "hello"\ndef h():\n    pass\n')
    assert st.error.startswith("SyntaxError line 1: Missing parentheses")
    assert [s[1] for s in st.symbols] == ["h"]


def test_python_null_bytes_and_encodings():
    st = extract_structure("python", b"x = 1\n\x00\ndef g(): pass\n")
    assert st.error == "SyntaxError line 2: source code string cannot contain null bytes"
    assert [s[1] for s in st.symbols] == ["g"]
    plain = extract_structure("python", PYTHON)
    assert extract_structure("python", PYTHON.replace(b"\n", b"\r\n")) == plain
    assert extract_structure("python", b"\xef\xbb\xbf" + PYTHON) == plain
    assert extract_structure("python", PYTHON.decode().encode("utf-16")) == plain


# --------------------------------------------------------------------------------------
# Python: the native outline scanner against ast
# --------------------------------------------------------------------------------------

needs_scanner = pytest.mark.skipif(cs._pyoutline is None, reason="the native scanner is not built here")


def _ast_result(source: bytes):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cs._python_ast(ast.parse(source))


# Valid Python that a line- or regex-based outline would get wrong; the scanner must vouch for
# each (no ast fallback) and still agree with ast exactly.
TRICKY_VALID = {
    "lambda_in_headers": b"if (lambda: 1)():\n    def f(x=lambda: 2): pass\nelse:\n    y = lambda a: a\n",
    "walrus_and_annotations": b"if (n := 10) > 5:\n    x: int = 1\n    d: dict[str, int] = {'a': 1}\n"
                              b"def g():\n    z: 'int'\n    return z\n",
    "soft_keywords_as_names": b"match = 1\ncase = match\ndef match(case): return case\nclass case: pass\n"
                              b"match(x)\nmatch[1]\nmatch.y\n",
    "match_statement": b"match cmd:\n    case ['go', d] if d:\n        def go(): pass\n    case Point(x=0) | None:\n"
                       b"        import json\n    case _:\n        pass\n",
    "decorators_with_comments": b"@a.b(c=1)\n# between\n\n@d\nasync def f():\n    \"\"\"Doc.\"\"\"\n    await x\n",
    "nested_and_dedented_comments": b"class A:\n    class B:\n        def m(self):\n            x = 1\n# dedented\n"
                                    b"            return x\n    # trailing comment\n\n\ny = 2\n",
    "inline_bodies": b"def f(): 'inline doc'; import os\nclass C: x = 1; import sys as s\nif x: import a.b as c, d\n",
    "continuations": b"def f(a,\n      b) -> \\\n        int:\n    return (a +\n            b)\n"
                     b"def g():\n    return \"\"\"multi\nline\"\"\" + \\\n        'x'\n",
    "strings_that_look_like_code": b"s = \"\"\"\ndef fake():\n    pass\n\"\"\"\ndef real():\n"
                                   b"    \"doc with 'quotes' and \\\"\"\n"
                                   b"    t = \"# not a comment ' \"\n    return f'{s!r:>{10}}'\n",
    "docstring_escapes_and_unicode": ("def a():\n    \"tab\\there\"\ndef b():\n    r\"\"\"raw \\n stays\"\"\"\n"
                                      "def c():\n    \"\"\"caf\u00e9 \u2013 ok\"\"\"\ndef d():\n    u'\\N{BULLET} item'\n"
                                      "def e():\n    ('joined'\n     # note\n     ' parts')\n").encode(),
    "relative_and_star_imports": b"from . import (a, b as c,)\nfrom ...pkg.mod import x\nfrom .m import *\n"
                                 b"import a.b.c\nfrom __future__ import annotations\n",
    "line_endings_and_form_feed": b"def f():\r\n    pass\r\n\x0c\r\nclass C:\r    def m(self): pass\r",
    "tabs": b"class T:\n\tdef m(self):\n\t\treturn 1\n\tdef n(self):\n\t\tpass\n",
    "py3_print_forms": b"print >> f, 'x'\nprint\nprint(1, end='')\nprint, x = 1, 2\n",
    "semicolons_and_ellipsis": b"def f(): ...\nx = 1;\nclass P: ...; y = 2\n",
    "except_star_and_groups": b"try:\n    pass\nexcept* (ValueError, TypeError) as e:\n    def h(): pass\n",
    "deep_brackets_dedent": b"def f():\n    x = [\n1,\n  2]\n    return x\n",
    "bom": b"\xef\xbb\xbfdef f(): pass\n",
    "numbers": b"x = 0x_FF + 0o17 + 0b1_0 + 1_000.5e-3j + .5 + 1e10 + 0 + 00\n",
}

# Invalid Python, each of a kind the scanner must flag so that ast reports the error.
FLAGGED_INVALID = {
    "py2_print": b"print 'hello'\n",
    "py2_exec": b"exec code in ns\n",
    "py2_except": b"try:\n    pass\nexcept ValueError, e:\n    pass\n",
    "py2_backquote": b"x = `y`\n",
    "py2_not_equal": b"if a <> b:\n    pass\n",
    "py2_octal": b"mode = 0777\n",
    "py2_long": b"n = 10L\n",
    "py2_ur_prefix": b"s = ur'x'\n",
    "py2_tuple_params": b"def f(a, (b, c)):\n    pass\n",
    "py2_raise": b"raise ValueError, 'x'\n",
    "unterminated_string": b"s = 'abc\ndef f(): pass\n",
    "unterminated_triple": b"def f():\n    '''never closed\n",
    "unclosed_bracket": b"def f(:\n    pass\n",
    "mismatched_bracket": b"x = (1, 2]\n",
    "unexpected_indent": b"x = 1\n    y = 2\n",
    "missing_block": b"def f():\nx = 1\n",
    "unindent_mismatch": b"if x:\n        a = 1\n    b = 2\n",
    "inconsistent_tabs": b"if x:\n\ta = 1\n        b = 2\n",
    "decorator_without_def": b"@dec\nx = 1\n",
    "stray_character": b"x = $y\n",
    "str_bytes_mix": b"s = 'a' b'b'\n",
    "stray_backslash": b"x = 1 \\ 2\n",
    "missing_comma": b"x = [(1) 2]\n",
    "colon_on_a_statement": b"frames = get_stack(task, limit):\n",
    "bad_escape": b"s = '\\x4'\n",
    "pep695_under_311": b"def f[T](x: T) -> T:\n    return x\n",
    "null_byte": b"x = 1\x00\n",
    "latin1_without_cookie": b"s = '\xe9'\n",
    "header_without_colon": b"while True\n    pass\n",
    "empty_statement": b"x = 1;;\n",
}


@needs_scanner
@pytest.mark.parametrize("name", sorted(TRICKY_VALID))
def test_python_outline_vouches_for_tricky_valid_code(name):
    source = TRICKY_VALID[name]
    assert cs._pyoutline.outline(source)[2] is False
    st = extract_structure("python", source)
    assert st.error is None
    assert (st.symbols, st.imports) == _ast_result(source)


@needs_scanner
@pytest.mark.parametrize("name", sorted(FLAGGED_INVALID))
def test_python_outline_flags_invalid_code_for_ast(name):
    source = FLAGGED_INVALID[name]
    with pytest.raises((SyntaxError, ValueError)):
        ast.parse(source)
    assert cs._pyoutline.outline(source)[2] is True
    st = extract_structure("python", source)
    assert st.error is not None and st.error.startswith("SyntaxError line ")


@needs_scanner
def test_python_outline_latin1_cookie_goes_through_ast():
    source = b"# -*- coding: latin-1 -*-\ndef caf\xe9(): pass\ndef g():\n    '\xe9t\xe9'\n"
    assert cs._pyoutline.outline(source)[2] is True
    st = extract_structure("python", source)
    assert st.error is None
    assert [(s[1], s[5]) for s in st.symbols] == [("caf\u00e9", None), ("g", "\u00e9t\u00e9")]


def _stdlib_sources() -> list[Path]:
    root = Path(ast.__file__).parent
    return sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)


@needs_scanner
def test_python_outline_matches_ast_on_the_standard_library():
    """Every file of the standard library (about 2,000, tests and bad-syntax samples included):
    where ast parses it and the scanner vouches for it, the results are identical; where ast
    fails, the scanner flagged it; the scanner vouches for nearly all valid files."""
    import warnings

    valid = vouched = 0
    for path in _stdlib_sources():
        source = path.read_bytes()
        suspect = cs._pyoutline.outline(source)[2]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(source)
        except (SyntaxError, ValueError):
            assert suspect, path
            continue
        valid += 1
        if not suspect:
            vouched += 1
            st = cs._outline_python(source)
            assert (st.symbols, st.imports) == cs._python_ast(tree), path
    assert valid > 1500
    assert vouched / valid > 0.99


@needs_scanner
def test_python_outline_survives_mutations():
    """Random edits of standard-library files (characters deleted, inserted, repeated): the
    scanner never fails, and whenever it vouches for a file that ast parses, it agrees."""
    import random
    import warnings

    rng = random.Random(20261201)
    sources = [p.read_bytes() for p in _stdlib_sources()[::10]]
    sources = [s for s in sources if 0 < len(s) < 40_000]
    alphabet = b" \t\n\r:()[]{}'\"#\\.,;@=xdefclass0123"
    agreed = 0
    for _ in range(600):
        source = rng.choice(sources)
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(source))
            op = rng.random()
            if op < 0.4:
                source = source[:pos] + source[pos + 1:]
            elif op < 0.8:
                source = source[:pos] + bytes([rng.choice(alphabet)]) + source[pos:]
            else:
                source = source[:pos] + source[pos:pos + 40] + source[pos:]
        suspect = cs._pyoutline.outline(source)[2]
        st = extract_structure("python", source)
        if suspect:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue  # a grammar-level error the scanner does not see (documented)
        assert (st.symbols, st.imports) == cs._python_ast(tree)
        agreed += 1
    assert agreed > 100


def test_python_without_the_scanner_takes_the_tree_sitter_path(monkeypatch):
    with_scanner = extract_structure("python", PYTHON)
    monkeypatch.setattr(cs, "_pyoutline", None)
    assert extract_structure("python", PYTHON) == with_scanner
    assert extract_structure("python", b'print "x"\ndef h(): pass\n').error.startswith("SyntaxError line 1")


# --------------------------------------------------------------------------------------
# JavaScript / TypeScript
# --------------------------------------------------------------------------------------

TYPESCRIPT = src('''
    import { Injectable } from '@angular/core';
    import type { User } from "./models/user";
    import * as fs from 'fs';
    import DefaultThing, { helper as h } from '../lib';
    export * from './reexported';
    const path = require('path');

    /**
     * A user repository.
     *
     * @example new UserRepo()
     */
    export interface Repo<T> {
      find(id: string): Promise<T>;
    }

    export type UserId = string;

    export enum Role {
      Admin = 'admin',
      User = 'user',
    }

    @Injectable()
    export class UserRepo implements Repo<User> {
      private cache = new Map<string, User>();

      /** Builds the repo. */
      constructor(private readonly db: Db) {}

      async find(id: string): Promise<User> {
        const { load } = await import('./loader');
        return load(id);
      }

      static create = (db: Db): UserRepo => new UserRepo(db);
    }

    export const formatUser = (u: User): string => {
      const pad = (s: string) => s.padEnd(10);
      return pad(u.name);
    };

    export default function handler(req: Request): Response {
      return new Response(formatUser(req.user));
    }
''')


def test_typescript():
    st = extract_structure("typescript", TYPESCRIPT)
    assert st.error is None
    assert st.symbols == [
        ("interface", "Repo", "Repo", 13, 15, "A user repository.", None),
        ("type", "UserId", "UserId", 17, 17, None, None),
        ("enum", "Role", "Role", 19, 22, None, None),
        ("class", "UserRepo", "UserRepo", 24, 37, None, None),
        ("method", "constructor", "UserRepo.constructor", 29, 29, "Builds the repo.", "UserRepo"),
        ("method", "find", "UserRepo.find", 31, 34, None, "UserRepo"),
        ("method", "create", "UserRepo.create", 36, 36, None, "UserRepo"),
        ("function", "formatUser", "formatUser", 39, 42, None, None),
        ("function", "pad", "formatUser.pad", 40, 40, None, "formatUser"),
        ("function", "handler", "handler", 44, 46, None, None),
    ]
    assert st.imports == [
        ("@angular/core", "Injectable", 1),
        ("./models/user", "User", 2),
        ("fs", "*", 3),
        ("../lib", "default", 4),
        ("../lib", "helper", 4),
        ("./reexported", "*", 5),
        ("path", None, 6),
        ("./loader", None, 32),
    ]


def test_tsx_component():
    st = extract_structure("tsx", src('''
        import React, { useState } from 'react';
        import styles from './App.module.css';

        interface Props {
          title: string;
        }

        /** The main app component. */
        export default function App({ title }: Props) {
          const [count, setCount] = useState(0);
          const increment = () => setCount(count + 1);
          return (
            <div className={styles.app}>
              <h1>{title}</h1>
              <button onClick={increment}>{count}</button>
            </div>
          );
        }

        export const Badge: React.FC<Props> = ({ title }) => <span>{title}</span>;
    '''))
    assert st.error is None
    assert st.symbols == [
        ("interface", "Props", "Props", 4, 6, None, None),
        ("function", "App", "App", 9, 18, "The main app component.", None),
        ("function", "increment", "App.increment", 11, 11, None, "App"),
        ("function", "Badge", "Badge", 20, 20, None, None),
    ]
    assert st.imports == [("react", "default", 1), ("react", "useState", 1), ("./App.module.css", "default", 2)]


def test_typescript_member_decorators_start_the_method():
    st = extract_structure("typescript", src('''
        class A {
          @Input() name: string;
          /** Handles x. */
          @HostListener('x')
          onX() {}
          abstract_like(): void {}
        }
    '''))
    assert st.symbols == [
        ("class", "A", "A", 1, 7, None, None),
        ("method", "onX", "A.onX", 4, 5, "Handles x.", "A"),
        ("method", "abstract_like", "A.abstract_like", 6, 6, None, "A"),
    ]


def test_javascript_commonjs():
    st = extract_structure("javascript", src('''
        'use strict';
        const express = require('express');
        const { join } = require("path");

        /**
         * Creates the router.
         */
        function createRouter(options) {
          const router = express.Router();
          router.get('/', function (req, res) { res.send('ok'); });
          return router;
        }

        class Cache extends Map {
          #hits = 0;
          get(key) {
            this.#hits++;
            return super.get(key);
          }
          static from(entries) {
            return new Cache(entries);
          }
        }

        function* ids() { yield 1; }

        module.exports = function middleware(req, res, next) {
          next();
        };
        module.exports.createRouter = createRouter;
        exports.version = () => '1.0';
    '''))
    assert st.error is None
    assert st.symbols == [
        ("function", "createRouter", "createRouter", 8, 12, "Creates the router.", None),
        ("class", "Cache", "Cache", 14, 23, None, None),
        ("method", "get", "Cache.get", 16, 19, None, "Cache"),
        ("method", "from", "Cache.from", 20, 22, None, "Cache"),
        ("function", "ids", "ids", 25, 25, None, None),
        ("function", "module.exports", "module.exports", 27, 29, None, None),
        ("function", "exports.version", "exports.version", 31, 31, None, None),
    ]
    assert st.imports == [("express", None, 2), ("path", None, 3)]


def test_jsx_default_export_and_dynamic_import():
    st = extract_structure("javascript", src('''
        import React from 'react';

        const Lazy = React.lazy(() => import('./Lazy'));

        export default () => (
          <React.Suspense fallback={null}>
            <Lazy />
          </React.Suspense>
        );

        export default class {
          render() {}
        }
    '''))
    assert st.symbols == [
        ("function", "default", "default", 5, 9, None, None),
        ("class", "default", "default", 11, 13, None, None),
        ("method", "render", "default.render", 12, 12, None, "default"),
    ]
    assert st.imports == [("react", "default", 1), ("./Lazy", None, 3)]


def test_javascript_broken_file():
    st = extract_structure("javascript", src('''
        import a from 'a';

        function good() {
          return 1;
        }

        function bad( {
          return 2;
        }

        class Later {
          m() {}
        }
    '''))
    assert st.error.startswith("SyntaxError line 7: ")
    assert ("function", "good", "good", 3, 5, None, None) in st.symbols
    assert "m" in {s[1] for s in st.symbols}
    assert st.imports == [("a", "default", 1)]


# --------------------------------------------------------------------------------------
# Go, Java, Rust
# --------------------------------------------------------------------------------------

GO = src('''
    // Package server implements the HTTP server.
    package server

    import (
    \t"context"
    \t"fmt"
    \tnethttp "net/http"
    )

    import "os"

    // DefaultPort is the port used when none is configured.
    const DefaultPort = 8080

    // Server serves HTTP.
    //
    // It is safe for concurrent use.
    type Server struct {
    \tAddr string
    \tmux  *nethttp.ServeMux
    }

    // Handler handles one request.
    type Handler interface {
    \tHandle(ctx context.Context) error
    }

    type (
    \t// ID identifies a server.
    \tID      string
    \toptions struct{ debug bool }
    )

    // New returns a server.
    func New(addr string) *Server {
    \treturn &Server{Addr: addr}
    }

    // Start starts the server.
    //go:noinline
    func (s *Server) Start(ctx context.Context) error {
    \tfmt.Println("starting", s.Addr)
    \treturn nil
    }

    var started = false // a trailing comment, not a doc comment
    func (s Server) String() string { return s.Addr }

    func Map[T, U any](xs []T, f func(T) U) []U {
    \tout := make([]U, 0, len(xs))
    \tfor _, x := range xs {
    \t\tout = append(out, f(x))
    \t}
    \treturn out
    }
''')


def test_go():
    st = extract_structure("go", GO)
    assert st.error is None
    assert st.symbols == [
        ("struct", "Server", "Server", 18, 21, "Server serves HTTP.", None),
        ("interface", "Handler", "Handler", 24, 26, "Handler handles one request.", None),
        ("type", "ID", "ID", 30, 30, "ID identifies a server.", None),
        ("struct", "options", "options", 31, 31, None, None),
        ("function", "New", "New", 35, 37, "New returns a server.", None),
        ("method", "Start", "Server.Start", 41, 44, "Start starts the server.", "Server"),
        ("method", "String", "Server.String", 47, 47, None, "Server"),
        ("function", "Map", "Map", 49, 55, None, None),
    ]
    assert st.imports == [("context", None, 5), ("fmt", None, 6), ("net/http", None, 7), ("os", None, 10)]


def test_go_broken_file():
    st = extract_structure("go", src('''
        package main

        import "fmt"

        func ok() {
        \tfmt.Println("ok")
        }

        func broken() {
        \tx :=
        }

        type T struct{}
    '''))
    assert st.error.startswith("SyntaxError line 10: ")
    assert [(s[0], s[1]) for s in st.symbols] == [("function", "ok"), ("function", "broken"), ("struct", "T")]
    assert st.imports == [("fmt", None, 3)]


def test_java():
    st = extract_structure("java", src('''
        package com.aeon.billing;

        import java.util.List;
        import java.util.Map;
        import static java.util.Objects.requireNonNull;
        import com.aeon.core.*;

        /**
         * Computes invoices.
         */
        @Service
        public class InvoiceService extends BaseService implements Billing {
            private final Repo repo;

            /** Creates the service. */
            @Inject
            public InvoiceService(Repo repo) {
                this.repo = requireNonNull(repo);
            }

            @Override
            public List<Invoice> invoices(String customer) {
                return repo.find(customer);
            }

            public enum Status { OPEN, PAID; boolean done() { return this == PAID; } }

            interface Listener {
                void onPaid(Invoice invoice);
            }

            static class Builder {
                Builder() {}

                InvoiceService build() {
                    return null;
                }
            }
        }
    '''))
    assert st.error is None
    assert st.symbols == [
        ("class", "InvoiceService", "InvoiceService", 11, 39, "Computes invoices.", None),
        ("constructor", "InvoiceService", "InvoiceService.InvoiceService", 16, 19, "Creates the service.",
         "InvoiceService"),
        ("method", "invoices", "InvoiceService.invoices", 21, 24, None, "InvoiceService"),
        ("enum", "Status", "InvoiceService.Status", 26, 26, None, "InvoiceService"),
        ("method", "done", "InvoiceService.Status.done", 26, 26, None, "InvoiceService.Status"),
        ("interface", "Listener", "InvoiceService.Listener", 28, 30, None, "InvoiceService"),
        ("method", "onPaid", "InvoiceService.Listener.onPaid", 29, 29, None, "InvoiceService.Listener"),
        ("class", "Builder", "InvoiceService.Builder", 32, 38, None, "InvoiceService"),
        ("constructor", "Builder", "InvoiceService.Builder.Builder", 33, 33, None, "InvoiceService.Builder"),
        ("method", "build", "InvoiceService.Builder.build", 35, 37, None, "InvoiceService.Builder"),
    ]
    assert st.imports == [
        ("java.util", "List", 3),
        ("java.util", "Map", 4),
        ("java.util.Objects", "requireNonNull", 5),
        ("com.aeon.core", "*", 6),
    ]


def test_rust():
    st = extract_structure("rust", src('''
        //! Crate docs.
        use std::collections::HashMap;
        use std::fmt::{self, Display};
        use serde::{Deserialize, Serialize as Ser};
        extern crate log;

        /// A 2D point.
        #[derive(Debug, Clone)]
        pub struct Point {
            pub x: f64,
            pub y: f64,
        }

        /// Shapes have an area.
        pub trait Shape {
            /// The area.
            fn area(&self) -> f64;
            fn name(&self) -> String {
                "shape".into()
            }
        }

        impl Point {
            /// Creates a point.
            pub fn new(x: f64, y: f64) -> Self {
                Point { x, y }
            }
        }

        impl Display for Point {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "({}, {})", self.x, self.y)
            }
        }

        pub enum Kind { A, B }

        fn helper() -> HashMap<String, i32> {
            HashMap::new()
        }

        #[cfg(test)]
        mod tests {
            use super::*;

            #[test]
            fn it_works() {
                assert_eq!(helper().len(), 0);
            }
        }
    '''))
    assert st.error is None
    assert st.symbols == [
        ("struct", "Point", "Point", 8, 12, "A 2D point.", None),
        ("trait", "Shape", "Shape", 15, 21, "Shapes have an area.", None),
        ("method", "area", "Shape.area", 17, 17, "The area.", "Shape"),
        ("method", "name", "Shape.name", 18, 20, None, "Shape"),
        ("impl", "Point", "Point", 23, 28, None, None),
        ("method", "new", "Point.new", 25, 27, "Creates a point.", "Point"),
        ("impl", "Display for Point", "Display for Point", 30, 34, None, None),
        ("method", "fmt", "Display for Point.fmt", 31, 33, None, "Display for Point"),
        ("enum", "Kind", "Kind", 36, 36, None, None),
        ("function", "helper", "helper", 38, 40, None, None),
        ("module", "tests", "tests", 42, 50, None, None),
        ("function", "it_works", "tests.it_works", 46, 49, None, "tests"),
    ]
    assert st.imports == [
        ("std::collections", "HashMap", 2),
        ("std::fmt", None, 3),
        ("std::fmt", "Display", 3),
        ("serde", "Deserialize", 4),
        ("serde", "Serialize", 4),
        ("log", None, 5),
        ("super", "*", 44),
    ]


def test_rust_generic_impl_name():
    st = extract_structure("rust", b"impl<T: Clone> Stack<T> {\n    fn push(&mut self, v: T) {}\n}\n")
    assert st.symbols == [
        ("impl", "Stack", "Stack", 1, 3, None, None),
        ("method", "push", "Stack.push", 2, 2, None, "Stack"),
    ]


# --------------------------------------------------------------------------------------
# shell, HCL
# --------------------------------------------------------------------------------------

def test_shell_both_function_syntaxes_and_source():
    st = extract_structure("shell", src('''
        #!/usr/bin/env bash
        set -euo pipefail
        source ./lib/common.sh
        . "${HOME}/.config/env"

        # Prints usage.
        usage() {
          echo "usage: $0 <cmd>"
        }

        function deploy {
          local target=$1
          log() {
            echo "[deploy] $*"
          }
          log "deploying $target"
        }

        function cleanup() {
          rm -rf "$TMP"
        }

        main() { usage; }
        main "$@"
    '''))
    assert st.error is None
    assert st.symbols == [
        ("function", "usage", "usage", 7, 9, None, None),
        ("function", "deploy", "deploy", 11, 17, None, None),
        ("function", "log", "deploy.log", 13, 15, None, "deploy"),
        ("function", "cleanup", "cleanup", 19, 21, None, None),
        ("function", "main", "main", 23, 23, None, None),
    ]
    assert st.imports == [("./lib/common.sh", None, 3), ("${HOME}/.config/env", None, 4)]


TERRAFORM = src('''
    terraform {
      required_version = ">= 1.5"
      required_providers {
        aws = {
          source  = "hashicorp/aws"
          version = "~> 5.0"
        }
      }
    }

    provider "aws" {
      region = var.region
    }

    variable "region" {
      type        = string
      description = "AWS region to deploy into."
      default     = "eu-west-1"
    }

    resource "aws_s3_bucket" "logs" {
      bucket = "aeon-logs"

      lifecycle {
        prevent_destroy = true
      }
    }

    module "vpc" {
      source  = "terraform-aws-modules/vpc/aws"
      version = "5.1.0"
      cidr    = "10.0.0.0/16"
    }

    module "local_net" {
      source = "./modules/net"
    }

    data "aws_iam_policy_document" "read" {
      statement {
        actions = ["s3:GetObject"]
      }
    }

    locals {
      name = "aeon"
    }

    output "bucket_arn" {
      description = "ARN of the log bucket"
      value       = aws_s3_bucket.logs.arn
    }
''')


def test_terraform_blocks():
    st = extract_structure("hcl", TERRAFORM)
    assert st.error is None
    assert st.symbols == [
        ("terraform", "terraform", "terraform", 1, 9, None, None),
        ("provider", "aws", "aws", 11, 13, None, None),
        ("variable", "region", "region", 15, 19, "AWS region to deploy into.", None),
        ("resource", "aws_s3_bucket.logs", "aws_s3_bucket.logs", 21, 27, None, None),
        ("module", "vpc", "vpc", 29, 33, None, None),
        ("module", "local_net", "local_net", 35, 37, None, None),
        ("data", "aws_iam_policy_document.read", "aws_iam_policy_document.read", 39, 43, None, None),
        ("locals", "locals", "locals", 45, 47, None, None),
        ("output", "bucket_arn", "bucket_arn", 49, 52, "ARN of the log bucket", None),
    ]
    # Only module sources are imports (required_providers' source is not a module).
    assert st.imports == [("terraform-aws-modules/vpc/aws", None, 30), ("./modules/net", None, 36)]


def test_terraform_broken_file():
    st = extract_structure("hcl", src('''
        resource "aws_s3_bucket" "a" {
          bucket = "a"
        }

        resource "aws_s3_bucket" "b" {
          bucket =
        }

        variable "x" {}
    '''))
    assert st.error.startswith("SyntaxError line 6: ")
    assert [s[1] for s in st.symbols] == ["aws_s3_bucket.a", "aws_s3_bucket.b", "x"]


# --------------------------------------------------------------------------------------
# robustness, API
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_garbage_never_raises(language):
    junk = bytes(range(256)) * 8 + b"\n}}}(((\n" + os.urandom(2000)
    st = extract_structure(language, junk)
    assert isinstance(st, Structure)
    assert st.error is not None and st.error.startswith("SyntaxError line ")
    assert extract_structure(language, b"") == Structure([], [], None)
    assert extract_structure(language, b"\n  \n") == Structure([], [], None)


@pytest.mark.parametrize("language, source", [
    ("rust", b"fn ok() {}\nfn bad( { }\nstruct S;\n"),
    ("java", b"class A {\n  void f() {\n}\n"),
    ("shell", b"f() {\n  echo (\n}\n"),
    ("tsx", b"const A = () => <div>;\n"),
])
def test_other_broken_files_report_a_line(language, source):
    st = extract_structure(language, source)
    assert st.error is not None and st.error.startswith("SyntaxError line ")
    assert int(st.error.split()[2].rstrip(":")) >= 1


def test_unknown_language_and_oversized_source():
    with pytest.raises(ValueError):
        extract_structure("cobol", b"x")
    big = b"x = 1\n" * (cs.MAX_SOURCE_BYTES // 6 + 1)
    st = extract_structure("python", big)
    assert st.symbols == [] and st.error.startswith("skipped:")


def test_constants_and_no_dagster_import():
    assert isinstance(EXTRACTOR_VERSION, int) and EXTRACTOR_VERSION >= 1
    assert LANGUAGES == {"python", "javascript", "typescript", "tsx", "go", "java", "rust", "shell", "hcl"}
    code = ("import sys; from anfl_assets.domain.enrich import code_structure as c; "
            "c.extract_structure('python', b'def f(): pass\\n'); "
            "assert not any(m == 'dagster' or m.startswith('dagster.') for m in sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("path, file_type, expected", [
    ("src/app.py", "python", "python"),
    ("stubs/app.pyi", None, "python"),
    ("bin/manage", "python", "python"),          # shebang type, no extension
    ("bin/deploy", "shell", "shell"),
    ("web/index.js", "javascript", "javascript"),
    ("web/index.mjs", "javascript", "javascript"),
    ("web/index.cjs", "text", "javascript"),       # the sniffer has no type for .cjs
    ("web/App.jsx", "javascript", "javascript"),
    ("web/app.ts", "typescript", "typescript"),
    ("web/App.tsx", "typescript", "tsx"),
    ("web/App.tsx", None, "tsx"),
    ("cmd/main.go", "go", "go"),
    ("src/Main.java", "java", "java"),
    ("src/lib.rs", "rust", "rust"),
    ("scripts/run.sh", "shell", "shell"),
    ("scripts/run.bash", None, "shell"),
    ("infra/main.tf", "terraform", "hcl"),
    ("infra/prod.tfvars", "terraform", "hcl"),
    ("infra/packer.hcl", "hcl", "hcl"),
    ("README.md", "markdown", None),
    ("data.json", "json", None),
    ("model.py", "binary", None),                  # content decides: not code
    ("run.sh", "perl", None),                      # a perl shebang in a .sh file
    ("notes", None, None),
    ("Makefile", "makefile", None),
])
def test_language_for(path, file_type, expected):
    assert language_for(path, file_type) == expected
    assert expected is None or expected in LANGUAGES


# --------------------------------------------------------------------------------------
# cross-check against ast on the sample estate
# --------------------------------------------------------------------------------------

def _ast_top_level(tree: ast.Module) -> set[tuple[str, str]]:
    """Functions and classes not nested in another function or class (including those under
    module-level if/try/with blocks)."""
    out = set()
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.add(("function", node.name))
        elif isinstance(node, ast.ClassDef):
            out.add(("class", node.name))
        else:
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                stack.extend(getattr(node, field, None) or ())
    return out


@pytest.fixture(scope="module")
def demo_estate(tmp_path_factory) -> Path:
    from anfl_assets.domain.demo_estate import write_demo_estate

    out = tmp_path_factory.mktemp("code_structure_demo")
    write_demo_estate(out)
    return out / "AeonNovaProject"


def test_sample_estate_python_matches_ast(demo_estate):
    py_files = [p for p in demo_estate.rglob("*.py") if ".git" not in p.parts and p.is_file()]
    assert len(py_files) >= 10
    for path in py_files:
        source = path.read_bytes()
        st = extract_structure(language_for(str(path), "python"), source)
        tree = ast.parse(source)
        assert st.error is None, path
        top = {(k, n) for k, n, _, _, _, _, parent in st.symbols if parent is None}
        assert top == _ast_top_level(tree), path
        # The whole result, not only the top level, equals what the ast path computes.
        assert (st.symbols, st.imports) == cs._python_ast(tree), path


def test_sample_estate_code_files_parse(demo_estate):
    from anfl_assets.domain.sniff import sniff

    seen = set()
    for path in demo_estate.rglob("*"):
        if ".git" in path.parts or not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        lang = language_for(str(path), sniff(data[:8192], path.name, len(data)).file_type)
        if lang is None:
            continue
        st = extract_structure(lang, data)
        seen.add(lang)
        assert st.error is None, (path, st.error)
        for kind, name, qual, start, end, _doc, parent in st.symbols:
            assert 1 <= start <= end <= data.count(b"\n") + 1, (path, name)
            assert qual == (f"{parent}.{name}" if parent else name)
    assert {"python", "javascript", "hcl", "shell"} <= seen
    main_tf = extract_structure("hcl", (demo_estate / "infrastructure/terraform/main.tf").read_bytes())
    assert any(kind == "module" for kind, *_ in main_tf.symbols)
    assert main_tf.imports
