/*
 * logfmt_scan.h - what can be learned about a log file without its key:
 * the header, and the time range from the frame headers (readable in
 * clear so a device can list its files with times; they are still
 * authenticated, as part of each frame's additional data).
 */
#ifndef LOGFMT_SCAN_H
#define LOGFMT_SCAN_H

#include <stdint.h>

#include "logfmt.h"

typedef struct logfmt_scan_result {
    logfmt_header header;
    uint64_t size;
    int64_t first_us, last_us; /* 0 when no frame holds records */
} logfmt_scan_result;

/* 0, or the error of opening/reading the file, or the header's error. A
 * torn or damaged frame just ends the scan. */
int logfmt_scan_file(const char *path, logfmt_scan_result *out);

#endif
