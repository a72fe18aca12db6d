/*
 * dashboard_pages.c - serves the embedded web/ files under /dashboard/
 * and sends "/" there. Files are revalidated on every load (ETag from
 * their SHA-256, "Cache-Control: no-cache"), so an upgraded server never
 * runs with yesterday's scripts, yet an unchanged file costs a 304.
 */
#include <stdio.h>
#include <string.h>

#include "dashboard_internal.h"
#include "dashboard_static.h"
#include "logshare.h"

static int redirect_to_dashboard(http_request *req)
{
    static const char body[] = "See /dashboard/\n";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return http_respond_error(req, LOGSHARE_ENOMEM, 500, "out of memory");
    MHD_add_response_header(r, "Location", "/dashboard/");
    MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
    dashboard_add_security_headers(r);
    return http_respond(req, 302, r);
}

static int serve_asset(http_request *req, const char *rel)
{
    const struct dashboard_asset *a = dashboard_static_find(rel);
    if (!a)
        return dashboard_respond_error(req, 404, "not_found", "no such dashboard file");
    const char *inm = http_header(req, "If-None-Match");
    int not_modified = inm && strcmp(inm, a->etag) == 0;
    struct MHD_Response *r =
        not_modified
            ? MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT)
            : MHD_create_response_from_buffer(a->size, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return http_respond_error(req, LOGSHARE_ENOMEM, 500, "out of memory");
    if (!not_modified)
        MHD_add_response_header(r, "Content-Type", a->content_type);
    MHD_add_response_header(r, "ETag", a->etag);
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    dashboard_add_security_headers(r);
    return http_respond(req, not_modified ? 304 : 200, r);
}

int dashboard_root_get(http_request *req)
{
    return redirect_to_dashboard(req);
}

int dashboard_index_get(http_request *req)
{
    return serve_asset(req, "/index.html");
}

/* /dashboard/{file} and /dashboard/{dir}/{file}: the router has checked
 * that each parameter is one non-empty segment. */
int dashboard_file_get(http_request *req)
{
    char rel[300];
    int n = req->n_params == 1
                ? snprintf(rel, sizeof rel, "/%s", req->params[0])
                : snprintf(rel, sizeof rel, "/%s/%s", req->params[0], req->params[1]);
    if (n < 0 || (size_t)n >= sizeof rel)
        return dashboard_respond_error(req, 404, "not_found", "no such dashboard file");
    return serve_asset(req, rel);
}
