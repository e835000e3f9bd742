#include "testing/nodefs_fake_kernel.h"

#include <utility>

namespace fusekit {

ServerOptions FakeKernelServerOptions(const Options& options, const ServerOptions& kernel_server) {
  const ServerOptions tree = ServerOptionsFor(options);
  ServerOptions server = kernel_server;
  server.init.want |= tree.init.want;
  server.init.refuse |= tree.init.refuse;
  server.init.passthrough = server.init.passthrough || tree.init.passthrough;
  server.init.splice_write = server.init.splice_write && tree.init.splice_write;
  if (!server.device_ioctl && tree.device_ioctl) server.device_ioctl = tree.device_ioctl;
  // Options::server.workers defaults to 0 ("one per core" on a mount); here
  // that means "as the fake kernel says" (one, so tests are deterministic).
  if (options.server.workers > 0) server.workers = options.server.workers;
  server.debug = server.debug || tree.debug;
  if (!server.log && tree.log) server.log = tree.log;
  return server;
}

std::map<uint64_t, uint64_t> NodefsFakeKernel::BridgeCounts::LookupCounts() {
  std::map<uint64_t, uint64_t> counts = bridge_->LookupCounts();
  counts.erase(abi::kRootId);
  return counts;
}

NodefsFakeKernel::NodefsFakeKernel(std::unique_ptr<Node> root, Options options,
                                   FakeKernelOptions kernel_options)
    : bridge_(std::make_unique<Bridge>(std::move(root), options)), counts_(bridge_.get()) {
  kernel_options.server = FakeKernelServerOptions(options, kernel_options.server);
  if (kernel_options.lookup_counts == nullptr) kernel_options.lookup_counts = &counts_;
  kernel_ = std::make_unique<FakeKernel>(bridge_.get(), std::move(kernel_options));
  if (kernel_->server() != nullptr) {
    bridge_->SetNotifier(&kernel_->server()->notifier());
    bridge_->SetServer(kernel_->server());
  }
  vfs_ = std::make_unique<FakeVfs>(kernel_.get());
}

NodefsFakeKernel::~NodefsFakeKernel() {
  vfs_.reset();
  kernel_.reset();  // audits, then joins the server: no request runs after this
  // The notifier went with the server; nodes freed with the tree below
  // must not reach it.
  bridge_->SetNotifier(nullptr);
  bridge_->SetServer(nullptr);
  bridge_.reset();
}

}  // namespace fusekit
