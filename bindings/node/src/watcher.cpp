#include "watcher.hpp"

#include <algorithm>


namespace runhost::node {

// ---- WatchState: reactor side -------------------------------------------------------------------

void WatchState::wake_locked() {
  if (released_ || pending_) return;
  auto self = shared_from_this();
  if (tsfn_.NonBlockingCall([self](Napi::Env env, Napi::Function cb) { self->deliver(env, cb); }) == napi_ok) {
    pending_ = true;
  }
}

void WatchState::finish_locked() {
  if (released_) return;
  released_ = true;
  tsfn_.Release();  // a call already queued is still delivered
}

void WatchState::on_event(int64_t seq) {
  std::lock_guard lock(mutex_);
  seen_ = std::max(seen_, seq);
  wake_locked();
}

void WatchState::on_end(const Status& status) {
  std::lock_guard lock(mutex_);
  ended_ = true;
  if (!status) error_ = status.error();
  wake_locked();
  finish_locked();
}

void WatchState::on_host_closed() {
  std::lock_guard lock(mutex_);
  host_closed_ = true;
  wake_locked();
  finish_locked();
}

// ---- WatchState: JS side ------------------------------------------------------------------------

void WatchState::deliver(Napi::Env env, Napi::Function callback) {
  if (env == nullptr || callback.IsEmpty()) return;  // the environment is going away
  int64_t seen = 0;
  bool ended = false;
  bool host_closed = false;
  std::optional<Error> error;
  {
    std::lock_guard lock(mutex_);
    pending_ = false;
    seen = seen_;
    ended = ended_;
    host_closed = host_closed_;
    error = error_;
  }
  Napi::Value err = env.Null();
  if (host_closed) {
    err = host_closed_error(env, "the runhost Host is closed").Value();
  } else if (error) {
    err = to_js_error(env, *error).Value();
  }
  callback.Call({Napi::Number::New(env, static_cast<double>(seen)), Napi::Boolean::New(env, ended || host_closed), err});
}

void WatchState::release() {
  std::lock_guard lock(mutex_);
  finish_locked();
}

void WatchState::ref(Napi::Env env) {
  std::lock_guard lock(mutex_);
  if (!released_) tsfn_.Ref(env);
}

void WatchState::unref(Napi::Env env) {
  std::lock_guard lock(mutex_);
  if (!released_) tsfn_.Unref(env);
}

// ---- Watcher ------------------------------------------------------------------------------------

Napi::Function Watcher::define(Napi::Env env) {
  return DefineClass(env, "Watcher",
                     {InstanceMethod<&Watcher::close>("close"), InstanceMethod<&Watcher::ref>("ref"),
                      InstanceMethod<&Watcher::unref>("unref")});
}

Watcher::Watcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Watcher>(info) {}

Watcher::~Watcher() {
  // Garbage-collected without close(): stop delivery (the thread-safe function is released).
  if (state_) {
    state_->subscription.reset();
    state_->release();
  }
}

void Watcher::attach(std::shared_ptr<HostState> host, std::shared_ptr<WatchState> state) {
  host_ = std::move(host);
  state_ = std::move(state);
}

Napi::Value Watcher::close(const Napi::CallbackInfo& info) {
  if (state_) {
    state_->subscription.reset();  // no reactor callback runs after this
    state_->release();
  }
  return info.Env().Undefined();
}

Napi::Value Watcher::ref(const Napi::CallbackInfo& info) {
  if (state_) state_->ref(info.Env());
  return info.Env().Undefined();
}

Napi::Value Watcher::unref(const Napi::CallbackInfo& info) {
  if (state_) state_->unref(info.Env());
  return info.Env().Undefined();
}

}  // namespace runhost::node
