/*
 * auth_secret.c - the server's generated secrets (jwt-secret,
 * link-secret): created once, on first use, durably and atomically, and
 * never replaced.
 *
 * Creation writes a temporary file, fsyncs it and then link()s it into
 * place, which unlike rename() fails when the name exists: if two
 * processes start at once, the first link wins and both read its
 * secret, so tokens signed by one verify in the other.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "logshare.h"
#include "ls_fs.h"
#include "ls_hex.h"

#define SECRET_MIN_LEN 32
#define SECRET_MAX_FILE 4096

static int create_secret(const char *path)
{
    unsigned char rnd[32];
    char text[sizeof rnd * 2 + 2];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return LOGSHARE_EIO;
    ls_hex_encode(rnd, sizeof rnd, text);
    strcat(text, "\n");
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    char *dir = ls_fs_dirname(path);
    int rc = 0;
    if (!tmp || !dir) {
        rc = LOGSHARE_ENOMEM;
        goto out;
    }
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rc = ls_fs_errno_to_error(errno);
        goto out;
    }
    if (fchmod(fd, 0600) != 0 || (rc = ls_fs_write_all(fd, text, strlen(text))) != 0 ||
        fsync(fd) != 0) {
        if (rc == 0)
            rc = ls_fs_errno_to_error(errno);
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (link(tmp, path) != 0 && errno != EEXIST)
        rc = ls_fs_errno_to_error(errno);
    unlink(tmp);
    if (rc == 0)
        rc = ls_fs_fsync_dir(dir);
out:
    memset(rnd, 0, sizeof rnd);
    free(tmp);
    free(dir);
    return rc;
}

int auth_secret_load_or_create(const char *path, char **secret, size_t *len)
{
    if (!path || !secret || !len)
        return LOGSHARE_EINVAL;
    *secret = NULL;
    *len = 0;
    char *data = NULL;
    size_t n = 0;
    int rc = ls_fs_read_file(path, SECRET_MAX_FILE, &data, &n);
    if (rc == LOGSHARE_ENOENT) {
        if ((rc = create_secret(path)) != 0)
            return rc;
        rc = ls_fs_read_file(path, SECRET_MAX_FILE, &data, &n);
    }
    if (rc != 0)
        return rc == LOGSHARE_ETOOLARGE ? LOGSHARE_EKEY : rc;
    while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r' || data[n - 1] == ' ' ||
                     data[n - 1] == '\t'))
        data[--n] = '\0';
    if (n < SECRET_MIN_LEN) {
        free(data);
        return LOGSHARE_EKEY;
    }
    *secret = data;
    *len = n;
    return 0;
}
