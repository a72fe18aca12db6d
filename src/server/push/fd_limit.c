/*
 * fd_limit.c - raises the soft file descriptor limit (see fd_limit.h).
 */
#include "fd_limit.h"

#include <sys/resource.h>

#include "logshare.h"

int fd_limit_raise(uint64_t *before, uint64_t *after)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return LOGSHARE_EIO;
    if (before)
        *before = (uint64_t)rl.rlim_cur;
    if (after)
        *after = (uint64_t)rl.rlim_cur;
    if (rl.rlim_cur == rl.rlim_max)
        return 0;
    /* RLIM_INFINITY as the hard limit: Linux refuses it for the soft one
     * above fs.nr_open, so take a large finite value instead. */
    rlim_t want = rl.rlim_max == RLIM_INFINITY ? (rlim_t)1048576 : rl.rlim_max;
    if (want <= rl.rlim_cur)
        return 0;
    struct rlimit nrl = {want, rl.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &nrl) != 0)
        return LOGSHARE_EIO;
    if (after)
        *after = (uint64_t)want;
    return 0;
}
