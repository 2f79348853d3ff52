// StringWriter: an rh_writer the host hands to a plugin, collecting what it writes into a
// std::string up to a limit. Past the limit write() answers RH_ERR_LIMIT and keeps nothing more.
#pragma once

#include <cstddef>
#include <string>

#include <runhost/types.h>

namespace runhost::host {

class StringWriter {
 public:
  static constexpr size_t kDefaultLimit = 16u << 20;  // 16 MiB

  explicit StringWriter(size_t limit = kDefaultLimit) : limit_(limit) {
    writer_.struct_size = sizeof(rh_writer);
    writer_.host_data = this;
    writer_.write = &StringWriter::write;
  }
  StringWriter(const StringWriter&) = delete;
  StringWriter& operator=(const StringWriter&) = delete;

  const rh_writer* get() const noexcept { return &writer_; }
  const std::string& str() const noexcept { return out_; }
  std::string take() noexcept { return std::move(out_); }
  bool overflowed() const noexcept { return overflowed_; }

 private:
  static rh_status write(const rh_writer* self, const char* data, size_t len) noexcept {
    auto* w = static_cast<StringWriter*>(self->host_data);
    if (len == 0) return RH_OK;
    if (data == nullptr) return RH_ERR_INVALID_ARGUMENT;
    if (w->overflowed_ || len > w->limit_ - w->out_.size()) {
      w->overflowed_ = true;
      return RH_ERR_LIMIT;
    }
    try {
      w->out_.append(data, len);
    } catch (...) {
      return RH_ERR_NO_MEMORY;
    }
    return RH_OK;
  }

  rh_writer writer_{};
  std::string out_;
  size_t limit_;
  bool overflowed_ = false;
};

}  // namespace runhost::host
