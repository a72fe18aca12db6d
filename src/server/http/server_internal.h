/*
 * server_internal.h - what the HTTP layer's own files share about the
 * server object; handlers use http.h only.
 */
#ifndef LOGSHARED_SERVER_INTERNAL_H
#define LOGSHARED_SERVER_INTERNAL_H

#include "http/http.h"
#include "http/metrics.h"

/* 1 once http_server_stop began: responses ask the client to close. */
int http_server_stopping(const struct http_server *s);

#endif
