// hellofs: the classic first FUSE filesystem on the node API. A read-only
// root holding hello.txt, whose content is "Hello, world!\n".
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <memory>

#include "absl/strings/string_view.h"
#include "nodefs/inode.h"
#include "nodefs/node.h"

namespace fusekit::examples {

inline constexpr absl::string_view kHelloName = "hello.txt";
inline constexpr absl::string_view kHelloContent = "Hello, world!\n";

// The file: attributes and data. Writes are refused by Node's defaults
// (open for writing: EROFS).
class HelloFile : public Node {
 public:
  Errno Getattr(const Context&, FileHandle*, AttrOut* out) override {
    out->attr.mode = S_IFREG | 0444;
    out->attr.size = kHelloContent.size();
    return kOk;
  }
  Errno Read(const Context&, FileHandle*, uint64_t offset, ReadResult* out) override {
    out->SetData(kHelloContent.substr(std::min<uint64_t>(offset, kHelloContent.size())));
    return kOk;
  }
};

// The root: a static tree built once. Lookup, readdir and getattr of the
// directory are the defaults, answered from the tree.
class HelloRoot : public Node {
 public:
  void OnAdd(const Context&) override {
    Inode* file = inode()->NewPersistentInode(std::make_unique<HelloFile>(), {.mode = S_IFREG});
    inode()->AddChild(kHelloName, file, /*overwrite=*/false);
  }
};

}  // namespace fusekit::examples
