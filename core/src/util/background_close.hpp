// Kernel calls that block for no work of ours, off the caller's thread.
//
// Closing an inotify instance, and removing an inotify watch, wait for a kernel SRCU grace
// period: ~10 ms on this machine's kernel, every time. On the reactor thread that would stall
// every run whenever one ends, so the local device hands such calls here. One thread for the
// process, started on first use; tasks run in the order given (so a descriptor's queued
// inotify_rm_watch calls always run before its close).
#pragma once

#include <functional>

namespace runhost::util {

void run_in_background(std::function<void()> task) noexcept;
void close_in_background(int fd) noexcept;

}  // namespace runhost::util
