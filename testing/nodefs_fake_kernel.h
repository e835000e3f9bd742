// NodefsFakeKernel: a node tree (nodefs/) served to the fake kernel, so a
// test of a Node-based filesystem takes three lines:
//
//   fusekit::NodefsFakeKernel fs(std::make_unique<fusekit::MemDir>());
//   EXPECT_THAT(fs.vfs().Mkdir("/d", 0755), fusekit::IsOk());
//   EXPECT_NE(fs.bridge().root()->GetChild("d"), nullptr);
//
// It builds the Bridge over `root`, serves it with a FakeKernel (testing/
// fake_kernel.h) and gives a FakeVfs over that kernel. Node notifications
// (Inode::NotifyEntry, ...) go to the fake kernel. The Bridge's lookup counts
// are the kernel's LookupCountSource, so the fake kernel's audits compare the
// two sets of books: at destruction it checks that they agree, drops every
// cache and checks that the tree holds no lookup count any more.
#pragma once

#include <cstdint>
#include <map>
#include <memory>

#include "nodefs/bridge.h"
#include "nodefs/node.h"
#include "testing/fake_kernel.h"
#include "testing/fake_vfs.h"
#include "testing/lookup_count_source.h"

namespace fusekit {

// The server options a tree is served with under the fake kernel:
// `kernel_options.server` (one worker by default, so requests run in order),
// plus what the tree asks of the core (ServerOptionsFor(options): the INIT
// capabilities it wants or refuses, e.g. READDIRPLUS), plus
// `options.server.workers` and `debug` when those are set.
ServerOptions FakeKernelServerOptions(const Options& options, const ServerOptions& kernel_server);

// Not thread-safe itself; the kernel, the VFS and the bridge it hands out
// are (see their headers).
class NodefsFakeKernel {
 public:
  explicit NodefsFakeKernel(std::unique_ptr<Node> root, Options options = {},
                            FakeKernelOptions kernel_options = {});
  // The FakeVfs closes its files, the FakeKernel audits and disconnects, then
  // the tree goes.
  ~NodefsFakeKernel();
  NodefsFakeKernel(const NodefsFakeKernel&) = delete;
  NodefsFakeKernel& operator=(const NodefsFakeKernel&) = delete;

  Bridge& bridge() { return *bridge_; }
  FakeKernel& kernel() { return *kernel_; }
  FakeVfs& vfs() { return *vfs_; }
  Inode* root() { return bridge_->root(); }
  // The Bridge's counts as the kernel's audits see them.
  LookupCountSource& lookup_counts() { return counts_; }

 private:
  // Bridge::LookupCounts() without the root: the kernel holds the root by
  // an implicit count it never sends or forgets (the audit ignores node 1).
  class BridgeCounts : public LookupCountSource {
   public:
    explicit BridgeCounts(Bridge* bridge) : bridge_(bridge) {}
    std::map<uint64_t, uint64_t> LookupCounts() override;

   private:
    Bridge* const bridge_;
  };

  // Declared in the order they are built; destroyed in reverse: the VFS
  // before the kernel it calls, the kernel (and its server threads) before
  // the tree they serve.
  std::unique_ptr<Bridge> bridge_;
  BridgeCounts counts_;
  std::unique_ptr<FakeKernel> kernel_;
  std::unique_ptr<FakeVfs> vfs_;
};

}  // namespace fusekit
