/*
 * share_store.c - the one place the sharing code looks inside an open
 * store (struct logshare, store.h): to find its directory, where the
 * outbox lives. Kept apart so a change of the store's internals touches
 * one line here.
 */
#include "share_store.h"

#include "store.h"

const char *share_store_dir(const logshare *ls)
{
    return ls->dir.dir;
}
