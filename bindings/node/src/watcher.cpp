#include "watcher.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>


namespace runhost::node {
namespace {

// Whether every byte of `s` is below 0x80. Eight bytes at a time, without a branch per word: the
// events are mostly ASCII, and most pages are ASCII throughout.
bool is_ascii(std::string_view s) {
  uint64_t bits = 0;
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, s.data() + i, 8);
    bits |= word;
  }
  for (; i < s.size(); ++i) bits |= static_cast<unsigned char>(s[i]);
  return (bits & 0x8080808080808080ULL) == 0;
}

}  // namespace

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
      ascii_ = ascii_ && is_ascii(event.json);
    }
  }
  wake_locked();
}

std::optional<WatchState::Page> WatchState::take() {
  std::lock_guard lock(mutex_);
  dropping_ = false;
  if (buffer_.empty()) return std::nullopt;
  buffer_ += ']';
  Page page{buffer_first_, std::move(buffer_), ascii_};
  buffer_.clear();
  ascii_ = true;
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
  // ASCII text is the same in Latin-1, which V8 copies as it is: no UTF-8 decoding (which was most
  // of what a page cost here).
  napi_value text = nullptr;
  const napi_status made = page->ascii
                               ? napi_create_string_latin1(env, page->text.data(), page->text.size(), &text)
                               : napi_create_string_utf8(env, page->text.data(), page->text.size(), &text);
  NAPI_THROW_IF_FAILED(env, made, env.Null());
  auto pair = Napi::Array::New(env, 2);
  pair.Set(uint32_t{0}, Napi::Number::New(env, static_cast<double>(page->first_seq)));
  pair.Set(uint32_t{1}, Napi::Value(env, text));
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
