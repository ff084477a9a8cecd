/* blackhole.c -- a TCP listener that never accepts, for it_import.sh.
 *
 *   blackhole SECONDS
 *
 * Listens on 127.0.0.1 on a port the kernel picks, prints that port on
 * stdout, then sleeps (at most SECONDS, so a forgotten one goes away by
 * itself). The kernel completes connections into the backlog, so a client
 * connects at once and then waits forever for replies: the way a stuck
 * server or a black-holing middlebox looks, without sending a packet off
 * this machine.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int secs = argc > 1 ? atoi(argv[1]) : 30;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        perror("blackhole");
        return 1;
    }
    printf("%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    sleep((unsigned)(secs > 0 ? secs : 30));
    close(fd);
    return 0;
}
