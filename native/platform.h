// The socket and time calls that differ between POSIX and Windows (where only
// the bundled build exists).
#pragma once

#include <ctime>

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN  // no wincrypt.h: its X509_NAME macros break OpenSSL's types
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#ifndef SHUT_RDWR
#define SHUT_RDWR SD_BOTH
#endif
inline time_t timegm(struct tm* tm) { return _mkgmtime(tm); }
#else
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#endif
