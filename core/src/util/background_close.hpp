// Closing descriptors whose close() blocks, off the caller's thread.
//
// Closing an inotify instance waits for a kernel SRCU grace period: ~10 ms on this machine's
// kernel, every time. On the reactor thread that would stall every run for each run that ends,
// so the local device hands such descriptors here. One thread for the process, started on
// first use; descriptors are closed in the order given.
#pragma once

namespace runhost::util {

void close_in_background(int fd) noexcept;

}  // namespace runhost::util
