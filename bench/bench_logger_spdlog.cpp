// bench_logger_spdlog.cpp - the spdlog peer of the logger benchmark:
// the same records as bench_logger.c through spdlog (Debian's
// libspdlog-dev), async (its thread pool, default 8192-slot queue that
// blocks when full) or sync (basic_file_sink_mt), each call timed, then
// everything flushed and fsynced. Prints the same summary line.
//
//   bench_logger_spdlog async|sync FILE N
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include "bench_logger_common.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        std::fprintf(stderr, "usage: bench_logger_spdlog async|sync FILE N\n");
        return 2;
    }
    bool async = std::strcmp(argv[1], "async") == 0;
    const char *path = argv[2];
    long n = std::atol(argv[3]);
    uint32_t *lat = static_cast<uint32_t *>(std::calloc(static_cast<size_t>(n), sizeof *lat));
    if (!lat || n <= 0)
        return 1;
    bench_fields_init();
    double npt = bench_ns_per_tick();
    std::shared_ptr<spdlog::logger> logger;
    if (async) {
        spdlog::init_thread_pool(8192, 1);
        logger = spdlog::basic_logger_mt<spdlog::async_factory>("bench", path, true);
    } else {
        logger = spdlog::basic_logger_mt("bench", path, true);
    }
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %l %v", spdlog::pattern_time_type::utc);
    logger->info("benchmark start");
    logger->flush();
    uint64_t start = bench_mono_ns();
    for (long i = 0; i < n; i++) {
        struct bench_fields f = bench_fields_for(i);
        uint64_t t0 = bench_ticks();
        logger->info("call {} seq {} ssrc {} bitrate {} jitter {:.3f} codec {}", f.call_id, f.seq,
                     f.ssrc, f.bitrate, f.jitter_ms, f.codec);
        uint64_t t1 = bench_ticks();
        lat[i] = static_cast<uint32_t>(t1 - t0);
    }
    logger->flush();
    logger.reset();
    spdlog::shutdown(); // drains the async queue and joins its thread
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    double secs = static_cast<double>(bench_mono_ns() - start) / 1e9;
    struct stat st;
    stat(path, &st);
    bench_report(async ? "spdlog-async" : "spdlog-sync", lat, n, npt, secs,
                 static_cast<unsigned long long>(st.st_size), 0);
    std::free(lat);
    return 0;
}
