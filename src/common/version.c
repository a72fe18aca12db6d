/* version.c - the version of the linked library. */
#include "logshare.h"

const char *logshare_version(void)
{
    return LOGSHARE_VERSION_STRING;
}
