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

void WatchState::on_event(const Event& event) {
  std::lock_guard lock(mutex_);
  seen_ = std::max(seen_, event.seq);
  if (!dropping_ && !released_) {
    if (buffer_.size() + event.json.size() + 2 > kBufferBytes) {
      dropping_ = true;  // the reader reads these from the store
      std::string().swap(buffer_);
    } else {
      if (buffer_.empty()) {
        buffer_first_ = event.seq;
        buffer_ += '[';
      } else {
        buffer_ += ',';
      }
      buffer_ += event.json;
    }
  }
  wake_locked();
}

std::optional<std::pair<int64_t, std::string>> WatchState::take() {
  std::lock_guard lock(mutex_);
  dropping_ = false;
  if (buffer_.empty()) return std::nullopt;
  buffer_ += ']';
  std::pair<int64_t, std::string> page{buffer_first_, std::move(buffer_)};
  buffer_.clear();
  return page;
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
                     {InstanceMethod<&Watcher::close>("close"), InstanceMethod<&Watcher::take>("take"),
                      InstanceMethod<&Watcher::ref>("ref"), InstanceMethod<&Watcher::unref>("unref")});
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

// take() → [firstSeq, text] | null: text is a JSON array of envelopes, firstSeq the first's seq.
Napi::Value Watcher::take(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto page = state_ ? state_->take() : std::nullopt;
  if (!page) return env.Null();
  auto pair = Napi::Array::New(env, 2);
  pair.Set(uint32_t{0}, Napi::Number::New(env, static_cast<double>(page->first)));
  pair.Set(uint32_t{1}, Napi::String::New(env, page->second));
  return pair;
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
