/* Python outline scanner: the functions, classes and methods of a Python source and its imports,
 * from one pass of a tokenizer that follows Python 3.11's lexical rules.
 *
 * Why: on an estate, Python is most of the code bytes, and a full parse (`ast.parse`, or
 * tree-sitter-python) costs 6-12 MB/s per core, most of the enrichment's time. The outline only
 * needs tokens, brackets and indentation, which a tokenizer gets at a few hundred MB/s.
 *
 * The result is exact where the source is valid Python: code_structure.py checks it against
 * `ast` file by file in the tests (the standard library, the installed packages, the sample
 * estate). Anything this pass cannot vouch for sets `suspect`, and the caller then lets `ast`
 * decide: lexical errors (unterminated strings, stray characters, unbalanced brackets, bad
 * string prefixes or numbers), indentation errors (unexpected indent, missing block, unindent
 * mismatch, tabs mixed inconsistently), two atoms side by side (`print "x"`, `exec code`,
 * `10L`, `(a) b`), Python 2 forms (`except E, e:`, `raise E, m`, backquotes, `<>`, tuple
 * parameters), a colon that ends no header nor starts an annotation, incomplete escapes, malformed
 * imports, decorators or headers, a coding cookie other than UTF-8, undecodable bytes and NULs.
 * Syntax errors that need a grammar (`f() = 1`) are not seen here.
 *
 * outline(source: bytes) -> (symbols, imports, suspect: bool)
 *   symbols: [(kind, name, qualified_name, start_line, end_line, doc, parent_qualified_name)]
 *            kind is class | function | method; start_line is the first decorator's; end_line
 *            the last line of the body's last token; doc is None, the first non-blank line of
 *            the docstring (str), or, when escapes or non-ASCII text need Python's rules, the
 *            docstring literal's source (bytes) for the caller to evaluate.
 *   imports: [(module, name_or_None, line)], `from . import x` -> ('.', 'x'), `*` for a star.
 * Names are returned as written; a non-ASCII identifier is NFKC-normalised by the caller.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { K_NAME = 1, K_NUMBER, K_STRING, K_OP };

/* String flags */
#define SF_BYTES 1
#define SF_F 2
#define SF_RAW 4
#define SF_BACKSLASH 8
#define SF_SPECIAL 16 /* non-ASCII or whitespace that Python's str.strip/splitlines treat specially */

/* Keywords (hard, plus the soft match/case) */
enum {
    KW_NONE = 0, KW_FALSE, KW_NONEV, KW_TRUE, KW_AND, KW_AS, KW_ASSERT, KW_ASYNC, KW_AWAIT,
    KW_BREAK, KW_CLASS, KW_CONTINUE, KW_DEF, KW_DEL, KW_ELIF, KW_ELSE, KW_EXCEPT, KW_FINALLY,
    KW_FOR, KW_FROM, KW_GLOBAL, KW_IF, KW_IMPORT, KW_IN, KW_IS, KW_LAMBDA, KW_NONLOCAL, KW_NOT,
    KW_OR, KW_PASS, KW_RAISE, KW_RETURN, KW_TRY, KW_WHILE, KW_WITH, KW_YIELD,
    KW_MATCH, KW_CASE /* soft */
};

static const struct { const char *s; int id; } KEYWORDS[] = {
    {"False", KW_FALSE}, {"None", KW_NONEV}, {"True", KW_TRUE}, {"and", KW_AND}, {"as", KW_AS},
    {"assert", KW_ASSERT}, {"async", KW_ASYNC}, {"await", KW_AWAIT}, {"break", KW_BREAK},
    {"class", KW_CLASS}, {"continue", KW_CONTINUE}, {"def", KW_DEF}, {"del", KW_DEL},
    {"elif", KW_ELIF}, {"else", KW_ELSE}, {"except", KW_EXCEPT}, {"finally", KW_FINALLY},
    {"for", KW_FOR}, {"from", KW_FROM}, {"global", KW_GLOBAL}, {"if", KW_IF},
    {"import", KW_IMPORT}, {"in", KW_IN}, {"is", KW_IS}, {"lambda", KW_LAMBDA},
    {"nonlocal", KW_NONLOCAL}, {"not", KW_NOT}, {"or", KW_OR}, {"pass", KW_PASS},
    {"raise", KW_RAISE}, {"return", KW_RETURN}, {"try", KW_TRY}, {"while", KW_WHILE},
    {"with", KW_WITH}, {"yield", KW_YIELD}, {"match", KW_MATCH}, {"case", KW_CASE},
    {NULL, 0}};

typedef struct {
    Py_ssize_t s, e;   /* token bytes [s, e) */
    Py_ssize_t cs, ce; /* string content */
    int line, eline;   /* first and last line */
    unsigned char kind, op, flags, kw;
} tok_t;

typedef struct {
    PyObject *name, *qual, *parent, *doc; /* owned */
    const char *kind;
    int start, end, col, is_class;
} sym_t;

typedef struct {
    const unsigned char *b;
    Py_ssize_t n, p;
    int line;
    int suspect;
    tok_t *toks;
    Py_ssize_t ntok, tcap;
    sym_t *syms;
    Py_ssize_t nsym, scap;
    Py_ssize_t open[256]; /* symbols whose indented block is open, innermost last */
    int nopen;
    int ind_col[256], ind_alt[256], nind;
    int expect_block;   /* the previous logical line ended with a block-opening colon */
    int pending_dec;    /* line of the first decorator waiting for its def/class, or 0 */
    Py_ssize_t doc_for; /* symbol whose block's first statement may be its docstring, or -1 */
    int last_code_line; /* last line holding a token of the previous logical line */
    PyObject *imports;
    int error; /* a Python exception is set */
} scan_t;

static int is_name_start(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}
static int is_name_char(unsigned char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

static int keyword_of(const unsigned char *s, Py_ssize_t len) {
    if (len < 2 || len > 8 || s[0] >= 0x80) return KW_NONE;
    for (int i = 0; KEYWORDS[i].s; i++)
        if ((Py_ssize_t)strlen(KEYWORDS[i].s) == len && memcmp(KEYWORDS[i].s, s, len) == 0)
            return KEYWORDS[i].id;
    return KW_NONE;
}

/* An atom: a name that is not a keyword (True/False/None count), a number or a string. */
static int is_atom(const tok_t *t) {
    if (t->kind == K_NUMBER || t->kind == K_STRING) return 1;
    if (t->kind != K_NAME) return 0;
    return t->kw == KW_NONE || t->kw == KW_TRUE || t->kw == KW_FALSE || t->kw == KW_NONEV ||
           t->kw == KW_MATCH || t->kw == KW_CASE;
}

/* Room for one more item in a growable array: 0, or -1 with MemoryError set. */
static int grow(scan_t *S, void **items, Py_ssize_t *cap, Py_ssize_t n, size_t size, Py_ssize_t first_cap) {
    if (n < *cap) return 0;
    Py_ssize_t new_cap = *cap ? *cap * 2 : first_cap;
    void *grown = realloc(*items, new_cap * size);
    if (!grown) { PyErr_NoMemory(); S->error = 1; return -1; }
    *items = grown;
    *cap = new_cap;
    return 0;
}

static tok_t *push_tok(scan_t *S) {
    if (grow(S, (void **)&S->toks, &S->tcap, S->ntok, sizeof(tok_t), 256) < 0) return NULL;
    tok_t *t = &S->toks[S->ntok++];
    memset(t, 0, sizeof(*t));
    return t;
}

/* Consume one newline (\n, \r\n or \r) at p, if any. */
static int eat_newline(scan_t *S) {
    const unsigned char *b = S->b;
    if (S->p < S->n && b[S->p] == '\r') {
        S->p++;
        if (S->p < S->n && b[S->p] == '\n') S->p++;
        S->line++;
        return 1;
    }
    if (S->p < S->n && b[S->p] == '\n') {
        S->p++;
        S->line++;
        return 1;
    }
    return 0;
}

/* A string literal whose prefix is b[ps, p) and whose opening quote is at p. */
static void lex_string(scan_t *S, tok_t *t, Py_ssize_t ps) {
    const unsigned char *b = S->b;
    Py_ssize_t n = S->n;
    for (Py_ssize_t i = ps; i < S->p; i++) {
        unsigned char c = b[i] | 0x20;
        if (c == 'b') t->flags |= SF_BYTES;
        else if (c == 'f') t->flags |= SF_F;
        else if (c == 'r') t->flags |= SF_RAW;
    }
    unsigned char q = b[S->p];
    int triple = S->p + 2 < n && b[S->p + 1] == q && b[S->p + 2] == q;
    S->p += triple ? 3 : 1;
    t->cs = S->p;
    for (;;) {
        if (S->p >= n) { S->suspect = 1; t->ce = n; break; } /* unterminated */
        unsigned char c = b[S->p];
        if (c == '\\') {
            t->flags |= SF_BACKSLASH;
            S->p++;
            if (eat_newline(S) || S->p >= n) continue;
            if (!(t->flags & SF_RAW)) { /* \x.. \u.... \U........ \N{...} must be complete */
                unsigned char e = b[S->p];
                int want = e == 'x' ? 2 : ((e == 'u' || e == 'U') && !(t->flags & SF_BYTES)) ? (e == 'u' ? 4 : 8) : 0;
                for (int k = 1; k <= want; k++) {
                    unsigned char h = S->p + k < n ? b[S->p + k] : 0;
                    if (!((h >= '0' && h <= '9') || ((h | 0x20) >= 'a' && (h | 0x20) <= 'f'))) { S->suspect = 1; break; }
                }
                if (e == 'N' && !(t->flags & SF_BYTES) && (S->p + 1 >= n || b[S->p + 1] != '{')) S->suspect = 1;
            }
            S->p++;
            continue;
        }
        if (c == q) {
            if (!triple) { t->ce = S->p; S->p++; break; }
            if (S->p + 2 < n && b[S->p + 1] == q && b[S->p + 2] == q) { t->ce = S->p; S->p += 3; break; }
            S->p++;
            continue;
        }
        if (c == '\n' || c == '\r') {
            if (!triple) { S->suspect = 1; t->ce = S->p; break; } /* EOL in a one-line string */
            eat_newline(S);
            continue;
        }
        if (c >= 0x80 || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1f)) t->flags |= SF_SPECIAL;
        S->p++;
    }
    t->kind = K_STRING;
    t->e = S->p;
}

static void lex_number(scan_t *S, tok_t *t) {
    const unsigned char *b = S->b;
    Py_ssize_t n = S->n, p = S->p;
    int radix = 0;
    if (b[p] == '0' && p + 1 < n) {
        unsigned char x = b[p + 1] | 0x20;
        if (x == 'x' || x == 'o' || x == 'b') radix = x;
    }
    if (radix) {
        p += 2;
        while (p < n && (is_name_char(b[p]))) {
            unsigned char c = b[p] == '_' ? '_' : (b[p] | 0x20);
            int ok = c == '_' || (c >= '0' && c <= '9') || (radix == 'x' && c >= 'a' && c <= 'f');
            if (!ok || (radix == 'o' && c > '7' && c != '_') || (radix == 'b' && c > '1' && c != '_'))
                S->suspect = 1;
            p++;
        }
    } else {
        Py_ssize_t digits_start = p;
        int seen_dot = 0, seen_exp = 0, nonzero_lead = 0, only_int = 1;
        while (p < n) {
            unsigned char c = b[p];
            if ((c >= '0' && c <= '9') || c == '_') { p++; continue; }
            if (c == '.' && !seen_dot && !seen_exp) { seen_dot = 1; only_int = 0; p++; continue; }
            if ((c | 0x20) == 'e' && !seen_exp) {
                Py_ssize_t q = p + 1;
                if (q < n && (b[q] == '+' || b[q] == '-')) q++;
                if (q < n && b[q] >= '0' && b[q] <= '9') { seen_exp = 1; only_int = 0; p = q; continue; }
                break;
            }
            break;
        }
        if (p < n && (b[p] | 0x20) == 'j') { p++; only_int = 0; }
        /* Python 2 octal (0777): a decimal integer with a leading zero and a non-zero digit */
        if (only_int && b[digits_start] == '0') {
            for (Py_ssize_t i = digits_start; i < p; i++)
                if (b[i] >= '1' && b[i] <= '9') nonzero_lead = 1;
            if (nonzero_lead) S->suspect = 1;
        }
        if (p < n && is_name_char(b[p])) S->suspect = 1; /* 10L, 1if: let ast decide */
    }
    S->p = p;
    t->kind = K_NUMBER;
    t->e = p;
}

/* Tokens of one logical line into S->toks. Returns 0 at end of input (no tokens), 1 otherwise.
 * col, alt: the line's indentation with tabs to multiples of 8 and of 1. */
static int read_logical_line(scan_t *S, int *col, int *alt) {
    const unsigned char *b = S->b;
    Py_ssize_t n = S->n;
    S->ntok = 0;
    /* indentation; skip blank and comment-only lines */
    for (;;) {
        if (S->p >= n) return 0;
        int c8 = 0, c1 = 0;
        while (S->p < n) {
            unsigned char c = b[S->p];
            if (c == ' ') { c8++; c1++; }
            else if (c == '\t') { c8 = (c8 / 8 + 1) * 8; c1++; }
            else if (c == '\f') { c8 = c1 = 0; }
            else break;
            S->p++;
        }
        if (S->p >= n) return 0;
        unsigned char c = b[S->p];
        if (c == '#') {
            while (S->p < n && b[S->p] != '\n' && b[S->p] != '\r') S->p++;
            eat_newline(S);
            continue;
        }
        if (c == '\n' || c == '\r') { eat_newline(S); continue; }
        if (c == '\\') {
            /* a line joined to the next right after its indentation: unusual, let ast rule */
            S->suspect = 1;
        }
        *col = c8;
        *alt = c1;
        break;
    }
    char brackets[200];
    int depth = 0;
    for (;;) {
        while (S->p < n && (b[S->p] == ' ' || b[S->p] == '\t' || b[S->p] == '\f')) S->p++;
        if (S->p >= n) {
            if (depth) S->suspect = 1; /* EOF inside brackets */
            return 1;
        }
        unsigned char c = b[S->p];
        if (c == '#') {
            while (S->p < n && b[S->p] != '\n' && b[S->p] != '\r') S->p++;
            continue;
        }
        if (c == '\n' || c == '\r') {
            eat_newline(S);
            if (depth) continue;
            return 1;
        }
        if (c == '\\') {
            S->p++;
            if (!eat_newline(S)) { S->suspect = 1; }
            continue;
        }
        tok_t *t = push_tok(S);
        if (!t) return 0;
        t->s = S->p;
        t->line = S->line;
        if (is_name_start(c)) {
            Py_ssize_t ps = S->p;
            while (S->p < n && is_name_char(b[S->p])) S->p++;
            Py_ssize_t len = S->p - ps;
            if (S->p < n && (b[S->p] == '\'' || b[S->p] == '"') && len <= 2) {
                /* a string prefix: r u b f br rb fr rf, any case */
                int ok = 1, has_u = 0, has_b = 0, has_f = 0, has_r = 0;
                for (Py_ssize_t i = ps; i < S->p; i++) {
                    unsigned char x = b[i] | 0x20;
                    if (x == 'u') has_u++;
                    else if (x == 'b') has_b++;
                    else if (x == 'f') has_f++;
                    else if (x == 'r') has_r++;
                    else ok = 0;
                }
                if (has_u && len > 1) ok = 0;
                if (has_b + has_f > 1 || has_r > 1 || has_u > 1 || b[ps] >= 0x80) ok = 0;
                if (ok) {
                    lex_string(S, t, ps);
                    t->eline = S->line;
                    continue;
                }
            }
            for (Py_ssize_t i = ps; i < S->p; i++)
                if (b[i] >= 0x80) { S->suspect = 1; break; } /* NFKC and XID rules: ast's call */
            t->kind = K_NAME;
            t->e = S->p;
            t->kw = (unsigned char)keyword_of(b + ps, len);
            t->eline = S->line;
            continue;
        }
        if (c == '\'' || c == '"') {
            lex_string(S, t, S->p);
            t->eline = S->line;
            continue;
        }
        if ((c >= '0' && c <= '9') || (c == '.' && S->p + 1 < n && b[S->p + 1] >= '0' && b[S->p + 1] <= '9')) {
            lex_number(S, t);
            t->eline = S->line;
            continue;
        }
        t->kind = K_OP;
        t->eline = S->line;
        unsigned char d = S->p + 1 < n ? b[S->p + 1] : 0;
        switch (c) {
        case '(': case '[': case '{':
            if (depth >= 200) S->suspect = 1; else brackets[depth] = (char)c;
            depth++;
            t->op = c;
            S->p++;
            break;
        case ')': case ']': case '}': {
            char want = c == ')' ? '(' : c == ']' ? '[' : '{';
            if (depth == 0 || (depth <= 200 && brackets[depth - 1] != want)) S->suspect = 1;
            if (depth) depth--;
            t->op = c;
            S->p++;
            break;
        }
        case ':':
            if (d == '=') { t->op = 'W'; S->p += 2; }
            else { t->op = ':'; S->p++; }
            break;
        case '.':
            if (d == '.' && S->p + 2 < n && b[S->p + 2] == '.') { t->op = 'E'; S->p += 3; }
            else { t->op = '.'; S->p++; }
            break;
        case '-':
            if (d == '>') { t->op = 'A'; S->p += 2; }
            else { t->op = 'o'; S->p += d == '=' ? 2 : 1; }
            break;
        case '<':
            if (d == '>') S->suspect = 1; /* Python 2 `<>` */
            t->op = 'o';
            S->p += (d == '<' || d == '=' || d == '>') ? 2 : 1;
            if (d == '<' && S->p < n && b[S->p] == '=') S->p++;
            break;
        case '>':
            t->op = 'o';
            S->p += (d == '>' || d == '=') ? 2 : 1;
            if (d == '>' && S->p < n && b[S->p] == '=') S->p++;
            break;
        case '*': case '/':
            t->op = (c == '*' && d != '*' && d != '=') ? '*' : 'o';
            if (d == c) { S->p += 2; if (S->p < n && b[S->p] == '=') S->p++; }
            else S->p += d == '=' ? 2 : 1;
            break;
        case '=':
            t->op = d == '=' ? 'o' : '=';
            S->p += d == '=' ? 2 : 1;
            break;
        case '!':
            if (d != '=') S->suspect = 1;
            t->op = 'o';
            S->p += d == '=' ? 2 : 1;
            break;
        case ';': case ',': case '@':
            t->op = c;
            S->p += (c == '@' && d == '=') ? 2 : 1;
            if (c == '@' && d == '=') t->op = 'o';
            break;
        case '+': case '%': case '&': case '|': case '^':
            t->op = 'o';
            S->p += d == '=' ? 2 : 1;
            break;
        case '~':
            t->op = 'o';
            S->p++;
            break;
        default: /* `$ ? backquote` and control characters: not Python */
            S->suspect = 1;
            t->op = 'o';
            S->p++;
            break;
        }
    }
}

static int is_op(const tok_t *t, unsigned char op) { return t->kind == K_OP && t->op == op; }

/* Index of the colon that ends a compound statement's header starting at token i (depth 0, not
 * a lambda's), or -1. `except_check`: a comma at depth 0 is Python 2's `except E, e:`.
 * `def_params`: a parameter that starts with `(` is Python 2's tuple parameter. */
static Py_ssize_t header_colon(scan_t *S, Py_ssize_t i, int except_check, int def_params) {
    int depth = 0, lambdas = 0, in_params = 0;
    for (Py_ssize_t j = i; j < S->ntok; j++) {
        tok_t *t = &S->toks[j];
        if (t->kind == K_OP) {
            switch (t->op) {
            case '(': case '[': case '{':
                if (in_params && depth == 1 && t->op == '(' &&
                    (is_op(&S->toks[j - 1], '(') || is_op(&S->toks[j - 1], ',')))
                    S->suspect = 1;
                if (def_params && j == i && t->op == '(') in_params = 1;
                depth++;
                break;
            case ')': case ']': case '}':
                depth--;
                if (depth == 0) in_params = 0;
                break;
            case ':':
                if (depth == 0) {
                    if (lambdas) lambdas--;
                    else return j;
                }
                break;
            case ';':
                if (depth == 0) return -1;
                break;
            case ',':
                if (depth == 0 && except_check) S->suspect = 1;
                break;
            }
        } else if (t->kind == K_NAME && t->kw == KW_LAMBDA && depth == 0) {
            lambdas++;
        }
    }
    return -1;
}

/* End of the simple statement starting at i: the index of the `;` at depth 0, or ntok. */
static Py_ssize_t statement_end(scan_t *S, Py_ssize_t i) {
    int depth = 0;
    for (Py_ssize_t j = i; j < S->ntok; j++) {
        tok_t *t = &S->toks[j];
        if (t->kind != K_OP) continue;
        if (t->op == '(' || t->op == '[' || t->op == '{') depth++;
        else if (t->op == ')' || t->op == ']' || t->op == '}') depth--;
        else if (t->op == ';' && depth == 0) return j;
    }
    return S->ntok;
}

static PyObject *tok_str(scan_t *S, const tok_t *t) {
    return PyUnicode_DecodeUTF8((const char *)S->b + t->s, t->e - t->s, "replace");
}

/* The source of string tokens [first, last), in parentheses so that parts on several lines
 * evaluate as one expression: for the caller's ast.literal_eval. */
static PyObject *literal_source(scan_t *S, Py_ssize_t first, Py_ssize_t last) {
    tok_t *a = &S->toks[first], *z = &S->toks[last - 1];
    Py_ssize_t len = z->e - a->s;
    PyObject *out = PyBytes_FromStringAndSize(NULL, len + 2);
    if (!out) return NULL;
    char *o = PyBytes_AS_STRING(out);
    o[0] = '(';
    memcpy(o + 1, S->b + a->s, len);
    o[len + 1] = ')';
    return out;
}

/* The docstring of the statement starting at token i, or Py_None (new reference). */
static PyObject *docstring_at(scan_t *S, Py_ssize_t i) {
    Py_ssize_t j = i, end = statement_end(S, i);
    int parens = 0;
    while (j < end && is_op(&S->toks[j], '(')) { parens++; j++; }
    Py_ssize_t first = j;
    int need_python = 0;
    while (j < end && S->toks[j].kind == K_STRING) {
        tok_t *t = &S->toks[j];
        if (t->flags & (SF_F | SF_BYTES)) Py_RETURN_NONE; /* JoinedStr / bytes: not a docstring */
        if ((t->flags & SF_SPECIAL) || ((t->flags & SF_BACKSLASH) && !(t->flags & SF_RAW))) need_python = 1;
        j++;
    }
    Py_ssize_t last = j;
    if (last == first) Py_RETURN_NONE;
    for (int k = 0; k < parens; k++, j++)
        if (j >= end || !is_op(&S->toks[j], ')')) Py_RETURN_NONE;
    if (j != end) Py_RETURN_NONE;
    if (need_python) return literal_source(S, first, last);
    /* ASCII, no escapes: the first non-blank line of the concatenated parts, stripped */
    const unsigned char *b = S->b;
    Py_ssize_t k = first;
    Py_ssize_t p = S->toks[k].cs;
    char line[512];
    Py_ssize_t ll = 0;
    int overflow = 0;
    for (;;) {
        if (p >= S->toks[k].ce) {
            if (++k >= last) break;
            p = S->toks[k].cs;
            continue;
        }
        unsigned char c = b[p++];
        if (c == '\n' || c == '\r') {
            while (ll && (line[ll - 1] == ' ' || line[ll - 1] == '\t')) ll--;
            if (ll || overflow) break;
            continue;
        }
        if (ll == 0 && (c == ' ' || c == '\t')) continue;
        if (ll < (Py_ssize_t)sizeof(line)) line[ll++] = (char)c;
        else { overflow = 1; break; }
    }
    if (overflow) return literal_source(S, first, last); /* a very long first line: Python cuts it */
    while (ll && (line[ll - 1] == ' ' || line[ll - 1] == '\t')) ll--;
    if (!ll) Py_RETURN_NONE;
    return PyUnicode_DecodeASCII(line, ll, "strict");
}

static int add_import(scan_t *S, PyObject *module, PyObject *name, int line) {
    PyObject *t = Py_BuildValue("(OOi)", module, name ? name : Py_None, line);
    if (!t) return -1;
    int r = PyList_Append(S->imports, t);
    Py_DECREF(t);
    return r;
}

/* A dotted name starting at token *j: its text ("a.b.c"), or NULL with *j unchanged when there
 * is none. Sets S->error on a Python error. */
static PyObject *dotted_name(scan_t *S, Py_ssize_t *j, Py_ssize_t end) {
    Py_ssize_t k = *j;
    if (k >= end || S->toks[k].kind != K_NAME ||
        (S->toks[k].kw && S->toks[k].kw != KW_MATCH && S->toks[k].kw != KW_CASE))
        return NULL;
    char small[256];
    char *buf = small;
    Py_ssize_t len = 0, cap = sizeof(small);
    for (;;) {
        tok_t *t = &S->toks[k];
        Py_ssize_t tl = t->e - t->s;
        if (len + tl + 1 > cap) {
            Py_ssize_t ncap = (len + tl + 1) * 2;
            char *nb = buf == small ? malloc(ncap) : realloc(buf, ncap);
            if (!nb) { if (buf != small) free(buf); PyErr_NoMemory(); S->error = 1; return NULL; }
            if (buf == small) memcpy(nb, small, len);
            buf = nb;
            cap = ncap;
        }
        memcpy(buf + len, S->b + t->s, tl);
        len += tl;
        k++;
        if (k + 1 < end && is_op(&S->toks[k], '.') && S->toks[k + 1].kind == K_NAME &&
            (!S->toks[k + 1].kw || S->toks[k + 1].kw == KW_MATCH || S->toks[k + 1].kw == KW_CASE)) {
            buf[len++] = '.';
            k++;
            continue;
        }
        break;
    }
    PyObject *out = PyUnicode_DecodeUTF8(buf, len, "replace");
    if (buf != small) free(buf);
    if (!out) { S->error = 1; return NULL; }
    *j = k;
    return out;
}

static int plain_name(const tok_t *t) {
    return t->kind == K_NAME && (!t->kw || t->kw == KW_MATCH || t->kw == KW_CASE);
}

/* `import a.b as c, d` or `from ..x import (y as z, w)` at token i, ending at `end`. */
static void parse_import(scan_t *S, Py_ssize_t i, Py_ssize_t end) {
    int line = S->toks[i].line;
    Py_ssize_t j = i + 1;
    if (S->toks[i].kw == KW_IMPORT) {
        for (;;) {
            PyObject *mod = dotted_name(S, &j, end);
            if (!mod) { if (!S->error) S->suspect = 1; return; }
            int r = add_import(S, mod, NULL, line);
            Py_DECREF(mod);
            if (r < 0) { S->error = 1; return; }
            if (j < end && S->toks[j].kw == KW_AS) {
                if (j + 1 >= end || !plain_name(&S->toks[j + 1])) { S->suspect = 1; return; }
                j += 2;
            }
            if (j < end && is_op(&S->toks[j], ',')) { j++; continue; }
            break;
        }
        if (j != end) S->suspect = 1;
        return;
    }
    /* from */
    char dots[256];
    int ndots = 0;
    while (j < end && (is_op(&S->toks[j], '.') || is_op(&S->toks[j], 'E'))) {
        int add = is_op(&S->toks[j], 'E') ? 3 : 1;
        for (int k = 0; k < add && ndots < (int)sizeof(dots) - 1; k++) dots[ndots++] = '.';
        j++;
    }
    PyObject *mod = dotted_name(S, &j, end);
    if (S->error) return;
    if (!mod && !ndots) { S->suspect = 1; return; }
    if (ndots) {
        PyObject *d = PyUnicode_FromStringAndSize(dots, ndots);
        if (!d) { Py_XDECREF(mod); S->error = 1; return; }
        if (mod) {
            PyObject *joined = PyUnicode_Concat(d, mod);
            Py_DECREF(d);
            Py_DECREF(mod);
            if (!joined) { S->error = 1; return; }
            mod = joined;
        } else {
            mod = d;
        }
    }
    if (j >= end || S->toks[j].kw != KW_IMPORT) { Py_DECREF(mod); S->suspect = 1; return; }
    j++;
    if (j < end && S->toks[j].kind == K_OP && S->toks[j].op == '*') {
        PyObject *star = PyUnicode_FromString("*");
        if (!star || add_import(S, mod, star, line) < 0) S->error = 1;
        Py_XDECREF(star);
        Py_DECREF(mod);
        if (j + 1 != end) S->suspect = 1;
        return;
    }
    int paren = 0;
    if (j < end && is_op(&S->toks[j], '(')) { paren = 1; j++; }
    int count = 0;
    for (;;) {
        if (j >= end || !plain_name(&S->toks[j])) break;
        PyObject *name = tok_str(S, &S->toks[j]);
        if (!name || add_import(S, mod, name, line) < 0) { Py_XDECREF(name); Py_DECREF(mod); S->error = 1; return; }
        Py_DECREF(name);
        count++;
        j++;
        if (j < end && S->toks[j].kw == KW_AS) {
            if (j + 1 >= end || !plain_name(&S->toks[j + 1])) { S->suspect = 1; break; }
            j += 2;
        }
        if (j < end && is_op(&S->toks[j], ',')) { j++; continue; }
        break;
    }
    Py_DECREF(mod);
    if (paren) {
        if (j < end && is_op(&S->toks[j], ')')) j++;
        else S->suspect = 1;
    }
    if (!count || j != end) S->suspect = 1;
}

static sym_t *new_symbol(scan_t *S) {
    if (grow(S, (void **)&S->syms, &S->scap, S->nsym, sizeof(sym_t), 64) < 0) return NULL;
    sym_t *s = &S->syms[S->nsym++];
    memset(s, 0, sizeof(*s));
    return s;
}

static void close_symbols(scan_t *S, int col) {
    while (S->nopen && S->syms[S->open[S->nopen - 1]].col >= col) {
        S->syms[S->open[S->nopen - 1]].end = S->last_code_line;
        S->nopen--;
    }
}

/* A colon at depth 0 in a simple statement is a lambda's or an annotation's (`x: int = 1`):
 * one annotation at most, before any `=`, with something after it. */
static void check_simple_colons(scan_t *S, Py_ssize_t i, Py_ssize_t end) {
    int depth = 0, lambdas = 0, seen_eq = 0, seen_ann = 0;
    for (Py_ssize_t j = i; j < end; j++) {
        tok_t *t = &S->toks[j];
        if (t->kind == K_NAME) {
            if (t->kw == KW_LAMBDA && depth == 0) lambdas++;
            continue;
        }
        if (t->kind != K_OP) continue;
        switch (t->op) {
        case '(': case '[': case '{': depth++; break;
        case ')': case ']': case '}': depth--; break;
        case '=': if (depth == 0) seen_eq = 1; break;
        case ':':
            if (depth) break;
            if (lambdas) { lambdas--; break; }
            if (seen_eq || seen_ann || j + 1 == end) { S->suspect = 1; return; }
            seen_ann = 1;
            break;
        }
    }
}

/* Simple statements from token i to the end of the logical line (after a header's colon, or
 * the whole line): imports are recorded, anything else is skipped. */
static void simple_statements(scan_t *S, Py_ssize_t i) {
    while (i < S->ntok && !S->error) {
        Py_ssize_t end = statement_end(S, i);
        tok_t *t = &S->toks[i];
        if (end == i) { S->suspect = 1; i++; continue; } /* empty statement: `;;` */
        check_simple_colons(S, i, end);
        if (t->kind == K_NAME && t->kw == KW_RAISE) { /* Python 2's `raise E, "message"` */
            int depth = 0;
            for (Py_ssize_t j = i + 1; j < end; j++) {
                tok_t *u = &S->toks[j];
                if (u->kind != K_OP) continue;
                if (u->op == '(' || u->op == '[' || u->op == '{') depth++;
                else if (u->op == ')' || u->op == ']' || u->op == '}') depth--;
                else if (u->op == ',' && depth == 0) S->suspect = 1;
            }
        }
        if (t->kind == K_NAME && (t->kw == KW_IMPORT || t->kw == KW_FROM)) parse_import(S, i, end);
        else if (t->kind == K_NAME && (t->kw == KW_DEF || t->kw == KW_CLASS || t->kw == KW_IF ||
                                       t->kw == KW_FOR || t->kw == KW_WHILE || t->kw == KW_TRY ||
                                       t->kw == KW_WITH || t->kw == KW_ELSE || t->kw == KW_ELIF ||
                                       t->kw == KW_EXCEPT || t->kw == KW_FINALLY))
            S->suspect = 1; /* a compound statement where only simple ones may stand */
        else if (is_op(t, '@')) S->suspect = 1;
        i = end + 1;
        if (end + 1 == S->ntok) break; /* a trailing `;` */
    }
}

/* One logical line whose first token is at index 0, indented `col`. */
static void handle_line(scan_t *S, int col, int opened_block) {
    tok_t *toks = S->toks;
    Py_ssize_t n = S->ntok;
    Py_ssize_t doc_for = S->doc_for;
    S->doc_for = -1;
    S->expect_block = 0;
    if (doc_for >= 0 && opened_block) {
        PyObject *doc = docstring_at(S, 0);
        if (!doc) { S->error = 1; return; }
        S->syms[doc_for].doc = doc;
    }
    /* two atoms side by side: `print "x"`, `exec code`, `u"a" b"c"` (str and bytes mixed) */
    for (Py_ssize_t j = 1; j < n; j++) {
        if (!is_atom(&toks[j])) continue;
        if (toks[j - 1].kind == K_OP && (toks[j - 1].op == ')' || toks[j - 1].op == ']' || toks[j - 1].op == '}') &&
            !(toks[j].kind == K_NAME && (toks[j].kw == KW_MATCH || toks[j].kw == KW_CASE))) {
            S->suspect = 1; /* `(a) b`: a missing comma or operator */
            break;
        }
        if (!is_atom(&toks[j - 1])) continue;
        if (toks[j].kind == K_STRING && toks[j - 1].kind == K_STRING) {
            if ((toks[j].flags & SF_BYTES) != (toks[j - 1].flags & SF_BYTES)) S->suspect = 1;
            continue;
        }
        if (j == 1 && (toks[0].kw == KW_MATCH || toks[0].kw == KW_CASE)) continue;
        S->suspect = 1;
        break;
    }
    tok_t *t = &toks[0];
    if (is_op(t, '@')) {
        if (!S->pending_dec) S->pending_dec = t->line;
        if (n < 2 || statement_end(S, 0) != n) S->suspect = 1;
        return;
    }
    Py_ssize_t i = 0;
    int kw = t->kind == K_NAME ? t->kw : 0;
    if (kw == KW_ASYNC) {
        if (n < 2 || !(toks[1].kw == KW_DEF || toks[1].kw == KW_FOR || toks[1].kw == KW_WITH)) {
            S->suspect = 1;
            S->pending_dec = 0;
            return;
        }
        i = 1;
        kw = toks[1].kw;
    }
    if (kw == KW_DEF || kw == KW_CLASS) {
        int start = S->pending_dec ? S->pending_dec : t->line;
        S->pending_dec = 0;
        if (i + 2 >= n || !plain_name(&toks[i + 1])) { S->suspect = 1; return; }
        if (!(is_op(&toks[i + 2], '(') || (kw == KW_CLASS && is_op(&toks[i + 2], ':')))) {
            S->suspect = 1; /* `def f[T]()` is Python 3.12 */
            return;
        }
        Py_ssize_t colon = header_colon(S, i + 2, 0, kw == KW_DEF);
        if (colon < 0) { S->suspect = 1; return; }
        sym_t *parent = S->nopen ? &S->syms[S->open[S->nopen - 1]] : NULL;
        PyObject *name = tok_str(S, &toks[i + 1]);
        if (!name) { S->error = 1; return; }
        PyObject *qual;
        if (parent) {
            qual = PyUnicode_FromFormat("%U.%U", parent->qual, name);
            if (!qual) { Py_DECREF(name); S->error = 1; return; }
        } else {
            qual = name;
            Py_INCREF(qual);
        }
        PyObject *parent_qual = parent ? parent->qual : Py_None;
        const char *kind = kw == KW_CLASS ? "class" : (parent && parent->is_class ? "method" : "function");
        Py_ssize_t idx = S->nsym;
        sym_t *s = new_symbol(S);
        if (!s) { Py_DECREF(name); Py_DECREF(qual); return; }
        s->name = name;
        s->qual = qual;
        s->parent = parent_qual;
        Py_INCREF(parent_qual);
        s->kind = kind;
        s->start = start;
        s->col = col;
        s->is_class = kw == KW_CLASS;
        s->doc = NULL;
        if (colon + 1 < n) { /* inline body: `def f(): return 1` */
            s->end = toks[n - 1].eline;
            PyObject *doc = docstring_at(S, colon + 1);
            if (!doc) { S->error = 1; return; }
            S->syms[idx].doc = doc;
            simple_statements(S, colon + 1);
        } else {
            if (S->nopen >= (int)(sizeof(S->open) / sizeof(S->open[0]))) { S->suspect = 1; return; }
            S->open[S->nopen++] = idx;
            S->expect_block = 1;
            S->doc_for = idx;
        }
        return;
    }
    if (S->pending_dec) { S->suspect = 1; S->pending_dec = 0; }
    if (kw == KW_IF || kw == KW_ELIF || kw == KW_ELSE || kw == KW_FOR || kw == KW_WHILE ||
        kw == KW_TRY || kw == KW_EXCEPT || kw == KW_FINALLY || kw == KW_WITH) {
        Py_ssize_t colon = header_colon(S, i + 1, kw == KW_EXCEPT, 0);
        if (colon < 0) { S->suspect = 1; return; }
        if (colon + 1 == n) S->expect_block = 1;
        else simple_statements(S, colon + 1);
        return;
    }
    if ((kw == KW_MATCH || kw == KW_CASE) && n > 2 && is_op(&toks[n - 1], ':') &&
        !is_op(&toks[1], ':') && !is_op(&toks[1], '=') && !is_op(&toks[1], '.') &&
        header_colon(S, 1, 0, 0) == n - 1) {
        S->expect_block = 1; /* `match x:` / `case p:` (as soft keywords they may also be names) */
        return;
    }
    simple_statements(S, 0);
}

static int valid_utf8(const unsigned char *s, Py_ssize_t n) {
    Py_ssize_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) { i++; continue; }
        int len;
        uint32_t cp;
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
        else return 0;
        if (i + len > n) return 0;
        for (int k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

/* The PEP 263 coding cookie of the first two lines: 0 none, 1 UTF-8, 2 anything else. */
static int coding_cookie(const unsigned char *b, Py_ssize_t n) {
    Py_ssize_t p = 0;
    for (int line = 0; line < 2 && p < n; line++) {
        Py_ssize_t e = p;
        while (e < n && b[e] != '\n' && b[e] != '\r') e++;
        Py_ssize_t q = p;
        while (q < e && (b[q] == ' ' || b[q] == '\t' || b[q] == '\f')) q++;
        if (q < e && b[q] == '#') {
            for (Py_ssize_t k = q; k + 7 <= e; k++) {
                if (memcmp(b + k, "coding", 6) == 0 && (b[k + 6] == ':' || b[k + 6] == '=')) {
                    Py_ssize_t v = k + 7;
                    while (v < e && (b[v] == ' ' || b[v] == '\t')) v++;
                    char enc[32];
                    int m = 0;
                    while (v < e && m < 31 && (is_name_char(b[v]) || b[v] == '-' || b[v] == '.')) {
                        unsigned char c = b[v++];
                        enc[m++] = (char)(c == '_' ? '-' : (c >= 'A' && c <= 'Z' ? c + 32 : c));
                    }
                    enc[m] = 0;
                    return (strcmp(enc, "utf-8") == 0 || strcmp(enc, "utf8") == 0 ||
                            strncmp(enc, "utf-8-", 6) == 0) ? 1 : 2;
                }
            }
        } else if (q < e) {
            return 0; /* the cookie may only follow blank or comment lines */
        }
        p = e;
        if (p < n && b[p] == '\r') p++;
        if (p < n && b[p] == '\n') p++;
    }
    return 0;
}

static void free_scan(scan_t *S) {
    for (Py_ssize_t k = 0; k < S->nsym; k++) {
        Py_XDECREF(S->syms[k].name);
        Py_XDECREF(S->syms[k].qual);
        Py_XDECREF(S->syms[k].parent);
        Py_XDECREF(S->syms[k].doc);
    }
    free(S->syms);
    free(S->toks);
    Py_XDECREF(S->imports);
}

static PyObject *outline(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    scan_t S;
    memset(&S, 0, sizeof(S));
    S.b = view.buf;
    S.n = view.len;
    S.line = 1;
    S.doc_for = -1;
    S.imports = PyList_New(0);
    if (!S.imports) { PyBuffer_Release(&view); return NULL; }
    if (S.n >= 3 && memcmp(S.b, "\xEF\xBB\xBF", 3) == 0) S.p = 3;
    if (memchr(S.b, 0, S.n)) S.suspect = 1;
    for (Py_ssize_t k = 0; k < S.n; k++)
        if (S.b[k] >= 0x80) { if (!valid_utf8(S.b + k, S.n - k)) S.suspect = 1; break; }
    /* a cookie other than UTF-8, or any cookie after a BOM (ast is picky there): ast decides */
    int cookie = coding_cookie(S.b + S.p, S.n - S.p);
    if (cookie == 2 || (cookie && S.p == 3)) S.suspect = 1;
    S.ind_col[0] = S.ind_alt[0] = 0;
    S.nind = 1;
    int col = 0, alt = 0;
    while (!S.error) {
        if (!read_logical_line(&S, &col, &alt) || S.error) break;
        if (S.ntok == 0) break;
        /* indentation */
        int opened = 0, top = S.nind - 1;
        if (col == S.ind_col[top]) {
            if (alt != S.ind_alt[top]) S.suspect = 1;
        } else if (col > S.ind_col[top]) {
            if (alt <= S.ind_alt[top]) S.suspect = 1;
            if (S.nind < 256) { S.ind_col[S.nind] = col; S.ind_alt[S.nind] = alt; S.nind++; }
            else S.suspect = 1;
            opened = 1;
            if (!S.expect_block) S.suspect = 1; /* unexpected indent */
        } else {
            while (S.nind > 1 && col < S.ind_col[S.nind - 1]) S.nind--;
            if (col != S.ind_col[S.nind - 1] || alt != S.ind_alt[S.nind - 1]) S.suspect = 1;
        }
        if (S.expect_block && !opened) S.suspect = 1; /* expected an indented block */
        close_symbols(&S, col);
        handle_line(&S, col, opened);
        S.last_code_line = S.toks[S.ntok - 1].eline;
    }
    if (S.expect_block) S.suspect = 1; /* a header at the end of the file */
    if (S.pending_dec) S.suspect = 1;
    close_symbols(&S, -1);
    PyBuffer_Release(&view);
    if (S.error) { free_scan(&S); return NULL; }
    PyObject *symbols = PyList_New(S.nsym);
    if (!symbols) { free_scan(&S); return NULL; }
    for (Py_ssize_t k = 0; k < S.nsym; k++) {
        sym_t *s = &S.syms[k];
        PyObject *t = Py_BuildValue("(sOOiiOO)", s->kind, s->name, s->qual, s->start, s->end,
                                    s->doc ? s->doc : Py_None, s->parent);
        if (!t) { Py_DECREF(symbols); free_scan(&S); return NULL; }
        PyList_SET_ITEM(symbols, k, t);
    }
    PyObject *result = Py_BuildValue("(NOO)", symbols, S.imports, S.suspect ? Py_True : Py_False);
    free_scan(&S);
    return result;
}

static PyMethodDef methods[] = {
    {"outline", outline, METH_O, "outline(source: bytes) -> (symbols, imports, suspect)"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_pyoutline", NULL, -1, methods};

PyMODINIT_FUNC PyInit__pyoutline(void) { return PyModule_Create(&module); }
