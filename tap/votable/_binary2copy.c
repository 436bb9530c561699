/* BINARY2 rows from PostgreSQL's binary COPY rows: the compiled half of binary2_copy.py.
 *
 * PostgreSQL's cheapest way to hand over rows is COPY ... TO STDOUT (FORMAT binary):
 * every value in its binary send form, no text formatting. The send forms of integers and
 * floats already are BINARY2's big-endian values, so turning a COPY row into a BINARY2
 * row is a byte walk: null flags from the -1 lengths, placeholders for nulls, a count in
 * front of text, UCS-2 from UTF-8, DALI text from the microseconds of a timestamp. Done in
 * Python this walk costs more than fetching the rows; here it costs a few ns per byte and
 * runs without the GIL, in parallel with the thread that sends the previous batch.
 *
 * transcode(spec, chunks) -> (data, ends, rest, finished)
 *   spec    bytes, 5 per field: kind, then the bound of a unicodeChar array (big-endian
 *           int32, -1: none)
 *   chunks  sequence of bytes-like: COPY data after the file header, in order
 *   data    bytes: the BINARY2 rows of every complete row in chunks
 *   ends    bytes: native int64 offsets, the end of each row in data
 *   rest    bytes: an incomplete row at the end, to prepend to the next chunks
 *   finished  whether the COPY trailer (field count -1) was read
 *
 * The value rules are the Python writer's (binary2.py), which the tests check byte for
 * byte: see binary2_copy.py.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum kind {
    K_BOOL = 0, /* bool -> boolean */
    K_I2 = 1,   /* int2 -> short */
    K_I4 = 2,   /* int4 -> int */
    K_I8 = 3,   /* int8 -> long */
    K_F4 = 4,   /* float4 -> float */
    K_F8 = 5,   /* float8 -> double */
    K_CHAR = 6, /* text -> char *: ASCII, one '?' per other character */
    K_UCS2 = 7, /* text -> unicodeChar * or n*: UCS-2 big-endian */
    K_TS = 8,   /* timestamp -> char * DALI timestamp */
    K_DATE = 9, /* date -> char * DALI date */
    K_BYTES = 10, /* bytea -> unsignedByte * */
    K_LAST = 10
};

typedef struct {
    int kind;
    int32_t bound; /* K_UCS2: most UCS-2 units kept, -1: all */
} field_spec;

typedef struct {
    char *buf;
    size_t len, cap;
} outbuf;

typedef struct {
    char message[200];
} failure;

static int reserve(outbuf *o, size_t extra) {
    if (o->len + extra <= o->cap)
        return 0;
    size_t cap = o->cap ? o->cap : 65536;
    while (cap < o->len + extra)
        cap *= 2;
    char *p = realloc(o->buf, cap);
    if (p == NULL)
        return -1;
    o->buf = p;
    o->cap = cap;
    return 0;
}

static inline uint32_t get_u32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline int64_t get_i64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return (int64_t)v;
}

static inline void put_u32(char *p, uint32_t v) {
    p[0] = (char)(v >> 24);
    p[1] = (char)(v >> 16);
    p[2] = (char)(v >> 8);
    p[3] = (char)v;
}

/* Days since 1970-01-01 -> proleptic Gregorian year, month, day (H. Hinnant's
 * civil_from_days, exact over the whole int64 range PostgreSQL uses). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

#define PG_EPOCH_DAYS 10957 /* 2000-01-01 - 1970-01-01 */
#define USECS_PER_DAY INT64_C(86400000000)

static inline char *two(char *p, int v) {
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

/* Writes the DALI text of a date (days since 2000-01-01) and, unless time_us < 0, of a
 * time of day, into p; returns the length. Years 1-9999: YYYY-MM-DD[Thh:mm:ss[.SSS]],
 * the fraction truncated to milliseconds and left out when the value has none. Other
 * years and the infinities: the text PostgreSQL writes with DateStyle ISO (what the SQL
 * writer sends for them). p must have room for 64 bytes. */
static int format_datetime(char *p, int64_t days, int64_t time_us) {
    int64_t year;
    int month, day;
    civil_from_days(days + PG_EPOCH_DAYS, &year, &month, &day);
    char *s = p;
    int in_range = year >= 1 && year <= 9999;
    int bc = year <= 0;
    int64_t shown = bc ? 1 - year : year;
    if (in_range) {
        s[0] = (char)('0' + year / 1000);
        s[1] = (char)('0' + year / 100 % 10);
        s[2] = (char)('0' + year / 10 % 10);
        s[3] = (char)('0' + year % 10);
        s += 4;
    } else {
        s += sprintf(s, "%04lld", (long long)shown);
    }
    *s++ = '-';
    s = two(s, month);
    *s++ = '-';
    s = two(s, day);
    if (time_us >= 0) {
        int64_t secs = time_us / 1000000;
        int frac = (int)(time_us % 1000000);
        *s++ = in_range ? 'T' : ' ';
        s = two(s, (int)(secs / 3600));
        *s++ = ':';
        s = two(s, (int)(secs / 60 % 60));
        *s++ = ':';
        s = two(s, (int)(secs % 60));
        if (frac) {
            *s++ = '.';
            if (in_range) { /* milliseconds, truncated */
                s[0] = (char)('0' + frac / 100000);
                s[1] = (char)('0' + frac / 10000 % 10);
                s[2] = (char)('0' + frac / 1000 % 10);
                s += 3;
            } else { /* PostgreSQL: microseconds without trailing zeros */
                char digits[7];
                snprintf(digits, sizeof digits, "%06d", frac);
                int n = 6;
                while (digits[n - 1] == '0')
                    n--;
                memcpy(s, digits, (size_t)n);
                s += n;
            }
        }
    }
    if (bc && !in_range) {
        memcpy(s, " BC", 3);
        s += 3;
    }
    return (int)(s - p);
}

/* One UTF-8 sequence at s (n bytes left) -> code point; *used = bytes consumed. Invalid
 * sequences (PostgreSQL never sends them in UTF8) count as one U+FFFD per byte. */
static inline uint32_t next_code_point(const unsigned char *s, size_t n, size_t *used) {
    unsigned char c = s[0];
    uint32_t cp;
    size_t need;
    if (c < 0x80) {
        *used = 1;
        return c;
    } else if (c >= 0xC2 && c <= 0xDF) {
        cp = c & 0x1F;
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        cp = c & 0x0F;
        need = 2;
    } else if (c >= 0xF0 && c <= 0xF4) {
        cp = c & 0x07;
        need = 3;
    } else {
        *used = 1;
        return 0xFFFD;
    }
    if (need >= n) {
        *used = 1;
        return 0xFFFD;
    }
    for (size_t i = 1; i <= need; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *used = 1;
            return 0xFFFD;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    *used = need + 1;
    return cp;
}

/* What XML 1.0 and UCS-2 cannot carry becomes U+FFFD (values.py: _BAD_CHARS). */
static inline uint32_t ucs2_unit(uint32_t cp) {
    if ((cp < 0x20 && cp != 0x09 && cp != 0x0A && cp != 0x0D) || (cp >= 0xD800 && cp <= 0xDFFF) ||
        cp == 0xFFFE || cp == 0xFFFF || cp > 0xFFFF)
        return 0xFFFD;
    return cp;
}

/* Encodes one value (not null) of n bytes at v; returns 0, or -1 with f set. */
static int put_value(outbuf *o, const field_spec *fs, const unsigned char *v, uint32_t n,
                     failure *f, int column) {
    static const uint32_t fixed_width[] = {1, 2, 4, 8, 4, 8};
    int kind = fs->kind;
    if (kind <= K_F8) {
        if (n != fixed_width[kind]) {
            snprintf(f->message, sizeof f->message,
                     "column %d: %u bytes where %u were expected", column, n, fixed_width[kind]);
            return -1;
        }
        if (reserve(o, 8))
            goto nomem;
        if (kind == K_BOOL)
            o->buf[o->len++] = v[0] ? 'T' : 'F';
        else {
            memcpy(o->buf + o->len, v, n);
            o->len += n;
        }
        return 0;
    }
    switch (kind) {
    case K_BYTES:
        if (reserve(o, (size_t)n + 4))
            goto nomem;
        put_u32(o->buf + o->len, n);
        memcpy(o->buf + o->len + 4, v, n);
        o->len += (size_t)n + 4;
        return 0;
    case K_CHAR: {
        if (reserve(o, (size_t)n + 4))
            goto nomem;
        char *count = o->buf + o->len;
        char *p = count + 4;
        for (uint32_t i = 0; i < n; i++) {
            unsigned char c = v[i];
            if (c < 0x80)
                *p++ = (char)c;
            else if (c >= 0xC0)
                *p++ = '?'; /* a lead byte: one '?' for the character */
            /* continuation bytes of that character: nothing */
        }
        put_u32(count, (uint32_t)(p - count - 4));
        o->len = (size_t)(p - o->buf);
        return 0;
    }
    case K_UCS2: {
        if (reserve(o, 2 * (size_t)n + 4))
            goto nomem;
        char *count = o->buf + o->len;
        char *p = count + 4;
        uint32_t units = 0, limit = fs->bound < 0 ? UINT32_MAX : (uint32_t)fs->bound;
        size_t i = 0;
        while (i < n && units < limit) {
            size_t used = 1;
            uint32_t unit = v[i];
            if (unit >= 0x80)
                unit = next_code_point(v + i, n - i, &used);
            unit = ucs2_unit(unit);
            p[0] = (char)(unit >> 8);
            p[1] = (char)unit;
            p += 2;
            units++;
            i += used;
        }
        put_u32(count, units);
        o->len = (size_t)(p - o->buf);
        return 0;
    }
    case K_TS: {
        if (n != 8) {
            snprintf(f->message, sizeof f->message,
                     "column %d: a timestamp of %u bytes", column, n);
            return -1;
        }
        if (reserve(o, 68))
            goto nomem;
        char *p = o->buf + o->len + 4;
        int64_t us = get_i64(v);
        int len;
        if (us == INT64_MAX || us == INT64_MIN) {
            len = us > 0 ? 8 : 9;
            memcpy(p, us > 0 ? "infinity" : "-infinity", (size_t)len);
        } else {
            int64_t days = us / USECS_PER_DAY, rem = us % USECS_PER_DAY;
            if (rem < 0) {
                rem += USECS_PER_DAY;
                days -= 1;
            }
            len = format_datetime(p, days, rem);
        }
        put_u32(o->buf + o->len, (uint32_t)len);
        o->len += (size_t)len + 4;
        return 0;
    }
    case K_DATE: {
        if (n != 4) {
            snprintf(f->message, sizeof f->message, "column %d: a date of %u bytes", column, n);
            return -1;
        }
        if (reserve(o, 68))
            goto nomem;
        char *p = o->buf + o->len + 4;
        int32_t days = (int32_t)get_u32(v);
        int len;
        if (days == INT32_MAX || days == INT32_MIN) {
            len = days > 0 ? 8 : 9;
            memcpy(p, days > 0 ? "infinity" : "-infinity", (size_t)len);
        } else
            len = format_datetime(p, days, -1);
        put_u32(o->buf + o->len, (uint32_t)len);
        o->len += (size_t)len + 4;
        return 0;
    }
    }
    snprintf(f->message, sizeof f->message, "column %d: unknown kind %d", column, kind);
    return -1;
nomem:
    snprintf(f->message, sizeof f->message, "out of memory");
    return -1;
}

/* The placeholder of a null value: '?', 0, NaN or an empty array. */
static int put_null(outbuf *o, int kind) {
    static const unsigned char nan4[4] = {0x7F, 0xC0, 0, 0};
    static const unsigned char nan8[8] = {0x7F, 0xF8, 0, 0, 0, 0, 0, 0};
    static const unsigned char zeros[8] = {0};
    if (reserve(o, 8))
        return -1;
    const unsigned char *src;
    size_t n;
    switch (kind) {
    case K_BOOL: src = (const unsigned char *)"?"; n = 1; break;
    case K_I2: src = zeros; n = 2; break;
    case K_I4: src = zeros; n = 4; break;
    case K_I8: src = zeros; n = 8; break;
    case K_F4: src = nan4; n = 4; break;
    case K_F8: src = nan8; n = 8; break;
    default: src = zeros; n = 4; break; /* arrays: no element */
    }
    memcpy(o->buf + o->len, src, n);
    o->len += n;
    return 0;
}

typedef struct {
    const field_spec *specs;
    int nfields;
    const unsigned char *in;
    size_t in_len;
    outbuf out;
    int64_t *ends;
    size_t nends, ends_cap;
    size_t consumed; /* input bytes of complete rows (and the trailer) */
    int finished;
    failure fail;
} job;

/* The byte walk over complete rows; runs without the GIL. Returns 0 or -1 (fail set). */
static int walk(job *j) {
    const unsigned char *in = j->in;
    size_t pos = 0, len = j->in_len;
    size_t nflags = ((size_t)j->nfields + 7) / 8;
    while (pos + 2 <= len) {
        int16_t count = (int16_t)((in[pos] << 8) | in[pos + 1]);
        if (count == -1) {
            j->finished = 1;
            pos += 2;
            if (pos != len) {
                snprintf(j->fail.message, sizeof j->fail.message,
                         "%zu bytes after the COPY trailer", len - pos);
                return -1;
            }
            break;
        }
        if (count != j->nfields) {
            snprintf(j->fail.message, sizeof j->fail.message,
                     "a COPY row of %d fields where %d were expected", count, j->nfields);
            return -1;
        }
        size_t row_out = j->out.len;
        if (reserve(&j->out, nflags))
            goto nomem;
        unsigned char *flags = (unsigned char *)j->out.buf + j->out.len;
        memset(flags, 0, nflags);
        j->out.len += nflags;
        size_t p = pos + 2;
        int complete = 1;
        for (int c = 0; c < j->nfields; c++) {
            if (p + 4 > len) {
                complete = 0;
                break;
            }
            int32_t n = (int32_t)get_u32(in + p);
            p += 4;
            if (n == -1) {
                /* the buffer may move: address the flags by offset */
                ((unsigned char *)j->out.buf + row_out)[c / 8] |= (unsigned char)(0x80 >> (c % 8));
                if (put_null(&j->out, j->specs[c].kind))
                    goto nomem;
                continue;
            }
            if (n < 0) {
                snprintf(j->fail.message, sizeof j->fail.message,
                         "column %d: a value of length %d", c, n);
                return -1;
            }
            if (p + (size_t)n > len) {
                complete = 0;
                break;
            }
            if (put_value(&j->out, &j->specs[c], in + p, (uint32_t)n, &j->fail, c))
                return -1;
            p += (size_t)n;
        }
        if (!complete) { /* the rest of this row comes with the next chunks */
            j->out.len = row_out;
            break;
        }
        pos = p;
        if (j->nends == j->ends_cap) {
            size_t cap = j->ends_cap ? 2 * j->ends_cap : 1024;
            int64_t *e = realloc(j->ends, cap * sizeof *e);
            if (e == NULL)
                goto nomem;
            j->ends = e;
            j->ends_cap = cap;
        }
        j->ends[j->nends++] = (int64_t)j->out.len;
    }
    j->consumed = pos;
    return 0;
nomem:
    snprintf(j->fail.message, sizeof j->fail.message, "out of memory");
    return -1;
}

static PyObject *transcode(PyObject *self, PyObject *args) {
    Py_buffer spec;
    PyObject *chunks;
    if (!PyArg_ParseTuple(args, "y*O:transcode", &spec, &chunks))
        return NULL;
    PyObject *seq = PySequence_Fast(chunks, "chunks must be a sequence of bytes-like objects");
    if (seq == NULL) {
        PyBuffer_Release(&spec);
        return NULL;
    }
    PyObject *result = NULL;
    unsigned char *in = NULL;
    job j;
    memset(&j, 0, sizeof j);
    field_spec *specs = NULL;

    if (spec.len == 0 || spec.len % 5 != 0) {
        PyErr_SetString(PyExc_ValueError, "spec must hold 5 bytes per field");
        goto done;
    }
    j.nfields = (int)(spec.len / 5);
    specs = PyMem_Malloc(sizeof *specs * (size_t)j.nfields);
    if (specs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (int i = 0; i < j.nfields; i++) {
        const unsigned char *s = (const unsigned char *)spec.buf + 5 * i;
        if (s[0] > K_LAST) {
            PyErr_Format(PyExc_ValueError, "spec: unknown kind %d of field %d", s[0], i);
            goto done;
        }
        specs[i].kind = s[0];
        specs[i].bound = (int32_t)get_u32(s + 1);
    }
    j.specs = specs;

    /* one contiguous input: a row may straddle two chunks */
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    size_t total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_buffer b;
        if (PyObject_GetBuffer(items[i], &b, PyBUF_SIMPLE))
            goto done;
        total += (size_t)b.len;
        PyBuffer_Release(&b);
    }
    in = PyMem_RawMalloc(total ? total : 1);
    if (in == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    size_t at = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_buffer b;
        if (PyObject_GetBuffer(items[i], &b, PyBUF_SIMPLE))
            goto done;
        memcpy(in + at, b.buf, (size_t)b.len);
        at += (size_t)b.len;
        PyBuffer_Release(&b);
    }
    j.in = in;
    j.in_len = total;

    int status;
    Py_BEGIN_ALLOW_THREADS status = walk(&j);
    Py_END_ALLOW_THREADS if (status) {
        PyErr_Format(PyExc_ValueError, "binary COPY data: %s", j.fail.message);
        goto done;
    }
    result = Py_BuildValue("(y#y#y#O)", j.out.buf ? j.out.buf : "", (Py_ssize_t)j.out.len,
                           j.ends ? (const char *)j.ends : "", (Py_ssize_t)(j.nends * sizeof(int64_t)),
                           (const char *)in + j.consumed, (Py_ssize_t)(total - j.consumed),
                           j.finished ? Py_True : Py_False);
done:
    PyBuffer_Release(&spec);
    Py_DECREF(seq);
    PyMem_Free(specs);
    PyMem_RawFree(in);
    free(j.out.buf);
    free(j.ends);
    return result;
}

static PyMethodDef methods[] = {
    {"transcode", transcode, METH_VARARGS,
     "transcode(spec, chunks) -> (data, ends, rest, finished): BINARY2 rows of binary "
     "COPY rows (see tap/votable/binary2_copy.py)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_binary2copy",
                                    "BINARY2 rows from binary COPY rows (compiled).", -1,
                                    methods};

PyMODINIT_FUNC PyInit__binary2copy(void) { return PyModule_Create(&module); }
