/* Native tree walk for the inventory: one lstat per entry, several threads, no Python object
 * per entry.
 *
 * A re-scan of an unchanged tree is a stat walk and nothing else, so its cost is the walk's.
 * In Python every entry costs a DirEntry, a stat_result and a handful of appends on top of the
 * system calls (about 1.6x `find` on 49,000 files). Here worker threads share a stack of
 * directories, list them with readdir and stat every non-directory entry with fstatat relative
 * to the open directory, all without the GIL; the results come back as a few flat buffers that
 * Python turns into columns. Semantics are those of walk.walk_tree: directories named `.git`
 * are skipped, symlinks are stat-ed, never followed, an entry that cannot be stat-ed and a
 * directory that cannot be opened become rows with their errno.
 *
 * walk(root: bytes, threads: int) -> (paths: bytes, ends: bytes[int64], stats: bytes[int64 x 9],
 *                                     errnos: bytes[int32], is_dir_error: bytes[uint8])
 * Entries are sorted by path bytes, so the result does not depend on thread scheduling.
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_STAT 9

typedef struct {
    char *data;
    size_t len, cap;
} buf_t;

static int buf_reserve(buf_t *b, size_t more) {
    if (b->len + more <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

static int buf_put(buf_t *b, const void *src, size_t n) {
    if (buf_reserve(b, n)) return -1;
    memcpy(b->data + b->len, src, n);
    b->len += n;
    return 0;
}

/* One thread's results: entry i's path is paths[start_i:end_i] where start_i = end_{i-1}. */
typedef struct {
    buf_t paths, ends, stats, errnos, dir_err;
    size_t count;
} out_t;

typedef struct {
    char **items;
    size_t len, cap;
} stack_t_;

typedef struct {
    int root_fd;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    stack_t_ todo;
    int active; /* threads listing a directory now */
    int failed;
} shared_t;

static int stack_push(stack_t_ *s, char *item) {
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        char **p = realloc(s->items, cap * sizeof(char *));
        if (!p) return -1;
        s->items = p;
        s->cap = cap;
    }
    s->items[s->len++] = item;
    return 0;
}

static int add_entry(out_t *o, const char *rel, size_t rel_len, const struct stat *st, int err, uint8_t dir_error) {
    int64_t v[N_STAT] = {0};
    if (st) {
        uint64_t ino = (uint64_t)st->st_ino;
        v[0] = (int64_t)st->st_size;
        v[1] = (int64_t)st->st_blocks * 512;
        v[2] = (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
        v[3] = (int64_t)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec;
        v[4] = (int64_t)st->st_mode;
        v[5] = (int64_t)st->st_uid;
        v[6] = (int64_t)st->st_gid;
        v[7] = (int64_t)ino; /* two's complement, as walk.py stores inodes >= 2**63 */
        v[8] = (int64_t)st->st_nlink;
    }
    int32_t e = err;
    if (buf_put(&o->paths, rel, rel_len)) return -1;
    int64_t end = (int64_t)o->paths.len;
    if (buf_put(&o->ends, &end, sizeof end) || buf_put(&o->stats, v, sizeof v) ||
        buf_put(&o->errnos, &e, sizeof e) || buf_put(&o->dir_err, &dir_error, 1))
        return -1;
    o->count++;
    return 0;
}

/* List one directory (`rel` relative to the root, "" for the root itself). New subdirectories
 * go to `found`; returns -1 only when out of memory. */
static int list_dir(shared_t *sh, out_t *o, const char *rel, stack_t_ *found) {
    size_t rel_len = strlen(rel);
    int fd = openat(sh->root_fd, rel_len ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return add_entry(o, rel_len ? rel : ".", rel_len ? rel_len : 1, NULL, errno, 1);
    DIR *dp = fdopendir(fd);
    if (!dp) {
        int err = errno;
        close(fd);
        return add_entry(o, rel_len ? rel : ".", rel_len ? rel_len : 1, NULL, err, 1);
    }
    char *child = NULL;
    size_t child_cap = 0;
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dp);
        if (!de) break;
        const char *name = de->d_name;
        if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
        size_t name_len = strlen(name);
        size_t need = rel_len + 1 + name_len + 1;
        if (need > child_cap) {
            char *p = realloc(child, need * 2);
            if (!p) { rc = -1; break; }
            child = p;
            child_cap = need * 2;
        }
        size_t child_len = 0;
        if (rel_len) {
            memcpy(child, rel, rel_len);
            child[rel_len] = '/';
            child_len = rel_len + 1;
        }
        memcpy(child + child_len, name, name_len + 1);
        child_len += name_len;

        struct stat st;
        int have_stat = 0, is_dir = de->d_type == DT_DIR;
        if (de->d_type == DT_UNKNOWN) { /* some file systems do not fill d_type */
            if (fstatat(dirfd(dp), name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                have_stat = 1;
                is_dir = S_ISDIR(st.st_mode);
            }
        }
        if (is_dir) {
            if (strcmp(name, ".git") == 0) continue;
            char *copy = strdup(child);
            if (!copy || stack_push(found, copy)) { free(copy); rc = -1; break; }
            continue;
        }
        if (!have_stat && fstatat(dirfd(dp), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (add_entry(o, child, child_len, NULL, errno, 0)) { rc = -1; break; }
            continue;
        }
        if (add_entry(o, child, child_len, &st, 0, 0)) { rc = -1; break; }
    }
    if (rc == 0 && errno != 0) /* readdir failed part-way: the folder is an error row, not silently short */
        rc = add_entry(o, rel_len ? rel : ".", rel_len ? rel_len : 1, NULL, errno, 1);
    free(child);
    closedir(dp);
    return rc;
}

static void *worker(void *arg) {
    void **args = arg;
    shared_t *sh = args[0];
    out_t *o = args[1];
    stack_t_ found = {0};
    for (;;) {
        pthread_mutex_lock(&sh->lock);
        while (sh->todo.len == 0 && sh->active > 0 && !sh->failed) pthread_cond_wait(&sh->cond, &sh->lock);
        if (sh->todo.len == 0 || sh->failed) { /* nothing left and nobody can add more */
            pthread_cond_broadcast(&sh->cond);
            pthread_mutex_unlock(&sh->lock);
            break;
        }
        char *dir = sh->todo.items[--sh->todo.len];
        sh->active++;
        pthread_mutex_unlock(&sh->lock);

        found.len = 0;
        int rc = list_dir(sh, o, dir, &found);
        free(dir);

        pthread_mutex_lock(&sh->lock);
        if (rc) sh->failed = 1; /* out of memory: every thread stops */
        for (size_t i = 0; i < found.len; i++) {
            if (!sh->failed && stack_push(&sh->todo, found.items[i]) == 0) continue;
            free(found.items[i]);
            sh->failed = 1;
        }
        sh->active--;
        pthread_cond_broadcast(&sh->cond);
        pthread_mutex_unlock(&sh->lock);
    }
    free(found.items);
    return NULL;
}

/* Sorting: one record per entry pointing into its thread's buffers. */
typedef struct {
    const char *path;
    size_t len;
    const out_t *o;
    size_t i;
} ref_t;

static int cmp_ref(const void *a, const void *b) {
    const ref_t *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->path, y->path, n);
    if (c) return c;
    return (x->len > y->len) - (x->len < y->len);
}

static void free_out(out_t *o) {
    free(o->paths.data);
    free(o->ends.data);
    free(o->stats.data);
    free(o->errnos.data);
    free(o->dir_err.data);
}

static PyObject *fastwalk_walk(PyObject *self, PyObject *args) {
    const char *root;
    int threads;
    if (!PyArg_ParseTuple(args, "yi", &root, &threads)) return NULL; /* "y": no NUL inside the path */
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;

    /* O_PATH: an unreadable root still opens here and becomes a "." error row, as in walk.py */
    int root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) return PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, PyTuple_GET_ITEM(args, 0));

    shared_t sh = {.root_fd = root_fd};
    pthread_mutex_init(&sh.lock, NULL);
    pthread_cond_init(&sh.cond, NULL);
    out_t *outs = calloc((size_t)threads, sizeof(out_t));
    pthread_t *tids = calloc((size_t)threads, sizeof(pthread_t));
    void **targs = calloc((size_t)threads * 2, sizeof(void *));
    char *first = strdup("");
    int started = 0, nomem = !outs || !tids || !targs || !first || stack_push(&sh.todo, first);
    if (sh.todo.len == 0) free(first); /* never pushed (free(NULL) is a no-op); pushed ones are freed below */

    if (!nomem) {
        Py_BEGIN_ALLOW_THREADS
        for (int t = 0; t < threads; t++) {
            targs[2 * t] = &sh;
            targs[2 * t + 1] = &outs[t];
        }
        for (started = 1; started < threads; started++) /* fewer threads if the system refuses one */
            if (pthread_create(&tids[started], NULL, worker, &targs[2 * started]) != 0) break;
        worker(&targs[0]); /* this thread works too */
        for (int t = 1; t < started; t++) pthread_join(tids[t], NULL);
        Py_END_ALLOW_THREADS
    }
    close(root_fd);
    for (size_t i = 0; i < sh.todo.len; i++) free(sh.todo.items[i]);
    free(sh.todo.items);
    pthread_mutex_destroy(&sh.lock);
    pthread_cond_destroy(&sh.cond);
    if (!nomem && sh.failed) nomem = 1;

    PyObject *result = NULL;
    size_t n = 0, path_bytes = 0;
    ref_t *refs = NULL;
    if (!nomem) {
        for (int t = 0; t < threads; t++) {
            n += outs[t].count;
            path_bytes += outs[t].paths.len;
        }
        refs = malloc((n ? n : 1) * sizeof(ref_t));
        nomem = refs == NULL;
    }
    if (!nomem) {
        size_t k = 0;
        for (int t = 0; t < threads; t++) {
            const int64_t *ends = (const int64_t *)outs[t].ends.data;
            for (size_t i = 0; i < outs[t].count; i++) {
                size_t start = i ? (size_t)ends[i - 1] : 0;
                refs[k++] = (ref_t){outs[t].paths.data + start, (size_t)ends[i] - start, &outs[t], i};
            }
        }
        qsort(refs, n, sizeof(ref_t), cmp_ref);
        PyObject *paths = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)path_bytes);
        PyObject *ends = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * sizeof(int64_t)));
        PyObject *stats = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * N_STAT * sizeof(int64_t)));
        PyObject *errnos = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * sizeof(int32_t)));
        PyObject *dir_err = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n);
        if (paths && ends && stats && errnos && dir_err) {
            char *pp = PyBytes_AS_STRING(paths);
            int64_t *pe = (int64_t *)PyBytes_AS_STRING(ends);
            int64_t *ps = (int64_t *)PyBytes_AS_STRING(stats);
            int32_t *perr = (int32_t *)PyBytes_AS_STRING(errnos);
            uint8_t *pd = (uint8_t *)PyBytes_AS_STRING(dir_err);
            size_t at = 0;
            for (size_t k = 0; k < n; k++) {
                const ref_t *r = &refs[k];
                memcpy(pp + at, r->path, r->len);
                at += r->len;
                pe[k] = (int64_t)at;
                memcpy(ps + k * N_STAT, (const int64_t *)r->o->stats.data + r->i * N_STAT, N_STAT * sizeof(int64_t));
                perr[k] = ((const int32_t *)r->o->errnos.data)[r->i];
                pd[k] = ((const uint8_t *)r->o->dir_err.data)[r->i];
            }
            result = PyTuple_Pack(5, paths, ends, stats, errnos, dir_err);
        }
        Py_XDECREF(paths);
        Py_XDECREF(ends);
        Py_XDECREF(stats);
        Py_XDECREF(errnos);
        Py_XDECREF(dir_err);
    }
    free(refs);
    if (outs)
        for (int t = 0; t < threads; t++) free_out(&outs[t]);
    free(outs);
    free(tids);
    free(targs);
    if (nomem && !PyErr_Occurred()) PyErr_NoMemory();
    return result;
}

static PyMethodDef methods[] = {
    {"walk", fastwalk_walk, METH_VARARGS,
     "walk(root: bytes, threads: int) -> (paths, ends, stats, errnos, is_dir_error) as flat buffers"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastwalk", "Native tree walk for the inventory.", -1,
                                    methods};

PyMODINIT_FUNC PyInit__fastwalk(void) { return PyModule_Create(&module); }
