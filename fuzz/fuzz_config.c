/*
 * fuzz_config.c - fuzz harness for logshared's INI config reader
 * (src/server/config/server_config.c: load_ini and the value checks
 * behind every key: listen addresses, URLs, proxies, sizes with k/M/G).
 * A config file is the admin's, not an attacker's, but a typo in it
 * must give a clear error, never a crash or a silently wrong limit.
 *
 * Input layout: the bytes are the file, handed to server_config_load
 * as --config through a memfd (no disk). Checked: an error comes with
 * a non-empty message; a success leaves the numbers non-negative.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/server_config.h"
#include "ls_fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz-config", MFD_CLOEXEC);
    if (fd < 0 || ls_fs_write_all(fd, data, size) != 0)
        abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    char *argv[] = {"logshared", "--config", path, NULL};
    char err[512];
    memset(err, 'x', sizeof err);
    server_config c;
    int rc = server_config_load(&c, 3, argv, 1, err, sizeof err);
    if (rc != 0 && (!memchr(err, '\0', sizeof err) || err[0] == '\0'))
        abort();
    if (rc == 0 && (c.max_body_bytes < 0 || c.max_file_bytes < 0))
        abort();
    server_config_clear(&c);
    close(fd);
    return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include "fuzz_replay.h"
#endif
