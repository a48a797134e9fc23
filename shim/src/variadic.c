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
long shadow_write_all(int fd, const char *buf, size_t n);
long shadow_syscall(long n, long a, long b, long c, long d, long e, long f, int *handled);
int shadow_exec(const char *path, char *const argv[], char *const envp[], int search);

static int real_vdprintf(int fd, const char *fmt, va_list ap) {
    static int (*real)(int, const char *, va_list);
    if (!real)
        real = (int (*)(int, const char *, va_list))dlsym(RTLD_NEXT, "vdprintf");
    return real(fd, fmt, ap);
}

int shadow_c_vdprintf(int fd, const char *fmt, va_list ap) {
    if (!shadow_fd_is_shadowed(fd))
        return real_vdprintf(fd, fmt, ap);
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
