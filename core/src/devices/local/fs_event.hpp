// What the file watcher saw, one path at a time, before debouncing.
#pragma once

#include <string>

namespace runhost::devices::local {

struct FsEvent {
  enum class Kind {
    created,   // a new file (it may still be written)
    modified,  // written to
    written,   // closed after writing: its content is complete
    appeared,  // found whole: moved in from outside, or in a directory that appeared
    deleted,   // removed, or moved out of the tree
    renamed,   // moved within the tree, from `from`
  };
  Kind kind;
  std::string path;  // relative to the watched root, '/'-separated
  std::string from;  // for renamed
};

}  // namespace runhost::devices::local
