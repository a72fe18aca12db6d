/*
 * ls_time.h - clocks and RFC 3339 timestamps.
 *
 * Record and ticket times are microseconds since the Unix epoch (UTC);
 * durations use the monotonic clock so a clock step never makes a
 * timeout fire early or never.
 */
#ifndef LS_TIME_H
#define LS_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Wall-clock time, microseconds since 1970-01-01T00:00:00Z. */
int64_t ls_time_now_us(void);

/* Monotonic time in nanoseconds, for durations only. */
int64_t ls_time_mono_ns(void);

/* Formats a time as RFC 3339 UTC: "2026-11-25T04:36:49.123456Z" when
 * with_micros, else "2026-11-25T04:36:49Z". buf must hold
 * LS_TIME_RFC3339_LEN bytes. Returns buf. */
#define LS_TIME_RFC3339_LEN 96
char *ls_time_format_rfc3339(int64_t unix_us, int with_micros, char *buf);

/* Parses an RFC 3339 timestamp ("Z" or a numeric offset, optional
 * fraction) into microseconds since the epoch. Returns 0 or
 * LOGSHARE_EINVAL. */
int ls_time_parse_rfc3339(const char *text, int64_t *unix_us);

#endif
