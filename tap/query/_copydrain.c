/* Draining the data of a COPY TO STDOUT from libpq, many rows per call (compiled).
 *
 * PostgreSQL sends a COPY's data as one message per row. Taking them one Python call at
 * a time (psycopg's PGconn.get_copy_data: a tuple, a buffer object and a memoryview per
 * row) costs about as much as PostgreSQL spends writing the row, which keeps a CSV
 * result at several times psql's speed. drain() takes every message libpq already holds
 * (up to a row count) in one call and returns their bytes end to end with the offsets
 * where each row ends.
 *
 * The module links against nothing: bind(path) finds PQgetCopyData and PQfreemem in the
 * libpq that psycopg has loaded (dlopen with RTLD_NOLOAD), so both use the same library
 * and the same PGconn. See tap/query/copy_drain.py.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int (*get_copy_data_fn)(void *conn, char **buffer, int async);
typedef void (*freemem_fn)(void *ptr);

static get_copy_data_fn get_copy_data = NULL;
static freemem_fn pq_freemem = NULL;

static PyObject *bind(PyObject *self, PyObject *args) {
    const char *path;
    if (!PyArg_ParseTuple(args, "s", &path)) return NULL;
    void *lib = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (lib == NULL) {
        PyErr_Format(PyExc_OSError, "libpq is not loaded from %s", path);
        return NULL;
    }
    get_copy_data_fn g = (get_copy_data_fn)dlsym(lib, "PQgetCopyData");
    freemem_fn f = (freemem_fn)dlsym(lib, "PQfreemem");
    if (g == NULL || f == NULL) {
        PyErr_Format(PyExc_OSError, "%s has no PQgetCopyData/PQfreemem", path);
        return NULL;
    }
    get_copy_data = g;
    pq_freemem = f;
    Py_RETURN_NONE;
}

/* drain(pgconn_ptr, max_rows, base) -> (data, ends, status)
 *
 * status: 1 max_rows taken (more may be waiting), 0 libpq needs more input from the
 * socket, -1 the COPY's data ended, -2 libpq failed (the COPY's result says why).
 * ends: native int64 offsets where each row ends, counted from base. */
static PyObject *drain(PyObject *self, PyObject *args) {
    unsigned long long ptr;
    Py_ssize_t max_rows, base;
    if (!PyArg_ParseTuple(args, "Knn", &ptr, &max_rows, &base)) return NULL;
    if (get_copy_data == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "bind() was not called");
        return NULL;
    }
    char *out = NULL;
    size_t len = 0, cap = 0;
    int64_t *ends = NULL;
    Py_ssize_t rows = 0, cap_ends = 0;
    int status = 1;
    while (rows < max_rows) {
        char *msg = NULL;
        int n = get_copy_data((void *)(uintptr_t)ptr, &msg, 1);
        if (n <= 0) {
            if (msg != NULL) pq_freemem(msg);
            status = n;
            break;
        }
        if (len + (size_t)n > cap) {
            size_t want = cap ? cap * 2 : 1 << 16;
            while (want < len + (size_t)n) want *= 2;
            char *grown = realloc(out, want);
            if (grown == NULL) goto nomem;
            out = grown;
            cap = want;
        }
        if (rows == cap_ends) {
            Py_ssize_t want = cap_ends ? cap_ends * 2 : 1024;
            int64_t *grown = realloc(ends, (size_t)want * sizeof(int64_t));
            if (grown == NULL) goto nomem;
            ends = grown;
            cap_ends = want;
        }
        memcpy(out + len, msg, (size_t)n);
        pq_freemem(msg);
        len += (size_t)n;
        ends[rows++] = (int64_t)base + (int64_t)len;
    }
    PyObject *result = Py_BuildValue("(y#y#i)", out ? out : "", (Py_ssize_t)len,
                                     ends ? (const char *)ends : "",
                                     rows * (Py_ssize_t)sizeof(int64_t), status);
    free(out);
    free(ends);
    return result;
nomem:
    free(out);
    free(ends);
    return PyErr_NoMemory();
}

static PyMethodDef methods[] = {
    {"bind", bind, METH_VARARGS,
     "bind(path): use PQgetCopyData of the libpq loaded from path (psycopg's)."},
    {"drain", drain, METH_VARARGS,
     "drain(pgconn_ptr, max_rows, base) -> (data, ends, status): the COPY rows libpq "
     "holds, end to end (see tap/query/copy_drain.py)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_copydrain",
                                    "COPY data from libpq, many rows per call (compiled).",
                                    -1, methods};

PyMODINIT_FUNC PyInit__copydrain(void) { return PyModule_Create(&module); }
