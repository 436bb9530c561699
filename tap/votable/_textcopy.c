/* CSV, TSV and JSON rows from the rows of a COPY ... TO STDOUT (FORMAT text) (compiled).
 *
 * PostgreSQL writes a query's rows as tab-separated text at the speed of its own output
 * (the psql floor). Asking it for JSON (json_build_array per row) or for DALI timestamps
 * (a CASE of string functions per value) costs it 2-3x that; this module takes the plain
 * text rows instead and writes each format from them in one pass, with the column kinds
 * known from the query's result types (see tap/votable/text_copy.py):
 *
 *   'i' integer         written as it is
 *   'b' boolean         t/f -> true/false
 *   's' text            unescaped, then escaped/quoted for the output format
 *   't' timestamp       "YYYY-MM-DD hh:mm:ss[.ffffff]" -> DALI "YYYY-MM-DDThh:mm:ss[.fff]"
 *                       (other text, e.g. years beyond 9999, BC, infinity: as it is)
 *   'd' date            written as it is (ISO with DateStyle ISO), a string
 *   'j' jsonb           its text made compact as Python's json.dumps writes it
 *                       (separators "," ":" and floats as repr), then a string
 *   'f' float4/float8   as Python writes a float: repr, NaN/+Inf/-Inf in CSV/TSV and
 *                       null in JSON
 *
 * and NULL (\N) as the format writes it. The bytes are those of the Python writers of
 * tap/votable/textformats.py (the tests compare them on a real server).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static int reserve(buf_t *b, size_t extra) {
    if (b->len + extra <= b->cap) return 0;
    size_t want = b->cap ? b->cap : 1 << 16;
    while (want < b->len + extra) want *= 2;
    char *grown = realloc(b->p, want);
    if (grown == NULL) return -1;
    b->p = grown;
    b->cap = want;
    return 0;
}

#define PUT(b, s, n)                                   \
    do {                                               \
        if (reserve((b), (n)) < 0) goto nomem;         \
        memcpy((b)->p + (b)->len, (s), (n));           \
        (b)->len += (n);                               \
    } while (0)
#define PUTC(b, c)                                     \
    do {                                               \
        if (reserve((b), 1) < 0) goto nomem;           \
        (b)->p[(b)->len++] = (char)(c);                \
    } while (0)

/* the byte a COPY text escape letter stands for (\b \f \n \r \t \v); any other letter,
 * \\ included, stands for itself */
static char copy_unescape_letter(char c) {
    switch (c) {
        case 'b': return '\b';
        case 'f': return '\f';
        case 'n': return '\n';
        case 'r': return '\r';
        case 't': return '\t';
        case 'v': return '\v';
        default: return c;
    }
}

/* the letter of the control characters JSON and COPY text both escape as backslash and a
 * letter, 0 for any other byte */
static char control_letter(unsigned char c) {
    switch (c) {
        case '\b': return 'b';
        case '\f': return 'f';
        case '\n': return 'n';
        case '\r': return 'r';
        case '\t': return 't';
        default: return 0;
    }
}

/* writes the JSON escape of byte c (as Python's json with ensure_ascii=False escapes it)
 * into w (room for 6 bytes); returns its length, 0 when c stands as itself */
static size_t json_escape(char *w, unsigned char c) {
    static const char hex[] = "0123456789abcdef";
    char e = (c == '"' || c == '\\') ? (char)c : control_letter(c);
    if (e) {
        w[0] = '\\';
        w[1] = e;
        return 2;
    }
    if (c >= 0x20) return 0;
    memcpy(w, "\\u00", 4);
    w[4] = hex[c >> 4];
    w[5] = hex[c & 15];
    return 6;
}

/* appends d as Python's repr(float) writes it; -1 with no memory (or a Python error) */
static int put_float_repr(buf_t *out, double d) {
    char *r = PyOS_double_to_string(d, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (r == NULL) return -1;
    size_t rn = strlen(r);
    if (reserve(out, rn) < 0) {
        PyMem_Free(r);
        return -1;
    }
    memcpy(out->p + out->len, r, rn);
    out->len += rn;
    PyMem_Free(r);
    return 0;
}

/* The value of a field of COPY text (its escapes undone) into v. */
static int unescape(const char *s, size_t n, buf_t *v) {
    v->len = 0;
    if (reserve(v, n) < 0) return -1;
    char *o = v->p;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            c = copy_unescape_letter(s[++i]);
        }
        *o++ = c;
    }
    v->len = (size_t)(o - v->p);
    return 0;
}

static int is_digits(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

/* DALI text of a timestamp as PostgreSQL writes it with DateStyle ISO into out (a
 * buffer of at least 23 bytes); returns its length, or 0 when the text is not a
 * timestamp of years 1-9999 (written as it is then). */
static size_t dali(const char *s, size_t n, char *out) {
    if (n < 19 || !is_digits(s, 4) || s[4] != '-' || !is_digits(s + 5, 2) || s[7] != '-' ||
        !is_digits(s + 8, 2) || s[10] != ' ' || !is_digits(s + 11, 2) || s[13] != ':' ||
        !is_digits(s + 14, 2) || s[16] != ':' || !is_digits(s + 17, 2))
        return 0;
    if (n > 19 && (s[19] != '.' || n == 20 || !is_digits(s + 20, n - 20))) return 0;
    memcpy(out, s, 19);
    out[10] = 'T';
    if (n == 19) return 19;
    /* milliseconds, truncated (and padded: ".5" -> ".500") */
    out[19] = '.';
    for (size_t i = 0; i < 3; i++) out[20 + i] = 20 + i < n ? s[20 + i] : '0';
    return 23;
}

/* Python's float text: repr, or NaN / +Inf / -Inf (json: null) */
static int float_text(const char *s, size_t n, int json, buf_t *out) {
    char tmp[64];
    if (n == 0 || n >= sizeof tmp) return 1;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    char *end = NULL;
    double d = PyOS_string_to_double(tmp, &end, NULL);
    if (d == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 1;
    }
    if (end != tmp + n) return 1;
    if (!isfinite(d)) {
        const char *t = json ? "null" : isnan(d) ? "NaN" : d > 0 ? "+Inf" : "-Inf";
        PUT(out, t, strlen(t));
        return 0;
    }
    return put_float_repr(out, d);
nomem:
    return -1;
}

/* jsonb text (s, n) made compact as Python's json.dumps(json.loads(text),
 * separators=(",", ":"), ensure_ascii=False) writes it, into out. jsonb's strings are
 * escaped as Python escapes them already; whitespace goes, and numbers with a fraction or
 * exponent (floats for json.loads) are written as Python writes a float. */
static int compact_json(const char *s, size_t n, buf_t *out) {
    out->len = 0;
    if (reserve(out, n) < 0) return -1;
    size_t i = 0;
    while (i < n) {
        char c = s[i];
        if (c == '"') {
            size_t j = i + 1;
            while (j < n && s[j] != '"') j += s[j] == '\\' ? 2 : 1;
            j = j < n ? j + 1 : n;
            PUT(out, s + i, j - i);
            i = j;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            i++;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t j = i + 1;
            int is_float = 0;
            while (j < n && (strchr("0123456789.eE+-", s[j]) != NULL && s[j] != 0)) {
                if (s[j] == '.' || s[j] == 'e' || s[j] == 'E') is_float = 1;
                j++;
            }
            if (!is_float) {
                PUT(out, s + i, j - i);
            } else {
                char tmp[512];
                size_t len = j - i < sizeof tmp ? j - i : sizeof tmp - 1;
                memcpy(tmp, s + i, len);
                tmp[len] = 0;
                double d = PyOS_string_to_double(tmp, NULL, NULL);
                if (d == -1.0 && PyErr_Occurred()) return -1;
                if (isinf(d)) {
                    const char *t = d > 0 ? "Infinity" : "-Infinity";
                    PUT(out, t, strlen(t));
                } else {
                    if (put_float_repr(out, d) < 0) return -1;
                }
            }
            i = j;
        } else {
            PUTC(out, c);
            i++;
        }
    }
    return 0;
nomem:
    PyErr_NoMemory();
    return -1;
}

/* The text of a JSON string "..." as jsonb writes it (escapes: \" \\ \b \f \n \r \t and
 * \u00XX for other control characters; \uXXXX in general) into out, UTF-8. */
static int json_string_value(const char *s, size_t n, buf_t *out) {
    out->len = 0;
    if (reserve(out, n) < 0) goto nomem;
    char *o = out->p;
    size_t end = n > 1 && s[n - 1] == '"' ? n - 1 : n;
    for (size_t i = 1; i < end; i++) {
        char c = s[i];
        if (c != '\\' || i + 1 >= end) {
            *o++ = c;
            continue;
        }
        c = s[++i];
        switch (c) {
            case 'b': *o++ = '\b'; break;
            case 'f': *o++ = '\f'; break;
            case 'n': *o++ = '\n'; break;
            case 'r': *o++ = '\r'; break;
            case 't': *o++ = '\t'; break;
            case 'u': {
                unsigned int cp = 0;
                if (i + 4 >= end) goto bad;
                for (int k = 1; k <= 4; k++) {
                    char h = s[i + k];
                    cp = cp * 16 + (unsigned)(h >= 'a' ? h - 'a' + 10 : h >= 'A' ? h - 'A' + 10 : h - '0');
                }
                i += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < end && s[i + 1] == '\\' && s[i + 2] == 'u') {
                    unsigned int lo = 0;
                    for (int k = 3; k <= 6; k++) {
                        char h = s[i + k];
                        lo = lo * 16 + (unsigned)(h >= 'a' ? h - 'a' + 10 : h >= 'A' ? h - 'A' + 10 : h - '0');
                    }
                    if (lo >= 0xDC00 && lo < 0xE000) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        i += 6;
                    }
                }
                /* UTF-8 is never longer than the escape it replaces */
                if (cp < 0x80) {
                    *o++ = (char)cp;
                } else if (cp < 0x800) {
                    *o++ = (char)(0xC0 | (cp >> 6));
                    *o++ = (char)(0x80 | (cp & 0x3F));
                } else if (cp < 0x10000) {
                    *o++ = (char)(0xE0 | (cp >> 12));
                    *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                    *o++ = (char)(0x80 | (cp & 0x3F));
                } else {
                    *o++ = (char)(0xF0 | (cp >> 18));
                    *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                    *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                    *o++ = (char)(0x80 | (cp & 0x3F));
                }
                break;
            }
            default: *o++ = c; break; /* \" \\ \/ */
        }
    }
    out->len = (size_t)(o - out->p);
    return 0;
bad:
    PyErr_SetString(PyExc_ValueError, "a bad \\u escape in a jsonb string");
    return -1;
nomem:
    PyErr_NoMemory();
    return -1;
}

/* a JSON string of v (as Python's json with ensure_ascii=False escapes it) */
static int put_json_string(buf_t *o, const char *v, size_t n) {
    if (reserve(o, n + 2) < 0) return -1;
    o->p[o->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            PUTC(o, c);
            continue;
        }
        char esc[6];
        PUT(o, esc, json_escape(esc, c));
    }
    PUTC(o, '"');
    return 0;
nomem:
    return -1;
}

/* a CSV field of v, quoted when it holds a comma, quote, CR or LF (Python's csv) */
static int put_csv(buf_t *o, const char *v, size_t n) {
    int quote = 0;
    for (size_t i = 0; i < n && !quote; i++)
        quote = v[i] == ',' || v[i] == '"' || v[i] == '\r' || v[i] == '\n';
    if (!quote) {
        PUT(o, v, n);
        return 0;
    }
    PUTC(o, '"');
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '"') PUTC(o, '"');
        PUTC(o, v[i]);
    }
    PUTC(o, '"');
    return 0;
nomem:
    return -1;
}

static int put_csv_empty(buf_t *o) {
    PUT(o, "\"\"", 2);
    return 0;
nomem:
    return -1;
}

/* a TSV field of v: backslash, TAB, LF, CR, BS, FF, VT escaped as COPY text escapes them */
static int put_tsv(buf_t *o, const char *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        char e = c == '\\' ? '\\' : c == '\v' ? 'v' : control_letter((unsigned char)c);
        if (e) {
            char esc[2] = {'\\', e};
            PUT(o, esc, 2);
        } else {
            PUTC(o, c);
        }
    }
    return 0;
nomem:
    return -1;
}

/* a string value (already unescaped) in the output format */
static int put_string(buf_t *o, char fmt, const char *v, size_t n) {
    if (fmt == 'j') return put_json_string(o, v, n);
    if (fmt == 'c') return put_csv(o, v, n);
    return put_tsv(o, v, n);
}

/* bytes that need work in a field, per output format: COPY's escapes ('\\') and
 * NULL's marker for all; for JSON strings also '"' and raw control characters, for CSV
 * also ',' and '"' (quoting) */
static unsigned char special_json[256], special_csv[256];

static void init_tables(void) {
    for (int c = 0; c < 0x20; c++) special_json[c] = 1;
    special_json['"'] = special_json['\\'] = 1;
    special_csv[','] = special_csv['"'] = special_csv['\\'] = 1;
}

/* COPY text of a string field (escapes \\ \b \f \n \r \t \v, other bytes raw) straight to
 * a JSON string; out has room for 6 bytes per input byte plus 2 */
static char *copy_text_to_json(char *w, const char *f, size_t fn) {
    *w++ = '"';
    size_t i = 0;
    while (i < fn) {
        size_t run = i;
        while (run < fn && !special_json[(unsigned char)f[run]]) run++;
        memcpy(w, f + i, run - i);
        w += run - i;
        if (run >= fn) break;
        unsigned char c = (unsigned char)f[run];
        i = run + 1;
        if (c == '\\' && i < fn) c = (unsigned char)copy_unescape_letter(f[i++]);
        size_t k = json_escape(w, c);
        if (k)
            w += k;
        else
            *w++ = (char)c;
    }
    *w++ = '"';
    return w;
}

enum { OK = 0, NOMEM = -1, BADROW = -2, PYERR = -3, BADFLOAT = -4 };

/* the conversion of convert(); GIL released unless kinds hold 'f' or 'j' (they call the
 * Python float functions) */
static int run(const char *s, size_t n, const char *kinds, Py_ssize_t ncols, int fmt,
               buf_t *o, buf_t *v, buf_t *js) {
    const char sep = fmt == 'c' ? ',' : '\t';
    const int lone = ncols == 1;
    if (reserve(o, n + n / 4 + 64) < 0) return NOMEM;
    size_t i = 0;
    int first_row = 1;
    while (i < n) {
        const char *row_end = memchr(s + i, '\n', n - i);
        if (row_end == NULL) return BADROW;
        size_t rn = (size_t)(row_end - (s + i));
        /* room for the row's worst case: a JSON string of 6 bytes per byte, per field
         * 2 quotes, a separator and the row's brackets; floats/jsonb reserve their own */
        if (reserve(o, rn * 6 + (size_t)ncols * 8 + 8) < 0) return NOMEM;
        char *w = o->p + o->len;
        if (fmt == 'j') {
            if (!first_row) {
                *w++ = ',';
                *w++ = '\n';
            }
            *w++ = '[';
        }
        first_row = 0;
        const char *f = s + i;
        for (Py_ssize_t col = 0; col < ncols; col++) {
            const char *tab = col + 1 < ncols ? memchr(f, '\t', (size_t)(row_end - f)) : NULL;
            if ((col + 1 < ncols) != (tab != NULL)) return BADROW;
            const char *fe = tab ? tab : row_end;
            if (col + 1 == ncols && memchr(f, '\t', (size_t)(row_end - f)) != NULL)
                return BADROW;
            size_t fn = (size_t)(fe - f);
            if (col > 0) {
                *w++ = fmt == 'j' ? ',' : sep;
                if (fmt == 'j') *w++ = ' ';
            }
            char kind = kinds[col];
            int is_null = fn == 2 && f[0] == '\\' && f[1] == 'N';
            if (kind == 'j' && !is_null) {
                /* a jsonb null is None in Python (NULL); a string is its text */
                if (unescape(f, fn, v) < 0) return NOMEM;
                is_null = v->len == 4 && memcmp(v->p, "null", 4) == 0;
            }
            if (is_null) {
                if (fmt == 'j') {
                    memcpy(w, "null", 4);
                    w += 4;
                } else if (fmt == 'c' && lone) {
                    *w++ = '"'; /* an empty line would be skipped by readers */
                    *w++ = '"';
                }
            } else if (kind == 'i') {
                memcpy(w, f, fn);
                w += fn;
            } else if (kind == 'b') {
                if (fn == 1 && f[0] == 't') {
                    memcpy(w, "true", 4);
                    w += 4;
                } else {
                    memcpy(w, "false", 5);
                    w += 5;
                }
            } else if (kind == 't' || kind == 'd') {
                char ts[23];
                size_t tn = kind == 't' ? dali(f, fn, ts) : 0;
                const char *tv = tn ? ts : f;
                size_t tl = tn ? tn : fn;
                if (fmt == 'j') *w++ = '"';
                memcpy(w, tv, tl); /* no character of a date needs quotes or escapes */
                w += tl;
                if (fmt == 'j') *w++ = '"';
            } else if (kind == 's' && fmt == 't') {
                memcpy(w, f, fn); /* COPY's escapes are TSV's */
                w += fn;
            } else if (kind == 's' && fmt == 'j') {
                w = copy_text_to_json(w, f, fn);
            } else if (kind == 's') { /* CSV */
                size_t k = 0;
                while (k < fn && !special_csv[(unsigned char)f[k]]) k++;
                if (k == fn && (fn > 0 || !lone)) {
                    memcpy(w, f, fn);
                    w += fn;
                } else {
                    if (unescape(f, fn, v) < 0) return NOMEM;
                    o->len = (size_t)(w - o->p);
                    if (v->len == 0 && lone) {
                        if (put_csv_empty(o) < 0) return NOMEM;
                    } else if (put_csv(o, v->p, v->len) < 0) {
                        return NOMEM;
                    }
                    if (reserve(o, (size_t)(row_end - fe) * 6 + (size_t)ncols * 8 + 8) < 0)
                        return NOMEM;
                    w = o->p + o->len;
                }
            } else { /* 'f', 'j': may grow the buffer */
                o->len = (size_t)(w - o->p);
                if (kind == 'f') {
                    int r = float_text(f, fn, fmt == 'j', o);
                    if (r != 0) return r < 0 ? (PyErr_Occurred() ? PYERR : NOMEM) : BADFLOAT;
                } else {
                    const char *sv;
                    size_t sn;
                    int r = v->len && v->p[0] == '"' ? json_string_value(v->p, v->len, js)
                                                     : compact_json(v->p, v->len, js);
                    if (r < 0) return PYERR;
                    sv = js->p ? js->p : "";
                    sn = js->len;
                    if (fmt == 'c' && sn == 0 && lone)
                        r = put_csv_empty(o);
                    else
                        r = put_string(o, (char)fmt, sv, sn);
                    if (r < 0) return NOMEM;
                }
                if (reserve(o, (size_t)(row_end - fe) * 6 + (size_t)ncols * 8 + 8) < 0)
                    return NOMEM;
                w = o->p + o->len;
            }
            f = fe + 1;
        }
        if (fmt == 'j') {
            *w++ = ']';
        } else if (fmt == 'c') {
            *w++ = '\r';
            *w++ = '\n';
        } else {
            *w++ = '\n';
        }
        o->len = (size_t)(w - o->p);
        i = rn + 1 + i;
    }
    return OK;
}

/* convert(data, kinds, fmt) -> bytes; see the module docstring */
static PyObject *convert(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer data;
    const char *kinds;
    Py_ssize_t ncols;
    int fmt;
    if (!PyArg_ParseTuple(args, "y*s#C", &data, &kinds, &ncols, &fmt)) return NULL;
    if (ncols < 1 || (fmt != 'c' && fmt != 't' && fmt != 'j') ||
        (Py_ssize_t)strspn(kinds, "ibtdsjf") != ncols) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError,
                        "convert: kinds must be letters of ibtdsjf, fmt one of c t j");
        return NULL;
    }
    buf_t o = {0}, v = {0}, js = {0};
    int status;
    if (strpbrk(kinds, "fj") == NULL) {
        Py_BEGIN_ALLOW_THREADS
        status = run(data.buf, (size_t)data.len, kinds, ncols, fmt, &o, &v, &js);
        Py_END_ALLOW_THREADS
    } else {
        status = run(data.buf, (size_t)data.len, kinds, ncols, fmt, &o, &v, &js);
    }
    PyBuffer_Release(&data);
    PyObject *result = NULL;
    if (status == OK)
        result = PyBytes_FromStringAndSize(o.p ? o.p : "", (Py_ssize_t)o.len);
    else if (status == NOMEM)
        PyErr_NoMemory();
    else if (status == BADROW)
        PyErr_Format(PyExc_ValueError,
                     "a COPY row has not %zd tab-separated columns ending in LF", ncols);
    else if (status == BADFLOAT)
        PyErr_SetString(PyExc_ValueError, "a float8 value of COPY is not a number");
    free(o.p);
    free(v.p);
    free(js.p);
    return result;
}

static PyMethodDef methods[] = {
    {"convert", convert, METH_VARARGS,
     "convert(data, kinds, fmt) -> bytes: COPY text rows as CSV (fmt 'c'), TSV ('t') or "
     "JSON rows ('j'); kinds: one letter per column (see tap/votable/text_copy.py)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_textcopy",
                                    "CSV, TSV and JSON rows from COPY text rows (compiled).",
                                    -1, methods};

PyMODINIT_FUNC PyInit__textcopy(void) {
    init_tables();
    return PyModule_Create(&module);
}
