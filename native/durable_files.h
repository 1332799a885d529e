// Files written whole or not at all, many per call, with few flushes: the
// bulk engine's per-item output. See DurableFiles in durable_files.cc.
#pragma once

#include <napi.h>

namespace cmp {

// writeFilesDurably(entries, syncPaths) -> Promise<void>
//   entries: [{ tmp, file, data?: Uint8Array, link?: string, mode?: number }]
//   syncPaths: further paths (a journal's WAL) whose file systems are flushed
//   with the files, after the renames.
Napi::Value WriteFilesDurably(const Napi::CallbackInfo& info);

}  // namespace cmp
