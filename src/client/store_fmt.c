/*
 * store_fmt.c - the format registry behind logshare_log_static: maps a
 * format string's address to a small id and the C types of its
 * arguments, so a logging call copies raw arguments instead of
 * formatting text (the text is made when the file is read).
 *
 * Lookups are lock-free (an open-addressed table of published
 * pointers, read with acquire loads); only the first sight of a format
 * takes the mutex, parses the format and allocates. Entries are never
 * removed while the store is open, so a published pointer stays valid.
 */
#include <stdlib.h>
#include <string.h>

#include "store.h"

void store_fmt_table_init(struct store_fmt_table *t)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->lock, NULL);
}

static const struct store_fmt_info *fmt_probe(struct store_fmt_table *t, const char *fmt,
                                              size_t *free_slot)
{
    size_t i = store_fmt_hash(fmt);
    for (size_t n = 0; n < STORE_FMT_SLOTS; n++, i = (i + 1) & (STORE_FMT_SLOTS - 1)) {
        struct store_fmt_info *info = atomic_load_explicit(&t->slots[i], memory_order_acquire);
        if (!info) {
            *free_slot = i;
            return NULL;
        }
        if (info->fmt == fmt)
            return info;
    }
    *free_slot = STORE_FMT_SLOTS;
    return NULL;
}

const struct store_fmt_info *store_fmt_get(struct store_fmt_table *t, const char *fmt)
{
    size_t slot;
    const struct store_fmt_info *found = fmt_probe(t, fmt, &slot);
    if (found)
        return found;
    pthread_mutex_lock(&t->lock);
    found = fmt_probe(t, fmt, &slot);
    uint32_t id = atomic_load(&t->count);
    if (!found && slot < STORE_FMT_SLOTS && id < STORE_FMT_MAX) {
        struct store_fmt_info *info = calloc(1, sizeof *info);
        if (info) {
            unsigned nargs = 0;
            info->fmt = fmt;
            info->id = id;
            info->supported =
                logfmt_printf_parse(fmt, info->kinds, &nargs, info->str_prec, &info->starmask) == 0;
            info->nargs = (uint8_t)nargs;
            info->strs_unbounded = 1;
            for (unsigned i = 0; info->supported && i < nargs; i++) {
                if (info->kinds[i] == LOGFMT_ARG_STR) {
                    info->str_at[info->nstrs++] = (uint8_t)i;
                    info->strmask |= 1u << i;
                    if (info->str_prec[i] != LOGFMT_PREC_NONE)
                        info->strs_unbounded = 0;
                }
            }
            t->by_id[id] = info;
            atomic_store(&t->count, id + 1);
            atomic_store_explicit(&t->slots[slot], info, memory_order_release);
            found = info;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return found;
}
