/* server_version.h - the version logshared reports. */
#ifndef LOGSHARED_SERVER_VERSION_H
#define LOGSHARED_SERVER_VERSION_H
const char *logshared_version(void);
#endif
