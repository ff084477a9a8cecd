/* stop.c -- the stop request and a stoppable file reader (see stop.h). */
#include "stop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define POLL_SLICE_MS 200

static volatile sig_atomic_t stop_sig;

void stopNote(int sig) { stop_sig = sig ? sig : -1; }
int stopRequested(void) { return stop_sig != 0; }

const char *stopSignalName(void) {
    switch (stop_sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    }
    return "a signal";
}

static ssize_t stopRead(void *src, void *buf, size_t cap, char *err, size_t errlen) {
    int fd = *(int *)src;
    for (;;) {
        if (stopRequested()) {
            snprintf(err, errlen, "interrupted by %s", stopSignalName());
            return -1;
        }
        /* A regular file is always ready; a pipe may not be for long. */
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ready = poll(&p, 1, POLL_SLICE_MS);
        if (ready == 0 || (ready < 0 && errno == EINTR)) continue;
        ssize_t n = read(fd, buf, cap);
        if (n >= 0) return n;
        if (errno == EINTR || errno == EAGAIN) continue;
        snprintf(err, errlen, "read error: %s", strerror(errno));
        return -1;
    }
}

int stopInputOpen(stopInput *in, const char *path) {
    in->owned = strcmp(path, "-") != 0;
    in->fd = in->owned ? open(path, O_RDONLY | O_CLOEXEC) : 0;
    if (in->fd < 0) return -1;
#ifdef POSIX_FADV_SEQUENTIAL
    if (in->owned) posix_fadvise(in->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    in->r = rdbReaderNew(stopRead, &in->fd);
    if (!in->r) {
        if (in->owned) close(in->fd);
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

void stopInputClose(stopInput *in) {
    rdbReaderFree(in->r);
    if (in->owned && in->fd >= 0) close(in->fd);
    in->r = NULL;
    in->fd = -1;
}
