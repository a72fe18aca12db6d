/*
 * api_health.c - /healthz (the process answers), /readyz (the database
 * and the blob store answer: 503 naming the one that does not) and
 * /metrics (Prometheus text, http/metrics.h). No authentication: they
 * reveal nothing about tickets; put them behind the proxy if that
 * matters.
 */
#include <stdlib.h>

#include "api/api.h"
#include "http/metrics.h"
#include "logshare.h"
#include "ls_buf.h"
#include "tracker_worker.h"

int api_healthz(http_request *req)
{
    return http_respond_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

int api_readyz(http_request *req)
{
    struct api_app *app = req->app;
    int rc = ticket_store_check(app->tickets);
    if (rc)
        return http_respond_error(req, LOGSHARE_EUNAVAILABLE, 503, "database not ready: %s",
                                  logshare_strerror(rc));
    rc = blob_store_check(app->blobs);
    if (rc)
        return http_respond_error(req, LOGSHARE_EUNAVAILABLE, 503, "blob store not ready: %s",
                                  logshare_strerror(rc));
    return http_respond_json(req, 200, json_pack("{s:s}", "status", "ready"));
}

int api_metrics(http_request *req)
{
    ls_buf b = LS_BUF_INIT;
    if (http_metrics_render(http_server_metrics(req->server), &b)) {
        ls_buf_free(&b);
        return LOGSHARE_ENOMEM;
    }
    /* A database that cannot count now leaves the gauge out, not the
     * page: the HTTP numbers matter most when something is wrong. */
    struct api_app *app = req->app;
    if (app->cfg->tracker_webhook_url)
        (void)tracker_metrics_render(app->tickets, &b);
    size_t len = b.len;
    char *text = ls_buf_steal(&b);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return LOGSHARE_ENOMEM;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4");
    req->bytes_out = len;
    return http_respond(req, 200, r);
}
