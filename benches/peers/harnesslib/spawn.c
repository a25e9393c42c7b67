/* Runs one contender and reports its own resource usage.
 *
 *   spawn RESULT_FILE CGROUP_PROCS|- PROGRAM [ARG...]
 *
 * Forks; the child joins the cgroup (writes its pid to CGROUP_PROCS unless "-") and execs
 * PROGRAM. The parent waits with wait4 and writes one line to RESULT_FILE:
 *   status=<exit code or -signal> wall_ns=<N> maxrss_kb=<N> utime_us=<N> stime_us=<N>
 * then exits with the child's code (128 + N if killed by signal N).
 *
 * Why not fork from the harness directly: Linux carries the parent's RSS high-water mark into
 * a forked child's ru_maxrss across exec, so the child of a large Python process reports at
 * least that process's RSS. Forked from this small program, the baseline is this program's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: spawn RESULT_FILE CGROUP_PROCS|- PROGRAM [ARG...]\n");
        return 126;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        perror("spawn: fork");
        return 126;
    }
    if (pid == 0) {
        if (strcmp(argv[2], "-") != 0) {
            int fd = open(argv[2], O_WRONLY);
            char buf[32];
            int n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
            if (fd < 0 || write(fd, buf, (size_t)n) != n) {
                fprintf(stderr, "spawn: cannot join cgroup %s: %s\n", argv[2], strerror(errno));
                _exit(125);
            }
            close(fd);
        }
        execvp(argv[3], &argv[3]);
        fprintf(stderr, "spawn: cannot run %s: %s\n", argv[3], strerror(errno));
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("spawn: wait4");
            return 126;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long wall = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    FILE *f = fopen(argv[1], "w");
    if (!f) {
        perror("spawn: result file");
        return 126;
    }
    fprintf(f, "status=%d wall_ns=%lld maxrss_kb=%ld utime_us=%lld stime_us=%lld\n", code, wall,
            ru.ru_maxrss, (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
            (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec);
    fclose(f);
    return code >= 0 ? code : 128 - code;
}
