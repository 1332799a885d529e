// What ExecJob and ServerJob share: a job settled as a Promise, which keeps
// its JS owner alive while in flight and aborts through the state it works on.
#pragma once

#include <napi.h>

#include <memory>

#include "executor.h"

namespace cmp {

template <typename State>
class PromiseJob : public Job {
 public:
  Napi::Promise promise() const { return deferred_.Promise(); }
  void Abort() override { state_->Abort(); }

 protected:
  PromiseJob(Napi::Env env, std::shared_ptr<State> state, Napi::Object owner)
      : state_(std::move(state)), owner_(Napi::Persistent(owner)), deferred_(Napi::Promise::Deferred::New(env)) {}

  std::shared_ptr<State> state_;
  Napi::ObjectReference owner_;  // keeps the JS wrapper alive while in flight
  Napi::Promise::Deferred deferred_;
};

}  // namespace cmp
