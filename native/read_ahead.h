// A filter BIO under OpenSSL's HTTP client on a plain connection.
#pragma once

#include <openssl/bio.h>

namespace cmp {

// Pushes a read-ahead filter on `bio`, or returns `bio` itself when none can
// be made. OpenSSL's HTTP client reads a response's header lines with
// BIO_gets, which a socket BIO serves one byte per read(2): some 150 system
// calls per response. The filter reads what has arrived in one call and hands
// out lines from it. Unlike BIO_f_buffer, a read never waits for more than one
// read(2) returns, so a blocking connection kept alive does not stall on a
// response that is already whole. Writes pass straight through.
BIO* PushReadAhead(BIO* bio);

}  // namespace cmp
