/*
 * logfmt_scan.c - reads a log file's header and walks its frame headers
 * with pread, without decrypting (see logfmt_scan.h). Used to list
 * support files with their time ranges on the device.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logfmt_scan.h"
#include "logshare.h"
#include "ls_fs.h"

static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
        if (n < 0)
            return ls_fs_errno_to_error(errno);
        if (n == 0)
            return LOGSHARE_ETRUNCATED;
        got += (size_t)n;
    }
    return 0;
}

int logfmt_scan_file(const char *path, logfmt_scan_result *out)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ls_fs_errno_to_error(errno);
    struct stat st;
    int rc = fstat(fd, &st) == 0 ? 0 : ls_fs_errno_to_error(errno);
    unsigned char hb[LOGFMT_HEADER_MAX];
    size_t hl = 0;
    if (rc == 0) {
        out->size = (uint64_t)st.st_size;
        hl = out->size < sizeof hb ? (size_t)out->size : sizeof hb;
        rc = read_at(fd, hb, hl, 0);
    }
    if (rc == 0)
        rc = logfmt_header_decode(hb, hl, &out->header);
    if (rc == 0) {
        uint64_t off = out->header.header_len;
        unsigned char fhb[LOGFMT_FRAME_HEADER_LEN];
        while (off + LOGFMT_FRAME_HEADER_LEN <= out->size) {
            logfmt_frame_header fh;
            if (read_at(fd, fhb, sizeof fhb, off) != 0 ||
                logfmt_frame_header_decode(fhb, &fh) != 0 ||
                off + LOGFMT_FRAME_HEADER_LEN + fh.body_len > out->size)
                break;
            if (fh.first_us != 0) {
                if (out->first_us == 0)
                    out->first_us = fh.first_us;
                out->last_us = fh.last_us;
            }
            off += LOGFMT_FRAME_HEADER_LEN + fh.body_len;
        }
    }
    close(fd);
    return rc;
}
