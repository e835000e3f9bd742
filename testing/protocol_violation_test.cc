// The fake kernel catches broken filesystems: for each rule it checks, a
// filesystem (or a server written by hand, for replies fusekit's typed
// replies cannot produce) that breaks it, and the failure it must report.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <functional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "fuse/request.h"
#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "testing/fake_kernel.h"
#include "testing/fake_vfs.h"
#include "testing/matchers.h"

namespace fusekit {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

abi::fuse_attr Attr(uint64_t ino, uint32_t mode) {
  abi::fuse_attr a{};
  a.ino = ino;
  a.mode = mode;
  a.nlink = (mode & S_IFMT) == S_IFDIR ? 2 : 1;
  a.blksize = 4096;
  return a;
}

EntryParam Entry(uint64_t nodeid, uint32_t mode, uint64_t generation = 0) {
  EntryParam e;
  e.nodeid = nodeid;
  e.generation = generation;
  e.entry_timeout = absl::Hours(1);
  e.attr_timeout = absl::Hours(1);
  e.attr = Attr(nodeid == 0 ? 99 : nodeid, mode);
  return e;
}

// A root directory whose children the test describes; every other
// operation a test needs is overridden per test.
class ScriptedFs : public RawFileSystem {
 public:
  std::function<void(ReplyEntry, absl::string_view)> on_lookup;

  void Lookup(ReplyEntry reply, uint64_t, absl::string_view name) override {
    if (on_lookup) {
      on_lookup(std::move(reply), name);
    } else {
      reply.Error(Errno(ENOENT));
    }
  }
  void Getattr(ReplyAttr reply, uint64_t nodeid, const abi::fuse_getattr_in&) override {
    reply.Attr(Attr(nodeid, nodeid == abi::kRootId ? S_IFDIR | 0755 : S_IFREG | 0644),
               absl::Hours(1));
  }
};

// Failures reported while `body` runs on this thread, captured instead of
// failing the test (for cases that report more than one).
std::vector<std::string> CaptureFailures(const std::function<void()>& body) {
  ::testing::TestPartResultArray results;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    body();
  }
  std::vector<std::string> messages;
  for (int i = 0; i < results.size(); ++i) messages.push_back(results.GetTestPartResult(i).message());
  return messages;
}

// --- Reply sizes ------------------------------------------------------------------------

class OversizedReadFs : public ScriptedFs {
 public:
  void Open(ReplyOpen reply, uint64_t, const abi::fuse_open_in&) override { reply.Open({}); }
  void Read(ReplyData reply, uint64_t, const abi::fuse_read_in& in) override {
    reply.Data(std::string(in.size + 90, 'x'));  // more than asked for
  }
  void Write(ReplyWrite reply, uint64_t, const abi::fuse_write_in& in,
             absl::Span<const uint8_t>) override {
    reply.Written(in.size + 1);
  }
  void Getxattr(ReplyXattr reply, uint64_t, absl::string_view, uint32_t size) override {
    std::string value(size + 5, 'v');  // should have been ERANGE
    reply.Data(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
  }
  void Listxattr(ReplyXattr reply, uint64_t, uint32_t size) override {
    static constexpr uint8_t kNoNul[] = {'u', 's', 'e', 'r', '.', 'a'};
    reply.Data(kNoNul);
  }
};

TEST(ProtocolViolationTest, ReadReplyLargerThanAsked) {
  OversizedReadFs fs;
  fs.on_lookup = [](ReplyEntry r, absl::string_view) { r.Entry(Entry(2, S_IFREG | 0644)); };
  FakeKernel kernel(&fs);
  FakeVfs vfs(&kernel);
  Result<int> fd = vfs.Open("/f", O_RDWR, 0);
  ASSERT_THAT(fd, IsOk());
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(vfs.Read(*fd, 10, 0), FailsWith(EIO)),
                          "READ reply has 100 bytes of body, more than the 10");
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(vfs.Write(*fd, "abc", 0), FailsWith(EIO)),
                          "4 bytes were written of the 3 sent");
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(vfs.Getxattr("/f", "user.a"), FailsWith(EIO)),
                          "answer ERANGE instead");
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(vfs.Listxattr("/f"), FailsWith(EIO)),
                          "NUL-terminated names");
  // Each violation comes with the trace that led to it.
  ASSERT_THAT(kernel.violations(), SizeIs(4));
  EXPECT_THAT(kernel.violations()[0], HasSubstr("-> READ unique="));
  EXPECT_THAT(kernel.violations()[0], HasSubstr("<- READ unique="));
  EXPECT_THAT(vfs.Close(*fd), IsOk());
}

// --- Entries ---------------------------------------------------------------------------

TEST(ProtocolViolationTest, NodeIdReusedWithAnotherFileType) {
  ScriptedFs fs;
  fs.on_lookup = [](ReplyEntry r, absl::string_view name) {
    // Both names get node id 5, once a file, once a directory, while the
    // kernel still holds the first.
    r.Entry(Entry(5, name == "a" ? S_IFREG | 0644 : S_IFDIR | 0755));
  };
  FakeKernel kernel(&fs);
  FakeVfs vfs(&kernel);
  ASSERT_THAT(vfs.Stat("/a"), IsOk());
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(vfs.Stat("/b"), FailsWith(EIO)),
                          "node id 5 came back as DIR while the kernel still holds it as REG");
}

TEST(ProtocolViolationTest, NodeIdReusedWithAnotherGeneration) {
  ScriptedFs fs;
  fs.on_lookup = [](ReplyEntry r, absl::string_view name) {
    r.Entry(Entry(5, S_IFREG | 0644, name == "a" ? 1 : 2));
  };
  FakeKernel kernel(&fs);
  FakeVfs vfs(&kernel);
  ASSERT_THAT(vfs.Stat("/a"), IsOk());
  EXPECT_NONFATAL_FAILURE(vfs.Stat("/b"), "came back with generation 2");
  // Once forgotten, the id may come back as anything.
  kernel.DropCaches();
  EXPECT_THAT(vfs.Stat("/b"), IsOk());
}

TEST(ProtocolViolationTest, BadNodeIdsAndAttributes) {
  ScriptedFs fs;
  fs.on_lookup = [](ReplyEntry r, absl::string_view name) {
    if (name == "root") {
      r.Entry(Entry(abi::kRootId, S_IFDIR | 0755));
    } else if (name == "typeless") {
      r.Entry(Entry(7, 0644));
    } else {
      r.Error(Errno(ENOENT));
    }
  };
  FakeKernel kernel(&fs);
  FakeVfs vfs(&kernel);
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(vfs.Stat("/root"), FailsWith(EIO)),
                          "node id 1 (the root) returned for a child");
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(vfs.Stat("/typeless"), FailsWith(EIO)),
                          "has no valid file type");
}

class BadCreateFs : public ScriptedFs {
 public:
  void Mkdir(ReplyEntry reply, uint64_t, absl::string_view name,
             const abi::fuse_mkdir_in&) override {
    if (name == "zero") {
      reply.Entry(Entry(0, S_IFDIR | 0755));
    } else {
      reply.Entry(Entry(8, S_IFREG | 0644));  // a directory was asked for
    }
  }
  void Link(ReplyEntry reply, uint64_t, uint64_t, absl::string_view) override {
    reply.Entry(Entry(9, S_IFREG | 0644));  // not the linked node
  }
};

TEST(ProtocolViolationTest, CreatingRepliesWithBadEntries) {
  BadCreateFs fs;
  fs.on_lookup = [](ReplyEntry r, absl::string_view name) {
    if (name == "f") {
      r.Entry(Entry(2, S_IFREG | 0644));
    } else {
      r.Error(Errno(ENOENT));
    }
  };
  FakeKernel kernel(&fs);
  FakeVfs vfs(&kernel);
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(vfs.Mkdir("/zero", 0755), FailsWith(EIO)),
                          "node id 0 in a creating reply");
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(vfs.Mkdir("/file", 0755), FailsWith(EIO)),
                          "the new entry is REG, the request created DIR");
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(vfs.Link("/f", "/g"), FailsWith(EIO)),
                          "not the linked node 2");
}

class TypeChangingFs : public ScriptedFs {
 public:
  void Getattr(ReplyAttr reply, uint64_t nodeid, const abi::fuse_getattr_in&) override {
    reply.Attr(Attr(nodeid, nodeid == abi::kRootId ? S_IFDIR | 0755 : S_IFDIR | 0755),
               absl::ZeroDuration());
  }
};

TEST(ProtocolViolationTest, GetattrChangesTheFileType) {
  TypeChangingFs fs;
  fs.on_lookup = [](ReplyEntry r, absl::string_view) {
    EntryParam e = Entry(2, S_IFREG | 0644);
    e.attr_timeout = absl::ZeroDuration();
    r.Entry(e);
  };
  FakeKernel kernel(&fs);
  FakeVfs vfs(&kernel);
  ASSERT_THAT(vfs.Lookup("/f"), IsOk());
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(vfs.Stat("/f"), FailsWith(EIO)),
                          "the file type changed from REG to DIR");
}

// --- Directories ---------------------------------------------------------------------------

// Lists a, b, c, d with a fault chosen by the test.
class BadReaddirFs : public ScriptedFs {
 public:
  enum class Fault { kSkippingOffsets, kZeroOffset, kRepeats };
  explicit BadReaddirFs(Fault fault) : fault_(fault) {}

  void Opendir(ReplyOpen reply, uint64_t, const abi::fuse_open_in&) override { reply.Open({}); }
  void Releasedir(ReplyEmpty reply, uint64_t, const abi::fuse_release_in&) override {
    reply.Ok();
  }
  void Readdir(ReplyDirectory reply, uint64_t, const abi::fuse_read_in& in) override {
    const char* names[] = {"a", "b", "c", "d"};
    for (uint64_t i = in.offset; i < 4; ++i) {
      uint64_t next = i + 1;
      if (fault_ == Fault::kSkippingOffsets) next = i + 2;  // resuming skips one
      if (fault_ == Fault::kZeroOffset) next = 0;
      if (!reply.Add(names[i], 10 + i, DT_REG, next)) break;
      // kRepeats: one entry per reply, always the same offset.
      if (fault_ == Fault::kRepeats) {
        reply.Add(names[i], 10 + i, DT_REG, 1);
        break;
      }
    }
    reply.Send();
  }

 private:
  const Fault fault_;
};

TEST(ProtocolViolationTest, ReaddirOffsetsThatSkip) {
  BadReaddirFs fs(BadReaddirFs::Fault::kSkippingOffsets);
  FakeKernel kernel(&fs);
  FakeVfs vfs(&kernel);
  EXPECT_NONFATAL_FAILURE(
      vfs.Readdir("/"),
      "READDIR continued from offset 2 (the offset after \"a\") returned \"c\", expected \"b\"");
  // The same fault seen by a reader whose getdents buffer takes one entry at
  // a time: entries go missing.
  FakeVfs::ReaddirOptions one_at_a_time;
  one_at_a_time.entries_per_call = 1;
  Result<std::vector<DirEntry>> entries = Errno(EINVAL);
  EXPECT_NONFATAL_FAILURE(entries = vfs.Readdir("/", one_at_a_time),
                          "read 1 entry per getdents call was [\"a\", \"c\"], but read whole "
                          "replies at a time was [\"a\", \"b\", \"c\", \"d\"]");
  ASSERT_THAT(entries, IsOk());
  EXPECT_THAT(*entries, SizeIs(2));  // a, c
}

TEST(ProtocolViolationTest, ReaddirOffsetZero) {
  BadReaddirFs fs(BadReaddirFs::Fault::kZeroOffset);
  FakeKernelOptions options;
  options.fail_on_violation = false;
  FakeKernel kernel(&fs, options);
  FakeVfs vfs(&kernel);
  EXPECT_THAT(vfs.Readdir("/"), FailsWith(EIO));
  ASSERT_THAT(kernel.violations(), Not(IsEmpty()));
  EXPECT_THAT(kernel.violations()[0], HasSubstr("has next offset 0"));
}

TEST(ProtocolViolationTest, ReaddirRepeatingEntries) {
  BadReaddirFs fs(BadReaddirFs::Fault::kRepeats);
  FakeKernelOptions options;
  options.fail_on_violation = false;
  FakeKernel kernel(&fs, options);
  FakeVfs vfs(&kernel);
  EXPECT_THAT(vfs.Readdir("/"), IsOk());
  ASSERT_THAT(kernel.violations(), Not(IsEmpty()));
  EXPECT_THAT(kernel.violations()[0], HasSubstr("returned \"a\" twice"));
}

// --- Lookup counts ---------------------------------------------------------------------------

// Counts lookups of "f" (node 2); `extra` is added to what it reports.
class CountingFs : public ScriptedFs, public LookupCountSource {
 public:
  explicit CountingFs(int extra) : extra_(extra) {
    on_lookup = [this](ReplyEntry r, absl::string_view) {
      count_++;
      r.Entry(Entry(2, S_IFREG | 0644));
    };
  }
  void Forget(const RequestContext&, uint64_t, uint64_t nlookup) override { count_ -= nlookup; }
  std::map<uint64_t, uint64_t> LookupCounts() override {
    int64_t n = count_.load() + extra_;
    if (n <= 0) return {};
    return {{2, static_cast<uint64_t>(n)}};
  }

 private:
  const int extra_;
  std::atomic<int64_t> count_{0};
};

FakeKernelOptions QuickAudits() {
  FakeKernelOptions options;
  options.audit_settle_time = absl::Milliseconds(50);
  return options;
}

TEST(ProtocolViolationTest, LookupLeakIsReported) {
  CountingFs fs(/*extra=*/1);  // one count too many: the node never dies
  FakeKernelOptions options = QuickAudits();
  options.audit_at_teardown = false;
  FakeKernel kernel(&fs, options);
  FakeVfs vfs(&kernel);
  ASSERT_THAT(vfs.Stat("/f"), IsOk());
  EXPECT_NONFATAL_FAILURE(kernel.ExpectLookupCountsMatch(),
                          "node 2: kernel holds 1, filesystem counts 2 (a leak");
  std::vector<LookupCountMismatch> m = kernel.LookupCountMismatches();
  ASSERT_THAT(m, SizeIs(1));
  EXPECT_EQ(m[0].nodeid, 2u);
}

TEST(ProtocolViolationTest, PrematureReleaseIsReported) {
  CountingFs fs(/*extra=*/-1);
  FakeKernelOptions options = QuickAudits();
  options.audit_at_teardown = false;
  FakeKernel kernel(&fs, options);
  FakeVfs vfs(&kernel);
  ASSERT_THAT(vfs.Stat("/f"), IsOk());
  EXPECT_NONFATAL_FAILURE(kernel.ExpectLookupCountsMatch(), "premature release");
}

TEST(ProtocolViolationTest, TeardownFindsTheLeak) {
  CountingFs fs(/*extra=*/1);
  std::vector<std::string> failures = CaptureFailures([&] {
    FakeKernel kernel(&fs, QuickAudits());
    FakeVfs vfs(&kernel);
    ASSERT_THAT(vfs.Stat("/f"), IsOk());
  });
  ASSERT_THAT(failures, SizeIs(2));
  EXPECT_THAT(failures[0], HasSubstr("Lookup counts differ"));
  EXPECT_THAT(failures[1], HasSubstr("still holds lookup counts"));
  EXPECT_THAT(failures[1], HasSubstr("node 2: 1"));
}

TEST(ProtocolViolationTest, CorrectCountsPassTheTeardownAudit) {
  CountingFs fs(/*extra=*/0);
  std::vector<std::string> failures = CaptureFailures([&] {
    FakeKernel kernel(&fs, QuickAudits());
    FakeVfs vfs(&kernel);
    ASSERT_THAT(vfs.Stat("/f"), IsOk());
    kernel.clock().Advance(absl::Hours(2));
    ASSERT_THAT(vfs.Stat("/f"), IsOk());
  });
  EXPECT_THAT(failures, IsEmpty());
}

// --- A server written by hand: replies fusekit would never send -----------------------------

// Plays the server on one end of a socketpair: answers INIT itself and
// everything else with what `handler` returns (raw messages).
class HandServer {
 public:
  using Handler = std::function<std::vector<std::string>(const DecodedRequest&)>;

  explicit HandServer(Handler handler, uint32_t init_flags = 0)
      : handler_(std::move(handler)), init_flags_(init_flags) {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
    kernel_end_.reset(fds[0]);
    server_end_.reset(fds[1]);
    thread_ = std::thread([this] { Loop(); });
  }
  ~HandServer() {
    ::shutdown(server_end_.get(), SHUT_RDWR);
    thread_.join();
  }
  ScopedFd TakeKernelEnd() { return std::move(kernel_end_); }

  static std::string Message(uint64_t unique, int32_t error, absl::string_view body = "") {
    abi::fuse_out_header h{};
    h.len = static_cast<uint32_t>(sizeof(h) + body.size());
    h.error = error;
    h.unique = unique;
    std::string m(reinterpret_cast<const char*>(&h), sizeof(h));
    m.append(body.data(), body.size());
    return m;
  }
  template <typename T>
  static std::string Body(const T& value) {
    return std::string(reinterpret_cast<const char*>(&value), sizeof(value));
  }

 private:
  void Loop() {
    std::vector<uint8_t> buffer(1 << 20);
    for (;;) {
      ssize_t n = ::recv(server_end_.get(), buffer.data(), buffer.size(), 0);
      if (n <= 0) return;
      DecodedRequest request;
      DecodeError error;
      DecodeSettings settings;
      if (!DecodeRequest(absl::MakeConstSpan(buffer.data(), static_cast<size_t>(n)), settings,
                         &request, &error)) {
        continue;
      }
      std::vector<std::string> out;
      if (request.opcode() == abi::Opcode::kInit) {
        abi::fuse_init_out init{};
        init.major = 7;
        init.minor = 45;
        init.flags = init_flags_;
        init.max_write = 1 << 17;
        out.push_back(Message(request.header.unique, 0, Body(init)));
      } else {
        out = handler_(request);
      }
      for (const std::string& m : out) ::send(server_end_.get(), m.data(), m.size(), MSG_NOSIGNAL);
    }
  }

  Handler handler_;
  const uint32_t init_flags_;
  ScopedFd kernel_end_;
  ScopedFd server_end_;
  std::thread thread_;
};

using abi::Opcode;

TEST(HandServerViolationTest, AttrReplyOfTheOldSize) {
  HandServer server([](const DecodedRequest& r) -> std::vector<std::string> {
    abi::fuse_attr_out out{};
    out.attr = Attr(1, S_IFDIR | 0755);
    // 96 bytes: the layout before 7.9, but 7.45 was negotiated.
    return {HandServer::Message(r.header.unique, 0,
                                HandServer::Body(out).substr(0, abi::kCompatAttrOutSize))};
  });
  FakeKernel kernel(server.TakeKernelEnd());
  FakeVfs vfs(&kernel);
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(vfs.Stat("/"), FailsWith(EIO)),
                          "GETATTR reply has 96 bytes of body, the kernel expects exactly 104");
}

TEST(HandServerViolationTest, ErrorReplyWithABody) {
  HandServer server([](const DecodedRequest& r) -> std::vector<std::string> {
    return {HandServer::Message(r.header.unique, -ENOENT, "junk")};
  });
  FakeKernel kernel(server.TakeKernelEnd());
  FakeVfs vfs(&kernel);
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(vfs.Stat("/"), FailsWith(EIO)),
                          "error reply (ENOENT) carries 4 bytes of body");
}

TEST(HandServerViolationTest, PositiveErrorField) {
  HandServer server([](const DecodedRequest& r) -> std::vector<std::string> {
    return {HandServer::Message(r.header.unique, ENOENT)};
  });
  FakeKernel kernel(server.TakeKernelEnd());
  FakeVfs vfs(&kernel);
  EXPECT_NONFATAL_FAILURE(vfs.Stat("/"), "is not a negative errno above -512");
}

TEST(HandServerViolationTest, TwoRepliesToOneRequest) {
  HandServer server([](const DecodedRequest& r) -> std::vector<std::string> {
    return {HandServer::Message(r.header.unique, -ENOENT),
            HandServer::Message(r.header.unique, -ENOENT)};
  });
  FakeKernel kernel(server.TakeKernelEnd());
  FakeVfs vfs(&kernel);
  EXPECT_THAT(vfs.Stat("/x"), FailsWith(ENOENT));
  EXPECT_NONFATAL_FAILURE(
      {
        absl::Time deadline = absl::Now() + absl::Seconds(5);
        while (kernel.violations().empty() && absl::Now() < deadline) {
          kernel.ProcessPendingMessages();
          absl::SleepFor(absl::Milliseconds(1));
        }
      },
      "a second reply to LOOKUP unique=4: each request is answered exactly once");
}

TEST(HandServerViolationTest, ReplyToAForgetAndToAnUnknownUnique) {
  HandServer server([](const DecodedRequest& r) -> std::vector<std::string> {
    if (r.opcode() == Opcode::kLookup) {
      abi::fuse_entry_out e{};
      e.nodeid = 2;
      e.attr = Attr(2, S_IFREG | 0644);
      return {HandServer::Message(r.header.unique, 0, HandServer::Body(e))};
    }
    // Answers FORGET, which takes no reply, and then a unique never sent.
    return {HandServer::Message(r.header.unique, 0), HandServer::Message(1000, -EIO)};
  });
  FakeKernel kernel(server.TakeKernelEnd());
  FakeVfs vfs(&kernel);
  ASSERT_THAT(vfs.Lookup("/f"), IsOk());
  std::vector<std::string> failures = CaptureFailures([&] {
    kernel.DropCaches();
    absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (kernel.violations().size() < 2 && absl::Now() < deadline) {
      kernel.ProcessPendingMessages();
      absl::SleepFor(absl::Milliseconds(1));
    }
  });
  ASSERT_THAT(failures, SizeIs(2));
  EXPECT_THAT(failures[0], HasSubstr("a reply to FORGET unique=6, which takes no reply"));
  EXPECT_THAT(failures[1], HasSubstr("a reply for unique 1000, which the kernel never sent"));
}

TEST(HandServerViolationTest, NoReplyAtAll) {
  HandServer server([](const DecodedRequest&) -> std::vector<std::string> { return {}; });
  FakeKernelOptions options;
  options.reply_timeout = absl::Milliseconds(100);
  options.fail_on_violation = false;
  FakeKernel kernel(server.TakeKernelEnd(), options);
  FakeVfs vfs(&kernel);
  EXPECT_THAT(vfs.Stat("/"), FailsWith(ETIMEDOUT));
  ASSERT_THAT(kernel.violations(), SizeIs(1));
  EXPECT_THAT(kernel.violations()[0], HasSubstr("no reply within 100ms to -> GETATTR"));
}

TEST(HandServerViolationTest, MalformedDirectoryRecords) {
  HandServer server([](const DecodedRequest& r) -> std::vector<std::string> {
    switch (r.opcode()) {
      case Opcode::kOpendir:
        return {HandServer::Message(r.header.unique, 0, HandServer::Body(abi::fuse_open_out{}))};
      case Opcode::kReaddir:
        if (r.Arg<abi::fuse_read_in>().offset != 0) return {HandServer::Message(r.header.unique, 0)};
        return {HandServer::Message(r.header.unique, 0, EncodeDirent("a/b", 5, 1, DT_REG))};
      default:
        return {HandServer::Message(r.header.unique, 0)};
    }
  });
  FakeKernel kernel(server.TakeKernelEnd());
  FakeVfs vfs(&kernel);
  FakeVfs::ReaddirOptions plain;
  plain.mode = FakeVfs::ReaddirOptions::Mode::kPlain;
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(vfs.Readdir("/", plain), FailsWith(EIO)),
                          "name \"a/b\" contains '/'");
}

TEST(HandServerViolationTest, MalformedNotification) {
  HandServer server([](const DecodedRequest& r) -> std::vector<std::string> {
    abi::fuse_notify_inval_entry_out o{};
    o.parent = 1;
    o.namelen = 10;  // but only "ab\0" follows
    std::string body = HandServer::Body(o) + std::string("ab\0", 3);
    return {HandServer::Message(0, static_cast<int32_t>(abi::NotifyCode::kInvalEntry), body),
            HandServer::Message(r.header.unique, -ENOENT)};
  });
  FakeKernel kernel(server.TakeKernelEnd());
  FakeVfs vfs(&kernel);
  EXPECT_NONFATAL_FAILURE(vfs.Stat("/x"), "NOTIFY INVAL_ENTRY of 19 bytes, expected 27");
  std::vector<ReceivedNotification> n = kernel.TakeNotifications();
  ASSERT_THAT(n, SizeIs(1));
  EXPECT_EQ(n[0].kernel_result, Errno(EINVAL));
}

TEST(HandServerTest, InterruptAnsweredEagainIsSentAgain) {
  // The server answers the first INTERRUPT with EAGAIN ("not yet known"),
  // as a server may when it has not read the request yet; the kernel sends
  // it again, and the second one ends the READ.
  std::atomic<int> interrupts{0};
  std::atomic<uint64_t> read_unique{0};
  HandServer server([&](const DecodedRequest& r) -> std::vector<std::string> {
    switch (r.opcode()) {
      case Opcode::kLookup: {
        abi::fuse_entry_out e{};
        e.nodeid = 2;
        e.attr = Attr(2, S_IFREG | 0644);
        return {HandServer::Message(r.header.unique, 0, HandServer::Body(e))};
      }
      case Opcode::kRead:
        read_unique = r.header.unique;
        return {};  // held until interrupted
      case Opcode::kInterrupt:
        if (++interrupts == 1) return {HandServer::Message(r.header.unique, -EAGAIN)};
        return {HandServer::Message(r.Arg<abi::fuse_interrupt_in>().unique, -EINTR)};
      default:
        return {HandServer::Message(r.header.unique, -ENOSYS)};
    }
  });
  FakeKernel kernel(server.TakeKernelEnd());
  FakeVfs vfs(&kernel);
  Result<uint64_t> id = vfs.Lookup("/f");
  ASSERT_THAT(id, IsOk());
  FakeKernel::Ticket t = kernel.Start(FuseRequest::Read(*id, 0, 0, 100));
  kernel.Interrupt(t);
  EXPECT_EQ(kernel.Await(t).error(), Errno(EINTR));
  EXPECT_EQ(interrupts.load(), 2);
  EXPECT_EQ(read_unique.load(), t);
  EXPECT_THAT(kernel.violations(), IsEmpty());
}

TEST(HandServerViolationTest, GetlkReplyWithAnInvertedRange) {
  HandServer server([](const DecodedRequest& r) -> std::vector<std::string> {
    switch (r.opcode()) {
      case Opcode::kLookup: {
        abi::fuse_entry_out e{};
        e.nodeid = 2;
        e.attr = Attr(2, S_IFREG | 0644);
        return {HandServer::Message(r.header.unique, 0, HandServer::Body(e))};
      }
      case Opcode::kOpen:
        return {HandServer::Message(r.header.unique, 0, HandServer::Body(abi::fuse_open_out{}))};
      case Opcode::kGetlk: {
        abi::fuse_lk_out out{};
        out.lk.type = F_WRLCK;
        out.lk.start = 10;
        out.lk.end = 5;
        return {HandServer::Message(r.header.unique, 0, HandServer::Body(out))};
      }
      default:
        return {HandServer::Message(r.header.unique, 0)};
    }
  }, static_cast<uint32_t>(abi::kInitPosixLocks));
  FakeKernel kernel(server.TakeKernelEnd());
  FakeVfs vfs(&kernel);
  Result<int> fd = vfs.Open("/f", O_RDWR, 0);
  ASSERT_THAT(fd, IsOk());
  struct flock lock {};
  lock.l_type = F_RDLCK;
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(vfs.Getlk(*fd, lock), FailsWith(EIO)),
                          "GETLK reply lock range 10..5 is not a valid range");
}

TEST(HandServerViolationTest, InitGrantingWhatWasNotOffered) {
  HandServer server([](const DecodedRequest&) -> std::vector<std::string> { return {}; },
                    static_cast<uint32_t>(abi::kInitPosixLocks));
  FakeKernelOptions options;
  options.init_flags = abi::kInitAsyncRead;
  EXPECT_NONFATAL_FAILURE(FakeKernel kernel(server.TakeKernelEnd(), options),
                          "INIT reply grants flags the kernel did not offer: 0x2");
}

}  // namespace
}  // namespace fusekit
