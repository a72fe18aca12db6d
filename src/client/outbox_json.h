/*
 * outbox_json.h - the JSON files of an outbox item (outbox_json.c).
 *
 * request.json and state.json are read back by later versions of the
 * library (a report may sit in the outbox across an app update), so
 * both carry "version": 1 and unknown keys are ignored when reading.
 */
#ifndef LS_OUTBOX_JSON_H
#define LS_OUTBOX_JSON_H

#include "outbox.h"

int outbox_json_request(const char *id, const char *key, int64_t created_us, uint64_t bytes,
                        const share_fields *fields, const share_file_list *files, char **out);
/* Fills id, idempotency_key, created_us, bytes, fields and files of item
 * (file paths made absolute under item->dir/files). */
int outbox_json_parse_request(const char *text, outbox_item *item);

int outbox_json_state(const outbox_state *st, char **out);
int outbox_json_parse_state(const char *text, outbox_state *st);

#endif
