/*
 * share_store.h - what the sharing code needs from an open store that
 * the public API does not give: its directory (where the outbox lives).
 */
#ifndef LS_SHARE_STORE_H
#define LS_SHARE_STORE_H

#include "logshare.h"

/* The store's directory; borrowed from the handle. */
const char *share_store_dir(const logshare *ls);

#endif
