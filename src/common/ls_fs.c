/*
 * ls_fs.c - durable file system helpers (see ls_fs.h).
 */
#include "ls_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logshare.h"

int ls_fs_errno_to_error(int errnum)
{
    switch (errnum) {
    case 0:
        return 0;
    case ENOMEM:
        return LOGSHARE_ENOMEM;
    case ENOENT:
    case ENOTDIR:
        return LOGSHARE_ENOENT;
    case EEXIST:
        return LOGSHARE_EEXIST;
    case ENOSPC:
    case EDQUOT:
        return LOGSHARE_ENOSPC;
    case EACCES:
    case EPERM:
    case EROFS:
        return LOGSHARE_EPERM;
    case EINVAL:
    case ENAMETOOLONG:
    case EISDIR: /* a directory named where a file belongs: a bad path, not a failing disk */
        return LOGSHARE_EINVAL;
    case EFBIG:
        return LOGSHARE_ETOOLARGE;
    case EBUSY:
        return LOGSHARE_EBUSY;
    default:
        return LOGSHARE_EIO;
    }
}

int ls_fs_mkdir_p(const char *dir, mode_t mode)
{
    if (!dir || !*dir)
        return LOGSHARE_EINVAL;
    size_t len = strlen(dir);
    char *path = malloc(len + 1);
    if (!path)
        return LOGSHARE_ENOMEM;
    memcpy(path, dir, len + 1);
    int rc = 0;
    for (char *p = path + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(path, mode) != 0 && errno != EEXIST) {
                rc = ls_fs_errno_to_error(errno);
                break;
            }
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    if (rc == 0) {
        struct stat st;
        if (stat(path, &st) != 0)
            rc = ls_fs_errno_to_error(errno);
        else if (!S_ISDIR(st.st_mode))
            rc = LOGSHARE_EEXIST;
    }
    free(path);
    return rc;
}

int ls_fs_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return ls_fs_errno_to_error(errno);
    int rc = 0;
    if (fsync(fd) != 0)
        rc = ls_fs_errno_to_error(errno);
    close(fd);
    return rc;
}

int ls_fs_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return ls_fs_errno_to_error(errno);
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

char *ls_fs_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

int ls_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    char *dir = ls_fs_dirname(path);
    if (!tmp || !dir) {
        free(tmp);
        free(dir);
        return LOGSHARE_ENOMEM;
    }
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    int rc = 0;
    if (fd < 0) {
        rc = ls_fs_errno_to_error(errno);
        goto out;
    }
    if (fchmod(fd, mode) != 0 || (rc = ls_fs_write_all(fd, data, len)) != 0 || fsync(fd) != 0) {
        if (rc == 0)
            rc = ls_fs_errno_to_error(errno);
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        rc = ls_fs_errno_to_error(errno);
        unlink(tmp);
        goto out;
    }
    rc = ls_fs_fsync_dir(dir);
out:
    free(tmp);
    free(dir);
    return rc;
}

int ls_fs_read_file(const char *path, size_t max_len, char **data, size_t *len)
{
    *data = NULL;
    if (len)
        *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ls_fs_errno_to_error(errno);
    size_t cap = 4096, used = 0;
    char *buf = malloc(cap);
    int rc = 0;
    if (!buf) {
        close(fd);
        return LOGSHARE_ENOMEM;
    }
    for (;;) {
        if (used + 1 >= cap) {
            if (cap > max_len + 1) {
                rc = LOGSHARE_ETOOLARGE;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = LOGSHARE_ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + used, cap - used - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = ls_fs_errno_to_error(errno);
            break;
        }
        if (n == 0)
            break;
        used += (size_t)n;
        if (used > max_len) {
            rc = LOGSHARE_ETOOLARGE;
            break;
        }
    }
    close(fd);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[used] = '\0';
    *data = buf;
    if (len)
        *len = used;
    return 0;
}
