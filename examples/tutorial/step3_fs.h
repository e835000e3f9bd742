// Step 3 of docs/tutorial.md: a file you can cat. The tree (a root holding
// hello.txt) is in this header so that step3.cc mounts it and
// tutorial_test.cc tests it through the fake kernel.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <memory>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "nodefs/inode.h"
#include "nodefs/node.h"

namespace tutorial {

constexpr absl::string_view kGreeting = "Hello, world!\n";

class HelloFile : public fusekit::Node {
 public:
  explicit HelloFile(absl::Time created) : created_(created) {}

  fusekit::Errno Getattr(const fusekit::Context&, fusekit::FileHandle*,
                         fusekit::AttrOut* out) override {
    out->attr.mode = S_IFREG | 0444;  // a regular file, read-only
    out->attr.size = kGreeting.size();
    out->attr.atime = out->attr.mtime = out->attr.ctime = absl::ToUnixSeconds(created_);
    return fusekit::kOk;
  }
  fusekit::Errno Read(const fusekit::Context&, fusekit::FileHandle*, uint64_t offset,
                      fusekit::ReadResult* out) override {
    out->SetData(kGreeting.substr(std::min<uint64_t>(offset, kGreeting.size())));
    return fusekit::kOk;
  }

 private:
  const absl::Time created_;
};

class Root : public fusekit::Node {
 public:
  // Called once, when the tree is mounted: build it here.
  void OnAdd(const fusekit::Context&) override {
    fusekit::Inode* file =
        inode()->NewPersistentInode(std::make_unique<HelloFile>(started_), {.mode = S_IFREG});
    inode()->AddChild("hello.txt", file, /*overwrite=*/false);
  }
  fusekit::Errno Getattr(const fusekit::Context&, fusekit::FileHandle*,
                         fusekit::AttrOut* out) override {
    out->attr.mode = S_IFDIR | 0555;
    out->attr.nlink = 2;
    out->attr.atime = out->attr.mtime = out->attr.ctime = absl::ToUnixSeconds(started_);
    return fusekit::kOk;
  }

 private:
  const absl::Time started_ = absl::Now();
};

}  // namespace tutorial
