/* watch_sse.c - incremental text/event-stream parser (see watch_sse.h). */
#include "watch_sse.h"

#include <stdlib.h>
#include <string.h>

#include "logshare.h"

void watch_sse_init(watch_sse *p, watch_sse_event_fn on_event, void *user)
{
    memset(p, 0, sizeof *p);
    p->on_event = on_event;
    p->user = user;
}

void watch_sse_reset(watch_sse *p)
{
    ls_buf_reset(&p->line);
    ls_buf_reset(&p->data);
    p->event[0] = '\0';
    p->has_data = 0;
    p->after_cr = 0;
    memcpy(p->id_buf, p->last_id, sizeof p->id_buf);
}

void watch_sse_free(watch_sse *p)
{
    ls_buf_free(&p->line);
    ls_buf_free(&p->data);
}

static int dispatch(watch_sse *p)
{
    /* The WHATWG processing model: the last event id changes when its
     * event is complete, even one without data. */
    memcpy(p->last_id, p->id_buf, sizeof p->last_id);
    int rc = 0;
    if (p->has_data) {
        const char *data = p->data.data ? p->data.data : "";
        rc = p->on_event(p->user, p->event[0] ? p->event : "message", p->last_id, data);
    }
    ls_buf_reset(&p->data);
    p->event[0] = '\0';
    p->has_data = 0;
    return rc;
}

static int process_line(watch_sse *p, const char *line, size_t len)
{
    if (len == 0)
        return dispatch(p);
    if (line[0] == ':')
        return 0; /* a comment: heartbeat */
    const char *colon = memchr(line, ':', len);
    size_t name_len = colon ? (size_t)(colon - line) : len;
    const char *value = colon ? colon + 1 : line + len;
    size_t value_len = (size_t)(line + len - value);
    if (value_len > 0 && value[0] == ' ') {
        value++;
        value_len--;
    }
    if (name_len == 4 && memcmp(line, "data", 4) == 0) {
        int rc = 0;
        if (p->has_data)
            rc = ls_buf_append(&p->data, "\n", 1);
        if (!rc)
            rc = ls_buf_append(&p->data, value, value_len);
        if (!rc && p->data.len > WATCH_SSE_MAX_LINE)
            rc = LOGSHARE_ETOOLARGE;
        p->has_data = 1;
        return rc;
    }
    if (name_len == 5 && memcmp(line, "event", 5) == 0) {
        size_t n = value_len < sizeof p->event - 1 ? value_len : sizeof p->event - 1;
        memcpy(p->event, value, n);
        p->event[n] = '\0';
        return 0;
    }
    if (name_len == 2 && memcmp(line, "id", 2) == 0) {
        /* The spec ignores an id holding NUL; we also ignore ones too long
         * to send back. */
        if (!memchr(value, '\0', value_len) && value_len < sizeof p->id_buf) {
            memcpy(p->id_buf, value, value_len);
            p->id_buf[value_len] = '\0';
        }
        return 0;
    }
    if (name_len == 5 && memcmp(line, "retry", 5) == 0) {
        long ms = 0;
        size_t i = 0;
        for (; i < value_len && value[i] >= '0' && value[i] <= '9' && ms < 100000000; i++)
            ms = ms * 10 + (value[i] - '0');
        if (i == value_len && value_len > 0)
            p->retry_ms = ms;
        return 0;
    }
    return 0; /* unknown fields are ignored */
}

int watch_sse_feed(watch_sse *p, const char *buf, size_t len)
{
    size_t i = 0;
    if (p->after_cr && len > 0) {
        p->after_cr = 0;
        if (buf[0] == '\n')
            i = 1;
    }
    while (i < len) {
        size_t start = i;
        while (i < len && buf[i] != '\n' && buf[i] != '\r')
            i++;
        int rc = ls_buf_append(&p->line, buf + start, i - start);
        if (rc)
            return rc;
        if (p->line.len > WATCH_SSE_MAX_LINE)
            return LOGSHARE_ETOOLARGE;
        if (i == len)
            break; /* the line continues in the next chunk */
        if (buf[i] == '\r') {
            if (i + 1 < len) {
                if (buf[i + 1] == '\n')
                    i++;
            } else {
                p->after_cr = 1;
            }
        }
        i++;
        rc = process_line(p, p->line.data ? p->line.data : "", p->line.len);
        ls_buf_reset(&p->line);
        if (rc)
            return rc;
    }
    return 0;
}
