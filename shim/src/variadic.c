/* Variadic entry points, which stable Rust cannot define. Each is reached through a naked
 * jump in variadic.rs (so every register, vector registers included, arrives intact) and
 * forwards into the Rust core with fixed arguments. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int shadow_fd_is_shadowed(int fd);
int shadow_fd_is_not_the_programs(int fd);
unsigned long long shadow_relinks(void);
unsigned long long shadow_let_goes(void);
void shadow_passed_through(int fd, unsigned long long before, unsigned long long checked);
long shadow_write_all(int fd, const char *buf, size_t n);
long shadow_syscall(long n, long a, long b, long c, long d, long e, long f, int *handled);
int shadow_exec(const char *path, char *const argv[], char *const envp[], int search);
int shadow_clone_is_fork(int flags);
void shadow_fork_prepare(void);
void shadow_fork_parent(void);
void shadow_fork_child(void);

static int real_vdprintf(int fd, const char *fmt, va_list ap) {
    static int (*real)(int, const char *, va_list);
    if (!real)
        real = (int (*)(int, const char *, va_list))dlsym(RTLD_NEXT, "vdprintf");
    return real(fd, fmt, ap);
}

int shadow_c_vdprintf(int fd, const char *fmt, va_list ap) {
    if (shadow_fd_is_not_the_programs(fd)) {
        errno = EBADF;
        return -1;
    }
    unsigned long long before = shadow_relinks();
    if (!shadow_fd_is_shadowed(fd)) {
        unsigned long long checked = shadow_let_goes();
        int n = real_vdprintf(fd, fmt, ap);
        shadow_passed_through(fd, before, checked);
        return n;
    }
    char *buf;
    int n = vasprintf(&buf, fmt, ap);
    if (n < 0)
        return -1;
    long w = shadow_write_all(fd, buf, (size_t)n);
    int saved = errno;
    free(buf);
    errno = saved;
    return w < 0 ? -1 : n;
}

int shadow_c_dprintf(int fd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = shadow_c_vdprintf(fd, fmt, ap);
    va_end(ap);
    return r;
}

long shadow_c_syscall(long n, ...) {
    static long (*real)(long, ...);
    va_list ap;
    va_start(ap, n);
    long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
    long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
    va_end(ap);
    int handled = 0;
    long r = shadow_syscall(n, a, b, c, d, e, f, &handled);
    if (handled)
        return r;
    if (!real)
        real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    return real(n, a, b, c, d, e, f);
}

/* execl(3) family: collect the argument list, then the exec hooks (in Rust). */
#define COLLECT_ARGV(first, ap, argv, envp_out)                                   \
    size_t count = 1;                                                             \
    va_start(ap, first);                                                          \
    while (va_arg(ap, char *) != NULL)                                            \
        count++;                                                                  \
    va_end(ap);                                                                   \
    char *argv[count + 1];                                                        \
    argv[0] = (char *)first;                                                      \
    va_start(ap, first);                                                          \
    for (size_t i = 1; i <= count; i++)                                           \
        argv[i] = va_arg(ap, char *);                                             \
    envp_out = va_arg(ap, char *const *);                                         \
    va_end(ap);

extern char **environ;

int shadow_c_execl(const char *path, const char *arg, ...) {
    va_list ap;
    char *const *envp;
    COLLECT_ARGV(arg, ap, argv, envp)
    (void)envp;
    return shadow_exec(path, argv, environ, 0);
}

int shadow_c_execlp(const char *file, const char *arg, ...) {
    va_list ap;
    char *const *envp;
    COLLECT_ARGV(arg, ap, argv, envp)
    (void)envp;
    return shadow_exec(file, argv, environ, 1);
}

int shadow_c_execle(const char *path, const char *arg, ...) {
    va_list ap;
    char *const *envp;
    COLLECT_ARGV(arg, ap, argv, envp)
    return shadow_exec(path, argv, envp, 0);
}

/* The wide printf family (see hooks/wide.rs): on the shim's own streams, formatted here and
 * written there through the byte calls; every other stream goes to glibc. */
#include <wchar.h>
int shadow_is_own_stream(FILE *f);
int shadow_wide_put(FILE *f, const wchar_t *ws, size_t n);

static int wide_format_put(FILE *f, const wchar_t *fmt, va_list ap) {
    for (size_t cap = 256;; cap *= 4) {
        wchar_t *buf = malloc(cap * sizeof(wchar_t));
        if (!buf)
            return -1;
        errno = 0;
        va_list copy;
        va_copy(copy, ap);
        int n = vswprintf(buf, cap, fmt, copy);
        va_end(copy);
        int failed = errno;
        if (n >= 0) {
            int ok = shadow_wide_put(f, buf, (size_t)n);
            int saved = errno;
            free(buf);
            errno = saved;
            return ok == 1 ? n : -1;
        }
        free(buf);
        /* -1 with errno set is a real failure (EILSEQ, EINVAL); without, the buffer was short. */
        if (failed != 0 || cap >= ((size_t)1 << 26)) {
            errno = failed ? failed : EOVERFLOW;
            return -1;
        }
    }
}

typedef int (*vfwprintf_fn)(FILE *, const wchar_t *, va_list);
typedef int (*vfwprintf_chk_fn)(FILE *, int, const wchar_t *, va_list);

#define REAL(name, type) \
    static type real; \
    if (!real) \
        real = (type)dlsym(RTLD_NEXT, name);

int shadow_c_vfwprintf(FILE *f, const wchar_t *fmt, va_list ap) {
    if (shadow_is_own_stream(f))
        return wide_format_put(f, fmt, ap);
    REAL("vfwprintf", vfwprintf_fn);
    return real(f, fmt, ap);
}

int shadow_c_vfwprintf_chk(FILE *f, int flag, const wchar_t *fmt, va_list ap) {
    if (shadow_is_own_stream(f))
        return wide_format_put(f, fmt, ap);
    REAL("__vfwprintf_chk", vfwprintf_chk_fn);
    return real(f, flag, fmt, ap);
}

int shadow_c_vwprintf(const wchar_t *fmt, va_list ap) {
    return shadow_c_vfwprintf(stdout, fmt, ap);
}

int shadow_c_vwprintf_chk(int flag, const wchar_t *fmt, va_list ap) {
    return shadow_c_vfwprintf_chk(stdout, flag, fmt, ap);
}

int shadow_c_fwprintf(FILE *f, const wchar_t *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = shadow_c_vfwprintf(f, fmt, ap);
    va_end(ap);
    return r;
}

int shadow_c_fwprintf_chk(FILE *f, int flag, const wchar_t *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = shadow_c_vfwprintf_chk(f, flag, fmt, ap);
    va_end(ap);
    return r;
}

int shadow_c_wprintf(const wchar_t *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = shadow_c_vfwprintf(stdout, fmt, ap);
    va_end(ap);
    return r;
}

int shadow_c_wprintf_chk(int flag, const wchar_t *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = shadow_c_vfwprintf_chk(stdout, flag, fmt, ap);
    va_end(ap);
    return r;
}

/* clone(3) with a child that gets its own copy of the memory (no CLONE_VM): a fork, but
 * glibc runs no fork handlers for it, so the shim's run here (the child shared descriptions
 * its parent's shim did not know were shared, and wrote with the parent's registry slot and
 * intents: members differed). The child's function then leaves by _exit, which the shim
 * sees, rather than by glibc's bare exit system call, which it would not (its intents would
 * stay open, taken for a crash). Threads and vfork-like children go through as they are. */
struct clone_start {
    int (*fn)(void *);
    void *arg;
};

static int clone_child(void *p) {
    /* The parent's frame, in the child's own copy of the memory. */
    struct clone_start *s = p;
    shadow_fork_child();
    _exit(s->fn(s->arg));
}

int shadow_c_clone(int (*fn)(void *), void *stack, int flags, void *arg, ...) {
    static int (*real)(int (*)(void *), void *, int, void *, ...);
    /* As glibc's own clone does, the optional arguments are read whether given or not. */
    va_list ap;
    va_start(ap, arg);
    pid_t *parent_tid = va_arg(ap, pid_t *);
    void *tls = va_arg(ap, void *);
    pid_t *child_tid = va_arg(ap, pid_t *);
    va_end(ap);
    if (!real)
        real = (int (*)(int (*)(void *), void *, int, void *, ...))dlsym(RTLD_NEXT, "clone");
    if (fn == NULL || !shadow_clone_is_fork(flags))
        return real(fn, stack, flags, arg, parent_tid, tls, child_tid);
    struct clone_start s = {fn, arg};
    shadow_fork_prepare();
    int pid = real(clone_child, stack, flags, &s, parent_tid, tls, child_tid);
    int saved = errno;
    shadow_fork_parent();
    errno = saved;
    return pid;
}
