// WRITE data spliced into the host file on real mounts (ServerOptions::
// splice_read): sequential 1 MiB blocks, unaligned offsets, small writes, a
// write past the end, O_APPEND (which splice refuses: pwritten instead),
// each read back byte-exact from the host file, while stat, readdir and
// mkdir run in between and alongside (each worker's pipe must be empty
// before its next request, or those would fail or hang). Run twice: with
// the loopback handles splicing, and with nodes that leave the payload to
// Node's default (materialized, then Write). A probe node checks that the
// data really reached the node in the pipe and that nothing was left.
// SKIPPED with the reason where mounting is impossible.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "examples/loopbackfs/host_tree.h"
#include "fuse/mutex.h"
#include "gtest/gtest.h"
#include "nodefs/bridge.h"
#include "nodefs/loopback_node.h"
#include "testing/mount_fixture.h"
#include "testing/pattern.h"

namespace fusekit::examples {
namespace {

// What the probe nodes saw.
struct Probe {
  std::atomic<int> payloads{0};
  std::atomic<int> in_pipe{0};       // payloads that came in the pipe
  std::atomic<int> spliced{0};       // of those, written by splice (size() 0 after)
  std::atomic<int> left_in_pipe{0};  // payloads the node left in the pipe
};

enum class Mode {
  kSplice,          // LoopbackNode's WriteBuf: spliced into the host file
  kNodeFallback,    // Node's default WriteBuf: materialized, then Write
};

// A LoopbackNode that records each payload, then serves it as `mode` says.
class ProbeNode : public LoopbackNode {
 public:
  ProbeNode(std::shared_ptr<LoopbackRoot> root, const struct stat& st, Probe* probe, Mode mode)
      : LoopbackNode(std::move(root), st), probe_(probe), mode_(mode) {}
  Errno WriteBuf(const Context& ctx, FileHandle* fh, uint64_t offset, WritePayload& payload,
                 uint32_t* written) override {
    probe_->payloads++;
    const bool piped = payload.in_pipe();
    if (piped) probe_->in_pipe++;
    Errno e = mode_ == Mode::kSplice ? LoopbackNode::WriteBuf(ctx, fh, offset, payload, written)
                                     : Node::WriteBuf(ctx, fh, offset, payload, written);
    // Spliced: used up. Materialized: out of the pipe, its size kept.
    if (piped && e.ok() && payload.size() == 0) probe_->spliced++;
    if (payload.in_pipe()) probe_->left_in_pipe++;
    return e;
  }

 private:
  Probe* const probe_;
  const Mode mode_;
};

// One run's configuration.
struct Config {
  Mode mode;
  uint32_t max_write;
  const char* name;
};
class WireCounts {
 public:
  LogSink Sink() {
    const bool echo = getenv("SPLICE_WRITE_TEST_ECHO") != nullptr;  // for debugging
    return [this, echo](absl::string_view line) {
      if (echo) fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
      MutexLock lock(&mu_);
      if (absl::StartsWith(line, "-> WRITE ")) {
        ++writes_;
        if (absl::StrContains(line, "(data in pipe)")) ++piped_;
      }
      if (absl::StrContains(line, "reading requests with read(2)")) fallback_ = std::string(line);
    };
  }
  int writes() {
    MutexLock lock(&mu_);
    return writes_;
  }
  int piped() {
    MutexLock lock(&mu_);
    return piped_;
  }
  std::string fallback() {
    MutexLock lock(&mu_);
    return fallback_;
  }

 private:
  Mutex mu_;
  int writes_ ABSL_GUARDED_BY(mu_) = 0;
  int piped_ ABSL_GUARDED_BY(mu_) = 0;
  std::string fallback_ ABSL_GUARDED_BY(mu_);
};

bool WriteAll(int fd, absl::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

bool PwriteAll(int fd, absl::string_view data, off_t at) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = pwrite(fd, data.data() + done, data.size() - done, at + done);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Applies a write of `data` at `at` to the model of the file.
void Apply(std::string* model, absl::string_view data, size_t at) {
  if (model->size() < at + data.size()) model->resize(at + data.size(), '\0');
  model->replace(at, data.size(), data.data(), data.size());
}


class SpliceWriteMountTest : public ::testing::TestWithParam<Config> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(host_.ok());
    LoopbackOptions lo;
    Probe* probe = &probe_;
    Mode mode = GetParam().mode;
    lo.new_node = [probe, mode](std::shared_ptr<LoopbackRoot> root, const struct stat& st) {
      return std::make_unique<ProbeNode>(std::move(root), st, probe, mode);
    };
    absl::StatusOr<std::unique_ptr<LoopbackNode>> root = NewLoopbackRoot(host_.src(), lo);
    ASSERT_TRUE(root.ok()) << root.status();
    Options options = LoopbackMountOptions(Options());
    options.server.splice_read = true;
    options.server.init.max_write = GetParam().max_write;
    options.server.workers = 2;
    options.server.debug = true;
    options.server.log = wire_.Sink();
    // Sizes and mtimes come from the host each time.
    options.attr_timeout = absl::ZeroDuration();
    options.entry_timeout = absl::ZeroDuration();
    bridge_ = std::make_unique<Bridge>(*std::move(root), options);
    MountOptions mount_options;
    mount_options.fsname = "loopbackfs-splice-write-test";
    MountForTest(bridge_.get(), mount_options, ServerOptionsFor(options), &mount_);
    if (mount_ == nullptr) return;
    bridge_->SetNotifier(&mount_->server().notifier());
  }
  void TearDown() override {
    mount_.reset();
    if (bridge_) bridge_->SetNotifier(nullptr);
    bridge_.reset();
  }
  std::string M(absl::string_view relative) { return mount_->Path(relative); }

  // Metadata between writes: a new directory, stat of `file` (its size
  // must be `size`), and the listing with every directory made so far.
  void Metadata(const std::string& file, size_t size) {
    std::string dir = absl::StrCat("d", dirs_.size());
    ASSERT_EQ(mkdir(M(dir).c_str(), 0755), 0) << errno;
    dirs_.push_back(dir);
    struct stat st;
    ASSERT_EQ(stat(M(file).c_str(), &st), 0) << errno;
    EXPECT_EQ(static_cast<size_t>(st.st_size), size);
    std::vector<std::string> names = HostList(M(""));
    for (const std::string& d : dirs_) {
      EXPECT_TRUE(std::find(names.begin(), names.end(), d) != names.end()) << d;
    }
  }

  // What reached the nodes: every WRITE in the worker's pipe, and (loopback
  // handles) spliced except O_APPEND ones (`appends`). A 1 MiB max_write
  // needs a 2 MiB pipe, which takes CAP_SYS_RESOURCE: without it the server
  // offers 1 MiB less a page (logged), so that requests fit a 1 MiB pipe.
  void ExpectDataPath(int appends) {
    EXPECT_GT(wire_.writes(), 0);
    EXPECT_EQ(probe_.payloads.load(), wire_.writes());
    EXPECT_EQ(probe_.left_in_pipe.load(), 0);
    EXPECT_EQ(wire_.fallback(), "") << "the workers fell back to read(2)";
    EXPECT_EQ(wire_.piped(), wire_.writes());
    EXPECT_EQ(probe_.in_pipe.load(), wire_.writes());
    if (GetParam().mode == Mode::kSplice) {
      EXPECT_GE(probe_.spliced.load(), wire_.writes() - appends);
    } else {
      EXPECT_EQ(probe_.spliced.load(), 0);
    }
  }

  // The host file equals `model` byte for byte.
  void ExpectHost(const std::string& file, const std::string& model) {
    std::string host = ReadHostFile(host_.src(file));
    EXPECT_EQ(host.size(), model.size());
    EXPECT_TRUE(host == model) << file << " differs on the host";
  }

  HostTree host_;
  Probe probe_;
  WireCounts wire_;
  std::unique_ptr<Bridge> bridge_;
  std::unique_ptr<TestMount> mount_;
  std::vector<std::string> dirs_;
};

TEST_P(SpliceWriteMountTest, WritesReachTheHostFileByteExact) {
  if (mount_ == nullptr) return;
  std::string model;
  int fd = open(M("f").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << errno;
  // Sequential 1 MiB blocks (each one WRITE at max_write 1 MiB).
  for (int i = 0; i < 6; ++i) {
    std::string block = Pattern(1 << 20, 100 + i);
    ASSERT_TRUE(WriteAll(fd, block));
    Apply(&model, block, model.size());
    if (i % 2 == 1) Metadata("f", model.size());
  }
  ExpectHost("f", model);
  // Unaligned offsets and sizes, inside and across the end.
  struct Case {
    off_t at;
    size_t size;
  } cases[] = {{1, 1},         {4095, 2},         {4097, 65539},  {12345, (1 << 20) + 3},
               {777777, 4096}, {(6 << 20) - 5, 9000}};
  for (const Case& c : cases) {
    std::string data = Pattern(c.size, static_cast<uint32_t>(c.at));
    ASSERT_TRUE(PwriteAll(fd, data, c.at));
    Apply(&model, data, static_cast<size_t>(c.at));
  }
  Metadata("f", model.size());
  ExpectHost("f", model);
  // Many small writes.
  for (int i = 0; i < 300; ++i) {
    std::string data = Pattern(1 + i % 17, 500 + i);
    size_t at = (static_cast<size_t>(i) * 7919) % model.size();
    ASSERT_TRUE(PwriteAll(fd, data, static_cast<off_t>(at)));
    Apply(&model, data, at);
    if (i % 100 == 0) Metadata("f", model.size());
  }
  ExpectHost("f", model);
  // Past the end: the gap reads as zeros.
  std::string tail = Pattern(5000, 9);
  size_t at = model.size() + 100000;
  ASSERT_TRUE(PwriteAll(fd, tail, static_cast<off_t>(at)));
  Apply(&model, tail, at);
  Metadata("f", model.size());
  EXPECT_EQ(close(fd), 0);
  ExpectHost("f", model);

  // O_APPEND: splice(2) refuses such files; the handle pwrites instead.
  std::string appended;
  int afd = open(M("log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  ASSERT_GE(afd, 0) << errno;
  for (int i = 0; i < 20; ++i) {
    std::string data = Pattern(i % 3 == 0 ? 70000 : 10 + i, 700 + i);
    ASSERT_TRUE(WriteAll(afd, data));
    appended += data;
    if (i % 5 == 0) Metadata("log", appended.size());
  }
  EXPECT_EQ(close(afd), 0);
  ExpectHost("log", appended);

  // Appends of 70000 bytes may come as two WRITEs.
  ExpectDataPath(/*appends=*/40);
}

// Metadata on one thread while another writes: both workers' pipes are in
// use, and a request after a WRITE on the same worker must find its pipe
// empty.
TEST_P(SpliceWriteMountTest, MetadataAlongsideWrites) {
  if (mount_ == nullptr) return;
  std::atomic<bool> stop{false};
  std::atomic<int> metadata_failures{0};
  std::atomic<int> rounds{0};
  std::thread meta([&] {
    for (int i = 0; !stop.load() || i < 20; ++i) {
      std::string dir = M(absl::StrCat("m", i));
      if (mkdir(dir.c_str(), 0755) != 0) metadata_failures++;
      struct stat st;
      if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) metadata_failures++;
      std::vector<std::string> names = HostList(M(""));
      if (std::find(names.begin(), names.end(), absl::StrCat("m", i)) == names.end()) {
        metadata_failures++;
      }
      rounds++;
    }
  });
  std::string model;
  int fd = open(M("g").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << errno;
  for (int i = 0; i < 24; ++i) {
    std::string data = Pattern(i % 2 == 0 ? (1 << 20) : 3000 + i, 900 + i);
    size_t at = i % 3 == 2 ? static_cast<size_t>(i) * 4099 : model.size();
    ASSERT_TRUE(PwriteAll(fd, data, static_cast<off_t>(at)));
    Apply(&model, data, at);
  }
  EXPECT_EQ(close(fd), 0);
  stop = true;
  meta.join();
  EXPECT_EQ(metadata_failures.load(), 0);
  EXPECT_GE(rounds.load(), 20);
  ExpectHost("g", model);
  ExpectDataPath(/*appends=*/0);
}

// 512 KiB: the worker's pipe (1 MiB) needs no privilege. 1 MiB: a 2 MiB
// pipe, which needs CAP_SYS_RESOURCE; without it the workers read(2).
INSTANTIATE_TEST_SUITE_P(Modes, SpliceWriteMountTest,
                         ::testing::Values(Config{Mode::kSplice, 512 << 10, "Splice512K"},
                                           Config{Mode::kNodeFallback, 512 << 10,
                                                  "NodeFallback512K"},
                                           Config{Mode::kSplice, 1 << 20, "Splice1M"}),
                         [](const ::testing::TestParamInfo<Config>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace fusekit::examples
