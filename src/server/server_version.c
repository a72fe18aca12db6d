/* server_version.c - the version logshared reports (same as the library). */
#include "logshare.h"
#include "server_version.h"

const char *logshared_version(void)
{
    return LOGSHARE_VERSION_STRING;
}
