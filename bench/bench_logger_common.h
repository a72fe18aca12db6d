/*
 * bench_logger_common.h - what the logger benchmarks share (C and C++):
 * the record shape (a call log line: call id, ints, a float, a codec
 * name), a cycle-counter clock calibrated against CLOCK_MONOTONIC to
 * time single calls, and the summary line every program prints.
 */
#ifndef BENCH_LOGGER_COMMON_H
#define BENCH_LOGGER_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define BENCH_HAVE_TSC 1
#endif

#define BENCH_CALL_IDS 200

static inline uint64_t bench_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Ticks of the timer used around each call. */
static inline uint64_t bench_ticks(void)
{
#ifdef BENCH_HAVE_TSC
    unsigned aux;
    return __rdtscp(&aux);
#else
    return bench_mono_ns();
#endif
}

/* Nanoseconds per tick, measured over 200 ms. */
static inline double bench_ns_per_tick(void)
{
#ifdef BENCH_HAVE_TSC
    uint64_t n0 = bench_mono_ns(), t0 = bench_ticks();
    while (bench_mono_ns() - n0 < 200000000u) {
    }
    uint64_t n1 = bench_mono_ns(), t1 = bench_ticks();
    return (double)(n1 - n0) / (double)(t1 - t0);
#else
    return 1.0;
#endif
}

/* The record fields for call i. */
struct bench_fields {
    const char *call_id;
    int seq;
    unsigned ssrc;
    int bitrate;
    double jitter_ms;
    const char *codec;
};

static char bench_call_ids[BENCH_CALL_IDS][48];

static inline void bench_fields_init(void)
{
    srand(42);
    for (int i = 0; i < BENCH_CALL_IDS; i++)
        snprintf(bench_call_ids[i], sizeof bench_call_ids[i], "%08x-%04x-4%03x-a%03x-%012llx",
                 (unsigned)rand(), (unsigned)rand() & 0xffff, (unsigned)rand() & 0xfff,
                 (unsigned)rand() & 0xfff,
                 ((unsigned long long)rand() * 7919u) & 0xffffffffffffull);
}

static inline struct bench_fields bench_fields_for(long i)
{
    static const char *const codecs[] = {"opus", "g711u", "h264", "vp8"};
    struct bench_fields f;
    f.call_id = bench_call_ids[(i / 10000) % BENCH_CALL_IDS];
    f.seq = (int)i;
    f.ssrc = 0x9e3779b9u ^ (unsigned)(i / 10000);
    f.bitrate = 24000 + (int)(i % 17) * 1000;
    f.jitter_ms = (double)(i % 1000) / 64.0;
    f.codec = codecs[(i / 5000) % 4];
    return f;
}

static int bench_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Prints "name p50 p99 p999 max records_per_s bytes dropped" with
 * latencies in ns. lat is sorted in place. */
static inline void bench_report(const char *name, uint32_t *lat, long n, double ns_per_tick,
                                double seconds, unsigned long long bytes,
                                unsigned long long dropped)
{
    qsort(lat, (size_t)n, sizeof *lat, bench_cmp_u32);
#define BENCH_PCT(p) ((double)lat[(size_t)((double)(n - 1) * (p))] * ns_per_tick)
    printf("%s %.0f %.0f %.0f %.0f %.0f %llu %llu\n", name, BENCH_PCT(0.50), BENCH_PCT(0.99),
           BENCH_PCT(0.999), (double)lat[n - 1] * ns_per_tick,
           (double)(n - (long)dropped) / seconds, bytes, dropped);
#undef BENCH_PCT
}

#endif
