/*
 * dashboard_static.h - the dashboard's files (web/), compiled into
 * logshared. The table is generated at build time by
 * dashboard_embed.cmake into the build tree; dashboard_static.c looks a
 * request path up in it.
 */
#ifndef LOGSHARED_DASHBOARD_STATIC_H
#define LOGSHARED_DASHBOARD_STATIC_H

#include <stddef.h>

struct dashboard_asset {
    const char *path; /* "/index.html", "/js/app.js": relative to web/ */
    const unsigned char *data;
    size_t size;
    const char *content_type;
    const char *etag; /* quoted, from the file's SHA-256 */
};

extern const struct dashboard_asset dashboard_assets[];
extern const size_t dashboard_assets_count;

/* The asset for a path under the dashboard's prefix ("/" and "" mean
 * "/index.html"), or NULL. Static storage. */
const struct dashboard_asset *dashboard_static_find(const char *path);

#endif
