#ifndef TRW_CTRWIO_SHIM_H
#define TRW_CTRWIO_SHIM_H
// Header-only shim for the GNU extensions TRWIO needs that Swift's Glibc module
// does not show (they are declared only under _GNU_SOURCE): pipe2(2) and
// accept4(2), which create descriptors close-on-exec atomically, and
// posix_spawn_file_actions_addclosefrom_np (glibc >= 2.34).

#include <spawn.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

// pipe2(2): -1 and errno on failure, as the libc call.
static inline int trw_pipe2(int fds[2], int flags) {
    return (int)syscall(SYS_pipe2, fds, flags);
}

// accept4(2) without the peer address: -1 and errno on failure.
static inline int trw_accept4(int fd, int flags) {
    return (int)syscall(SYS_accept4, fd, NULL, NULL, flags);
}

// glibc 2.34+ (Debian 12 has 2.36); declared here because <spawn.h> shows it only under _GNU_SOURCE.
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);

#endif
