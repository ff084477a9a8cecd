/* maxrss.c -- run a command, report its wall time, CPU time and peak RSS.
 *
 * Usage: maxrss [-o FILE] [--] CMD [ARGS...]
 *
 * Runs CMD (execvp, stdin/stdout/stderr inherited), waits for it with wait4()
 * and prints one line:
 *
 *     wall=1.234567 user=1.000000 sys=0.100000 cpu=1.100000 maxrss_kb=12345 status=0
 *
 * to FILE (appended) or, without -o, to stderr. The command's own output is
 * left untouched, so benchmarks can redirect it freely. Exit status is the
 * command's (128+signal when killed, 127 when it could not be started).
 *
 * Why not /usr/bin/time: it is not installed on a fresh Debian, and its
 * format differs between GNU time and the shell keyword. wait4() gives the
 * same numbers straight from the kernel. Peak RSS is the child's own
 * (ru_maxrss, KiB on Linux), which for a single-process tool is what we want.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double tvSeconds(struct timeval tv) {
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static double nowSeconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void) {
    fprintf(stderr, "usage: maxrss [-o FILE] [--] CMD [ARGS...]\n");
    return 2;
}

/* Maps a wait status to a shell-like exit code. */
static int exitCode(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 70;
}

static int report(const char *out, double wall, const struct rusage *ru, int code) {
    FILE *f = stderr;
    if (out && !(f = fopen(out, "a"))) {
        fprintf(stderr, "maxrss: %s: %s\n", out, strerror(errno));
        return -1;
    }
    double user = tvSeconds(ru->ru_utime), sys = tvSeconds(ru->ru_stime);
    fprintf(f, "wall=%.6f user=%.6f sys=%.6f cpu=%.6f maxrss_kb=%ld status=%d\n",
            wall, user, sys, user + sys, ru->ru_maxrss, code);
    if (f != stderr) fclose(f);
    return 0;
}

int main(int argc, char **argv) {
    const char *out = NULL;
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "-o") == 0) {
        out = argv[i + 1];
        i += 2;
    }
    if (i < argc && strcmp(argv[i], "--") == 0) i++;
    if (i >= argc) return usage();

    double start = nowSeconds();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "maxrss: fork: %s\n", strerror(errno));
        return 70;
    }
    if (pid == 0) {
        execvp(argv[i], argv + i);
        fprintf(stderr, "maxrss: %s: %s\n", argv[i], strerror(errno));
        _exit(127);
    }

    int status = 0;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "maxrss: wait4: %s\n", strerror(errno));
            return 70;
        }
    }
    double wall = nowSeconds() - start;
    int code = exitCode(status);
    if (report(out, wall, &ru, code) < 0) return 70;
    return code;
}
