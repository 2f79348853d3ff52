#include "devices/local/change_debouncer.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <vector>

namespace runhost::devices::local {
namespace {

const char* name_of(int change) {
  static constexpr const char* kNames[] = {"created", "modified", "deleted", "renamed"};
  return kNames[change];
}

}  // namespace

ChangeDebouncer::ChangeDebouncer(boost::asio::io_context& io, std::filesystem::path root,
                                 std::chrono::milliseconds debounce, Emit emit)
    : root_(std::move(root)), debounce_(debounce), emit_(std::move(emit)), timer_(io) {}

void ChangeDebouncer::add(const FsEvent& event) {
  using Kind = FsEvent::Kind;
  const auto now = Clock::now();
  if (event.kind == Kind::renamed) {
    rename(event.from, event.path, now);
  } else {
    const Change change = event.kind == Kind::deleted                                   ? Change::deleted
                          : event.kind == Kind::created || event.kind == Kind::appeared ? Change::created
                                                                                        : Change::modified;
    merge(event.path, change, event.kind == Kind::written || event.kind == Kind::appeared, now);
  }
  arm_timer();
}

void ChangeDebouncer::merge(const std::string& path, Change change, bool complete, Clock::time_point now) {
  auto it = pending_.find(path);
  if (it == pending_.end()) {
    pending_.emplace(path, Pending{change, "", complete, next_order_++, now, now});
    return;
  }
  Pending& p = it->second;
  p.last = now;
  p.complete = p.complete || complete;
  if (change == Change::deleted) {
    if (p.change == Change::created) {
      pending_.erase(it);  // came and went within the window: nothing to say
    } else if (p.change == Change::renamed) {
      // Renamed, then deleted: what is gone is the file under its old name.
      const std::string from = std::move(p.from);
      pending_.erase(it);
      auto source = pending_.find(from);
      if (source == pending_.end()) {
        pending_.emplace(from, Pending{Change::deleted, "", false, next_order_++, now, now});
      } else if (source->second.change == Change::created) {
        source->second.change = Change::modified;  // a new file took the old name meanwhile
      }
    } else {
      p.change = Change::deleted;
      p.complete = false;
    }
  } else if (p.change == Change::deleted) {
    p.change = Change::modified;  // deleted and written again: replaced
  }
}

void ChangeDebouncer::rename(const std::string& from, const std::string& to, Clock::time_point now) {
  Pending moved{Change::renamed, from, true, next_order_++, now, now};
  if (auto source = pending_.find(from); source != pending_.end()) {
    const Pending& before = source->second;
    moved.order = before.order;
    moved.first = before.first;
    if (before.change == Change::created) {
      moved.change = Change::created;  // never reported under its first name
      moved.from.clear();
    } else if (before.change == Change::renamed) {
      moved.from = before.from;
      if (moved.from == to) {
        moved.change = Change::modified;  // renamed there and back
        moved.from.clear();
      }
    }
    pending_.erase(source);
  }
  pending_[to] = std::move(moved);
}

ChangeDebouncer::Clock::time_point ChangeDebouncer::due(const Pending& p) const {
  return std::min(p.last + debounce_, p.first + 10 * debounce_);
}

void ChangeDebouncer::arm_timer() {
  if (timer_armed_ || pending_.empty()) return;
  auto earliest = Clock::time_point::max();
  for (const auto& [path, p] : pending_) earliest = std::min(earliest, due(p));
  timer_armed_ = true;
  timer_.expires_at(earliest);
  timer_.async_wait(lifetime_.guard([this](const boost::system::error_code& ec) {
    if (ec == boost::asio::error::operation_aborted) return;  // flush_all() got there first
    timer_armed_ = false;
    flush(/*everything=*/false);
  }));
}

void ChangeDebouncer::flush(bool everything) {
  const auto now = Clock::now();
  std::vector<std::pair<std::string, Pending>> ready;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (everything || due(it->second) <= now) {
      ready.emplace_back(it->first, std::move(it->second));
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  if (everything) {
    boost::system::error_code ignored;
    timer_.cancel(ignored);
    timer_armed_ = false;
  } else {
    arm_timer();
  }
  std::sort(ready.begin(), ready.end(), [](const auto& a, const auto& b) { return a.second.order < b.second.order; });
  const auto alive = lifetime_.alive();
  for (auto& [path, p] : ready) {
    FileChange change{path, name_of(static_cast<int>(p.change)), std::move(p.from), -1};
    struct stat st {};
    if (p.change != Change::deleted && ::stat((root_ / path).c_str(), &st) == 0) change.size_bytes = st.st_size;
    emit_(change, p.complete && p.change != Change::deleted);
    if (!alive) return;
  }
}

}  // namespace runhost::devices::local
