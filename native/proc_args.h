// The process's own command line as the kernel shows it to every local user
// (/proc/PID/cmdline, ps): blanking arguments there once they have been read,
// as the openssl apps do with secrets. Node copies argv at start-up, so the
// original strings are reached through the kernel's record of where they lie.
#pragma once

#include <napi.h>

namespace cmp {

// (tail: string[], blanks: Array<[index, from]>) -> null on success, else the
// reason nothing was blanked. `tail` must equal the last arguments of the
// original command line; each blank zeroes tail[index] from byte `from` on.
Napi::Value BlankArgs(const Napi::CallbackInfo& info);

}  // namespace cmp
