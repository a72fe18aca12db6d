/*
 * dashboard_static.c - finds an embedded dashboard file by path. The
 * paths come only from the generated table, so nothing from the request
 * ever reaches the file system: "..", "%2e%2e" and friends simply match
 * no entry.
 */
#include "dashboard_static.h"

#include <string.h>

const struct dashboard_asset *dashboard_static_find(const char *path)
{
    if (!path || !*path || strcmp(path, "/") == 0)
        path = "/index.html";
    for (size_t i = 0; i < dashboard_assets_count; i++)
        if (strcmp(dashboard_assets[i].path, path) == 0)
            return &dashboard_assets[i];
    return NULL;
}
