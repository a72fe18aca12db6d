/*
 * bench_logger.c - the logshare side of the logger benchmark (and the
 * fprintf baseline): N call-log records from one thread, each call
 * timed; then everything made durable (close). Prints one summary line
 * (see bench_logger_common.h). Run by bench/bench-logger.sh.
 *
 *   bench_logger logshare DIR N RING_BYTES PUBKEY_FILE
 *   bench_logger fprintf  FILE N
 */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_logger_common.h"
#include "logshare.h"

static unsigned long long dir_bytes(const char *dir)
{
    unsigned long long total = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];
    struct stat st;
    while (d && (e = readdir(d)) != NULL) {
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (strstr(e->d_name, ".lslog") && stat(path, &st) == 0)
            total += (unsigned long long)st.st_size;
    }
    if (d)
        closedir(d);
    return total;
}

static int run_logshare(const char *dir, long n, size_t ring, const char *pubfile, uint32_t *lat,
                        double npt)
{
    logshare_options *o = logshare_options_new();
    logshare_options_set_dir(o, dir);
    if (logshare_options_set_public_key_file(o, pubfile) != 0 ||
        logshare_options_set_buffer_bytes(o, ring) != 0 ||
        logshare_options_set_max_total_bytes(o, 1ull << 32) != 0 ||
        logshare_options_set_max_file_bytes(o, 64u << 20) != 0)
        return 1;
    logshare *ls = NULL;
    if (logshare_open(o, &ls) != 0)
        return 1;
    logshare_options_free(o);
    /* The thread's first call makes its ring: not part of the run. */
    LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO, "benchmark start");
    logshare_flush(ls, 0);
    unsigned long long dropped = 0;
    uint64_t start = bench_mono_ns();
    for (long i = 0; i < n; i++) {
        struct bench_fields f = bench_fields_for(i);
        uint64_t t0 = bench_ticks();
        int rc = LOGSHARE_LOG(ls, 0, LOGSHARE_LEVEL_INFO,
                              "call %s seq %d ssrc %u bitrate %d jitter %.3f codec %s", f.call_id,
                              f.seq, f.ssrc, f.bitrate, f.jitter_ms, f.codec);
        uint64_t t1 = bench_ticks();
        lat[i] = (uint32_t)(t1 - t0);
        dropped += rc != 0;
    }
    logshare_close(ls); /* drains, writes, fsyncs */
    double secs = (double)(bench_mono_ns() - start) / 1e9;
    char name[64];
    snprintf(name, sizeof name, "logshare-ring-%zuMiB", ring >> 20);
    bench_report(name, lat, n, npt, secs, dir_bytes(dir), dropped);
    return 0;
}

static int run_fprintf(const char *path, long n, uint32_t *lat, double npt)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return 1;
    uint64_t start = bench_mono_ns();
    for (long i = 0; i < n; i++) {
        struct bench_fields fl = bench_fields_for(i);
        uint64_t t0 = bench_ticks();
        /* Same content as the loggers: a timestamp and level, then the message. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        fprintf(f,
                "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ info call %s seq %d ssrc %u bitrate %d "
                "jitter %.3f codec %s\n",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                ts.tv_nsec / 1000, fl.call_id, fl.seq, fl.ssrc, fl.bitrate, fl.jitter_ms, fl.codec);
        uint64_t t1 = bench_ticks();
        lat[i] = (uint32_t)(t1 - t0);
    }
    fflush(f);
    fsync(fileno(f));
    fclose(f);
    double secs = (double)(bench_mono_ns() - start) / 1e9;
    struct stat st;
    stat(path, &st);
    bench_report("fprintf", lat, n, npt, secs, (unsigned long long)st.st_size, 0);
    return 0;
}

/* The timer alone: two reads with nothing between, so the figures of the
 * loggers can be read net of what measuring them costs. */
static int run_timer(long n, uint32_t *lat, double npt)
{
    uint64_t start = bench_mono_ns();
    for (long i = 0; i < n; i++) {
        uint64_t t0 = bench_ticks();
        uint64_t t1 = bench_ticks();
        lat[i] = (uint32_t)(t1 - t0);
    }
    double secs = (double)(bench_mono_ns() - start) / 1e9;
    bench_report("timer-alone", lat, n, npt, secs, 0, 0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_logger logshare DIR N RING_BYTES PUBKEY_FILE | fprintf FILE "
                        "N | timer - N\n");
        return 2;
    }
    long n = atol(argv[3]);
    uint32_t *lat = malloc((size_t)n * sizeof *lat);
    if (!lat || n <= 0)
        return 1;
    memset(lat, 0, (size_t)n * sizeof *lat);
    bench_fields_init();
    double npt = bench_ns_per_tick();
    int rc;
    if (strcmp(argv[1], "logshare") == 0 && argc == 6)
        rc = run_logshare(argv[2], n, (size_t)atoll(argv[4]), argv[5], lat, npt);
    else if (strcmp(argv[1], "timer") == 0)
        rc = run_timer(n, lat, npt);
    else if (strcmp(argv[1], "fprintf") == 0)
        rc = run_fprintf(argv[2], n, lat, npt);
    else
        rc = 2;
    free(lat);
    return rc;
}
