// Files written whole or not at all, many per call, with few flushes: the
// bulk engine's per-item output. See DurableFiles in durable_files.cc.
#pragma once

#include <napi.h>

namespace cmp {

// writeFilesDurably(entries, syncPaths, pending?, leave?) -> Promise<void | token>
//   entries: [{ tmp, file, data?: Uint8Array, link?: string, mode?: number }]
//   syncPaths: further paths (a journal's WAL) whose file systems are flushed
//   with the files, after the renames.
//   pending: the token an earlier call resolved to; its renames are flushed
//   by this call's first flush (or, with no entries, by its only one).
//   leave: the renames and syncPaths are not flushed; resolves to a token.
Napi::Value WriteFilesDurably(const Napi::CallbackInfo& info);

}  // namespace cmp
