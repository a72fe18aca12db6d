/*
 * level.c - log level names, shared by the writer, the reader and the CLI.
 */
#include <strings.h>

#include "logshare.h"

static const char *const level_names[] = {"trace", "debug", "info", "warn", "error", "fatal"};

const char *logshare_level_name(logshare_level level)
{
    if ((int)level < 0 || (size_t)level >= sizeof level_names / sizeof level_names[0])
        return "unknown";
    return level_names[level];
}

int logshare_level_parse(const char *name, logshare_level *level)
{
    if (!name || !level)
        return LOGSHARE_EINVAL;
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *level = (logshare_level)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *level = LOGSHARE_LEVEL_WARN;
        return 0;
    }
    return LOGSHARE_EINVAL;
}
