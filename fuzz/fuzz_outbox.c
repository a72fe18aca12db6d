/*
 * fuzz_outbox.c - fuzz harness for the outbox's JSON files
 * (src/client/outbox_json.c): state.json and request.json sit on the
 * device's disk across app updates and crashes, so the library must
 * read any bytes there without crashing.
 *
 * Input layout: byte 0 bit 0 picks state.json (0) or request.json (1);
 * the rest is the file's text (cut at the first NUL, as a file read
 * into a C string is). What parses is written back and parsed again,
 * and must come back the same: the outbox rewrites state.json after
 * every attempt, so a value that does not survive the round trip would
 * be lost or changed by the next attempt.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outbox.h"
#include "outbox_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void state_round_trip(const char *text)
{
    outbox_item *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    char *out = NULL;
    if (!a || !b)
        abort();
    if (outbox_json_parse_state(text, &a->state) == 0) {
        if (outbox_json_state(&a->state, &out) != 0 || outbox_json_parse_state(out, &b->state) != 0)
            abort();
        const outbox_state *x = &a->state, *y = &b->state;
        if (x->attempts != y->attempts || x->next_attempt_us != y->next_attempt_us ||
            x->last_attempt_us != y->last_attempt_us || x->failed != y->failed ||
            x->http_status != y->http_status || !same_str(x->error_code, y->error_code) ||
            !same_str(x->error_message, y->error_message) ||
            !same_str(x->ticket_id, y->ticket_id) || !same_str(x->refused_token, y->refused_token))
            abort();
    }
    free(out);
    outbox_item_free(a);
    outbox_item_free(b);
}

static void request_round_trip(const char *text)
{
    outbox_item *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    char *out = NULL;
    if (!a || !b || !(a->dir = strdup("/outbox/x")) || !(b->dir = strdup("/outbox/x")))
        abort();
    if (outbox_json_parse_request(text, a) == 0) {
        if (outbox_json_request(a->id, a->idempotency_key, a->created_us, a->bytes, &a->fields,
                                &a->files, &out) != 0 ||
            outbox_json_parse_request(out, b) != 0)
            abort();
        if (!same_str(a->id, b->id) || !same_str(a->idempotency_key, b->idempotency_key) ||
            a->created_us != b->created_us || a->bytes != b->bytes ||
            a->files.count != b->files.count ||
            a->fields.call_id_count != b->fields.call_id_count ||
            a->fields.extra_count != b->fields.extra_count ||
            !same_str(a->fields.description, b->fields.description) ||
            !same_str(a->fields.endpoint, b->fields.endpoint))
            abort();
    }
    free(out);
    outbox_item_free(a);
    outbox_item_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *text = malloc(size);
    if (!text)
        abort();
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if (data[0] & 1)
        request_round_trip(text);
    else
        state_round_trip(text);
    free(text);
    return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include "fuzz_replay.h"
#endif
