/* Placeholder so the object library is never empty; removed once the
 * log store lands. */
typedef int logshare_client_placeholder_unused;
