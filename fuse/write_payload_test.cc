// WritePayload and RequestPipe on real pipes and files (no mount): a
// payload spliced to a file or materialized byte-exact, sizes from 0 to
// 1 MiB, a payload bigger than one splice moves, the pipe drained exactly
// after an unconsumed payload, a short pipe detected; RequestPipe leaving
// only a well-formed WRITE's data in the pipe; and the Session handing a
// pipe payload to WriteBuf (or, by default, to Write).
#include "fuse/write_payload.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fuse/kernel_abi.h"
#include "fuse/raw_filesystem.h"
#include "fuse/request.h"
#include "fuse/request_pipe.h"
#include "fuse/scoped_fd.h"
#include "fuse/server.h"
#include "fuse/session.h"
#include "fuse/wire_test_util.h"
#include "gtest/gtest.h"
#include "testing/pattern.h"

namespace fusekit {
namespace {

// A pipe holding up to `capacity` bytes (non-blocking read end, as the
// worker's), or invalid ends when it cannot be made that big.
struct TestPipe {
  explicit TestPipe(size_t capacity) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
    fcntl(read_end.get(), F_SETFL, O_NONBLOCK);
    int size = fcntl(write_end.get(), F_GETPIPE_SZ);
    if (size < static_cast<int>(capacity)) {
      size = fcntl(write_end.get(), F_SETPIPE_SZ, static_cast<int>(capacity));
    }
    if (size < static_cast<int>(capacity)) {
      read_end.reset();
      write_end.reset();
    }
  }
  bool ok() const { return read_end.valid(); }
  bool Put(absl::string_view bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = write(write_end.get(), bytes.data() + done, bytes.size() - done);
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }
  // Bytes waiting in the pipe.
  int Fill() const {
    int n = -1;
    ioctl(read_end.get(), FIONREAD, &n);
    return n;
  }
  std::string TakeAll() {
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = read(read_end.get(), buf, sizeof(buf))) > 0) out.append(buf, n);
    return out;
  }
  ScopedFd read_end;
  ScopedFd write_end;
};

// A fresh file under $TEST_TMPDIR, removed at the end.
class TempFile {
 public:
  explicit TempFile(int extra_flags = 0) {
    const char* dir = getenv("TEST_TMPDIR");
    path_ = absl::StrCat(dir ? dir : "/tmp", "/payloadXXXXXX");
    int fd = mkstemp(path_.data());
    if (fd >= 0) close(fd);
    fd_.reset(open(path_.c_str(), O_RDWR | O_CLOEXEC | extra_flags));
  }
  ~TempFile() { unlink(path_.c_str()); }
  int fd() const { return fd_.get(); }
  std::string Content() const {
    std::string out;
    char buf[65536];
    ssize_t n;
    off_t at = 0;
    while ((n = pread(fd_.get(), buf, sizeof(buf), at)) > 0) {
      out.append(buf, n);
      at += n;
    }
    return out;
  }

 private:
  std::string path_;
  ScopedFd fd_;
};

constexpr size_t kSizes[] = {0, 1, 4096, 1 << 20};

TEST(WritePayloadTest, InMemorySpliceToWritesAtTheOffset) {
  const std::string data = Pattern(10000, 1);
  TempFile file;
  ASSERT_GE(file.fd(), 0);
  WritePayload payload(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(data.data()),
                                           data.size()));
  EXPECT_FALSE(payload.in_pipe());
  size_t written = 0;
  EXPECT_EQ(payload.SpliceTo(file.fd(), 7, &written), kOk);
  EXPECT_EQ(written, data.size());
  EXPECT_EQ(payload.size(), 0u);
  EXPECT_TRUE(file.Content() == std::string(7, '\0') + data);
}

TEST(WritePayloadTest, PipePayloadSplicesToAFileByteExact) {
  for (size_t size : kSizes) {
    SCOPED_TRACE(absl::StrCat("size ", size));
    TestPipe pipe(std::max<size_t>(size, 4096));
    ASSERT_TRUE(pipe.ok());
    const std::string data = Pattern(size, 2 + size);
    ASSERT_TRUE(pipe.Put(data));
    TempFile file;
    ASSERT_GE(file.fd(), 0);
    std::vector<uint8_t> buffer(size + 1);
    WritePayload payload(pipe.read_end.get(), size, buffer.data());
    EXPECT_EQ(payload.size(), size);
    EXPECT_EQ(payload.in_pipe(), size > 0);
    size_t written = 0;
    // Unaligned in the file, so the pages land across page boundaries.
    EXPECT_EQ(payload.SpliceTo(file.fd(), 4097, &written), kOk);
    EXPECT_EQ(written, size);
    EXPECT_EQ(payload.size(), 0u);
    EXPECT_EQ(pipe.Fill(), 0);
    std::string expected = size == 0 ? "" : std::string(4097, '\0') + data;
    EXPECT_TRUE(file.Content() == expected) << "file differs";
    EXPECT_TRUE(payload.Discard());
  }
}

TEST(WritePayloadTest, PipePayloadMaterializesByteExact) {
  for (size_t size : kSizes) {
    SCOPED_TRACE(absl::StrCat("size ", size));
    TestPipe pipe(std::max<size_t>(size, 4096));
    ASSERT_TRUE(pipe.ok());
    const std::string data = Pattern(size, 3 + size);
    ASSERT_TRUE(pipe.Put(data));
    std::vector<uint8_t> buffer(size + 1);
    WritePayload payload(pipe.read_end.get(), size, buffer.data());
    absl::Span<const uint8_t> got;
    EXPECT_EQ(payload.Materialize(&got), kOk);
    EXPECT_EQ(got.size(), size);
    EXPECT_TRUE(std::string(reinterpret_cast<const char*>(got.data()), got.size()) == data);
    EXPECT_EQ(pipe.Fill(), 0);
    EXPECT_FALSE(payload.in_pipe());
    // A second call gives the same bytes; writing them afterwards works
    // from memory.
    absl::Span<const uint8_t> again;
    EXPECT_EQ(payload.Materialize(&again), kOk);
    EXPECT_EQ(again.data(), got.data());
    TempFile file;
    size_t written = 0;
    EXPECT_EQ(payload.SpliceTo(file.fd(), 0, &written), kOk);
    EXPECT_EQ(written, size);
    EXPECT_TRUE(file.Content() == data);
  }
}

TEST(WritePayloadTest, UnconsumedPayloadIsDrainedExactly) {
  for (size_t size : {size_t{1}, size_t{4096}, size_t{100000}}) {
    SCOPED_TRACE(absl::StrCat("size ", size));
    TestPipe pipe(size + 8192);
    ASSERT_TRUE(pipe.ok());
    // The payload, then what stands for the next request.
    ASSERT_TRUE(pipe.Put(Pattern(size, 4)));
    ASSERT_TRUE(pipe.Put("NEXT"));
    std::vector<uint8_t> buffer(size);
    {
      WritePayload payload(pipe.read_end.get(), size, buffer.data());
      EXPECT_TRUE(payload.Discard());
      EXPECT_EQ(payload.size(), 0u);
    }
    EXPECT_EQ(pipe.TakeAll(), "NEXT");
    // Forgotten entirely: the destructor drains it too.
    ASSERT_TRUE(pipe.Put(Pattern(size, 5)));
    ASSERT_TRUE(pipe.Put("NEXT"));
    { WritePayload payload(pipe.read_end.get(), size, buffer.data()); }
    EXPECT_EQ(pipe.TakeAll(), "NEXT");
    // Partly spliced, then dropped.
    ASSERT_TRUE(pipe.Put(Pattern(size, 6)));
    ASSERT_TRUE(pipe.Put("NEXT"));
    {
      TempFile append(O_APPEND);
      WritePayload payload(pipe.read_end.get(), size, buffer.data());
      size_t written = 0;
      // splice(2) refuses O_APPEND files: nothing is taken.
      EXPECT_EQ(payload.SpliceTo(append.fd(), 0, &written), Errno(EINVAL));
      EXPECT_EQ(written, 0u);
      EXPECT_EQ(payload.size(), size);
      EXPECT_TRUE(payload.in_pipe());
    }
    EXPECT_EQ(pipe.TakeAll(), "NEXT");
  }
}

TEST(WritePayloadTest, RefusedSpliceLeavesTheBytesForAFallback) {
  TestPipe pipe(65536);
  ASSERT_TRUE(pipe.ok());
  const std::string data = Pattern(20000, 7);
  ASSERT_TRUE(pipe.Put(data));
  std::vector<uint8_t> buffer(data.size());
  WritePayload payload(pipe.read_end.get(), data.size(), buffer.data());
  TempFile append(O_APPEND);
  ASSERT_TRUE(pipe.ok());
  size_t written = 0;
  EXPECT_EQ(payload.SpliceTo(append.fd(), 0, &written), Errno(EINVAL));
  absl::Span<const uint8_t> got;
  ASSERT_EQ(payload.Materialize(&got), kOk);
  EXPECT_TRUE(std::string(reinterpret_cast<const char*>(got.data()), got.size()) == data);
  // From memory the append works (the offset is ignored, as pwrite does
  // on an O_APPEND file).
  EXPECT_EQ(payload.SpliceTo(append.fd(), 0, &written), kOk);
  EXPECT_EQ(written, data.size());
  EXPECT_TRUE(append.Content() == data);
}

TEST(WritePayloadTest, PayloadLargerThanOneSpliceMoves) {
  // The destination is a one-page pipe: each splice moves at most a page,
  // so the payload goes in many, waiting for the reader in between.
  const size_t size = 1 << 20;
  TestPipe source(size);
  if (!source.ok()) GTEST_SKIP() << "cannot make a 1 MiB pipe (pipe-max-size)";
  const std::string data = Pattern(size, 8);
  ASSERT_TRUE(source.Put(data));
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  ScopedFd dest_read(fds[0]), dest_write(fds[1]);
  ASSERT_GT(fcntl(dest_write.get(), F_SETPIPE_SZ, 4096), 0);
  std::string received;
  std::thread reader([&] {
    char buf[4096];
    ssize_t n;
    while ((n = read(dest_read.get(), buf, sizeof(buf))) > 0) received.append(buf, n);
  });
  std::vector<uint8_t> buffer(size);
  WritePayload payload(source.read_end.get(), size, buffer.data());
  size_t written = 0;
  EXPECT_EQ(payload.SpliceTo(dest_write.get(), -1, &written), kOk);
  EXPECT_EQ(written, size);
  dest_write.reset();
  reader.join();
  EXPECT_EQ(received.size(), size);
  EXPECT_TRUE(received == data);
  EXPECT_EQ(source.Fill(), 0);
}

TEST(WritePayloadTest, ShortPipeIsReported) {
  TestPipe pipe(4096);
  ASSERT_TRUE(pipe.ok());
  ASSERT_TRUE(pipe.Put(Pattern(50, 9)));
  std::vector<uint8_t> buffer(100);
  {
    WritePayload payload(pipe.read_end.get(), 100, buffer.data());
    absl::Span<const uint8_t> got;
    EXPECT_EQ(payload.Materialize(&got), Errno(EIO));
    EXPECT_TRUE(got.empty());
    EXPECT_FALSE(payload.Discard());
  }
  ASSERT_TRUE(pipe.Put(Pattern(50, 10)));
  {
    WritePayload payload(pipe.read_end.get(), 100, buffer.data());
    TempFile file;
    size_t written = 0;
    EXPECT_EQ(payload.SpliceTo(file.fd(), 0, &written), Errno(EIO));
    EXPECT_EQ(written, 50u);
    EXPECT_EQ(payload.size(), 0u);
    EXPECT_FALSE(payload.Discard());
  }
  ASSERT_TRUE(pipe.Put(Pattern(50, 11)));
  {
    WritePayload payload(pipe.read_end.get(), 100, buffer.data());
    EXPECT_FALSE(payload.Discard());
  }
}

// --- RequestPipe ---------------------------------------------------------------

std::string WriteFrame(uint64_t unique, absl::string_view data, uint64_t offset = 0) {
  abi::fuse_write_in in{};
  in.fh = 5;
  in.offset = offset;
  in.size = static_cast<uint32_t>(data.size());
  return RequestBuilder(abi::Opcode::kWrite, unique, 2).Arg(in).Bytes(data).Build();
}

class RequestPipeTest : public ::testing::Test {
 protected:
  static constexpr size_t kMaxMessage = (128 << 10) + 4096;
  void SetUp() override {
    ASSERT_TRUE(pipe_.Open(kMaxMessage).ok());
    ASSERT_TRUE(channel_.ok());
    buffer_.resize(kMaxMessage);
  }
  // One message through the "channel" (a pipe standing in for /dev/fuse)
  // into the RequestPipe, then taken out.
  RequestPipe::Taken Pass(absl::string_view frame) {
    EXPECT_TRUE(channel_.Put(frame));
    ssize_t n = pipe_.SpliceFrom(channel_.read_end.get(), kMaxMessage);
    EXPECT_EQ(n, static_cast<ssize_t>(frame.size()));
    RequestPipe::Taken taken;
    EXPECT_TRUE(pipe_.Take(static_cast<size_t>(n), buffer_.data(), buffer_.size(),
                           sizeof(abi::fuse_write_in), &taken));
    return taken;
  }
  std::string Buffer(size_t n) { return std::string(reinterpret_cast<char*>(buffer_.data()), n); }

  RequestPipe pipe_;
  TestPipe channel_{kMaxMessage + 8192};
  std::vector<uint8_t> buffer_;
};

TEST_F(RequestPipeTest, OpenSizesThePipeForTheLargestMessage) {
  // Header page, one buffer per data page.
  EXPECT_GE(pipe_.capacity(), kMaxMessage);
}

TEST_F(RequestPipeTest, WriteDataStaysInThePipe) {
  const std::string data = Pattern(70000, 12);
  const std::string frame = WriteFrame(2, data);
  RequestPipe::Taken taken = Pass(frame);
  const size_t head = sizeof(abi::fuse_in_header) + sizeof(abi::fuse_write_in);
  EXPECT_EQ(taken.in_buffer, head);
  EXPECT_EQ(taken.in_pipe, data.size());
  EXPECT_TRUE(Buffer(head) == frame.substr(0, head));
  WritePayload payload(pipe_.read_end(), taken.in_pipe, buffer_.data() + taken.in_buffer);
  absl::Span<const uint8_t> got;
  ASSERT_EQ(payload.Materialize(&got), kOk);
  EXPECT_TRUE(std::string(reinterpret_cast<const char*>(got.data()), got.size()) == data);
  // Materialized behind the header: the buffer holds the whole message.
  EXPECT_TRUE(Buffer(frame.size()) == frame);
}

TEST_F(RequestPipeTest, OtherMessagesAreTakenWhole) {
  const std::string lookup = RequestBuilder(abi::Opcode::kLookup, 4).Name("file").Build();
  RequestPipe::Taken taken = Pass(lookup);
  EXPECT_EQ(taken.in_pipe, 0u);
  EXPECT_EQ(taken.in_buffer, lookup.size());
  EXPECT_TRUE(Buffer(lookup.size()) == lookup);
  // A WRITE whose size disagrees with its length, an empty WRITE and a
  // short frame go whole to the decoder, which judges them.
  abi::fuse_write_in in{};
  in.size = 10;
  const std::string lying = RequestBuilder(abi::Opcode::kWrite, 6, 2).Arg(in).Bytes("abc").Build();
  taken = Pass(lying);
  EXPECT_EQ(taken.in_pipe, 0u);
  EXPECT_TRUE(Buffer(lying.size()) == lying);
  const std::string empty = WriteFrame(8, "");
  taken = Pass(empty);
  EXPECT_EQ(taken.in_pipe, 0u);
  EXPECT_EQ(taken.in_buffer, empty.size());
  const std::string tiny = "0123456789";
  taken = Pass(tiny);
  EXPECT_EQ(taken.in_buffer, tiny.size());
  EXPECT_EQ(channel_.Fill(), 0);
}

TEST_F(RequestPipeTest, NextMessageFollowsADiscardedPayload) {
  const std::string first = WriteFrame(10, Pattern(100000, 13));
  RequestPipe::Taken taken = Pass(first);
  ASSERT_EQ(taken.in_pipe, 100000u);
  {
    WritePayload payload(pipe_.read_end(), taken.in_pipe, buffer_.data() + taken.in_buffer);
    // The handler took nothing.
    EXPECT_TRUE(payload.Discard());
  }
  const std::string data = Pattern(5000, 14);
  const std::string second = WriteFrame(12, data, 3);
  taken = Pass(second);
  EXPECT_EQ(taken.in_pipe, data.size());
  abi::fuse_in_header h;
  std::memcpy(&h, buffer_.data(), sizeof(h));
  EXPECT_EQ(h.unique, 12u);
  WritePayload payload(pipe_.read_end(), taken.in_pipe, buffer_.data() + taken.in_buffer);
  TempFile file;
  size_t written = 0;
  ASSERT_EQ(payload.SpliceTo(file.fd(), 3, &written), kOk);
  EXPECT_TRUE(file.Content() == std::string(3, '\0') + data);
}

// --- Session: the payload reaches WriteBuf, or Write by default -------------------------

class RecordingFs : public RawFileSystem {
 public:
  explicit RecordingFs(bool override_write_buf) : override_write_buf_(override_write_buf) {}
  void Write(ReplyWrite reply, uint64_t, const abi::fuse_write_in& in,
             absl::Span<const uint8_t> data) override {
    ++writes;
    got.assign(reinterpret_cast<const char*>(data.data()), data.size());
    reply.Written(data.size());
  }
  void WriteBuf(ReplyWrite reply, uint64_t nodeid, const abi::fuse_write_in& in,
                WritePayload& payload) override {
    ++write_bufs;
    saw_pipe = payload.in_pipe();
    if (!override_write_buf_) {
      RawFileSystem::WriteBuf(std::move(reply), nodeid, in, payload);
      return;
    }
    // Takes nothing: the worker must drain it.
    reply.Written(payload.size());
  }
  const bool override_write_buf_;
  int writes = 0;
  int write_bufs = 0;
  bool saw_pipe = false;
  std::string got;
};

// A Session fed by hand; replies are captured by the writer seam.
struct SessionHarness {
  explicit SessionHarness(RawFileSystem* fs)
      : session(fs, InitOptions(), false, [](absl::string_view) {},
                [this](int, const struct iovec* iov, int count) {
                  std::string message;
                  for (int i = 0; i < count; ++i) {
                    message.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
                  }
                  replies.push_back(message);
                  return kOk;
                }) {
    abi::fuse_init_in init{};
    init.major = 7;
    init.minor = abi::kKernelMinorVersion;
    init.max_readahead = 1 << 20;
    std::string frame = RequestBuilder(abi::Opcode::kInit, 1).Arg(init).Build();
    Handle(frame);
  }
  void Handle(absl::string_view frame, WritePayload* payload = nullptr) {
    session.HandleMessage(
        -1, absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(frame.data()), frame.size()),
        payload);
  }
  // The error of the last reply, and its fuse_write_out.size.
  int LastError() const {
    abi::fuse_out_header h{};
    std::memcpy(&h, replies.back().data(), sizeof(h));
    return -h.error;
  }
  uint32_t LastWritten() const {
    abi::fuse_write_out out{};
    std::memcpy(&out, replies.back().data() + sizeof(abi::fuse_out_header), sizeof(out));
    return out.size;
  }
  std::vector<std::string> replies;
  Session session;
};

TEST(SessionPayloadTest, DefaultWriteBufMaterializesForWrite) {
  RecordingFs fs(/*override_write_buf=*/false);
  SessionHarness harness(&fs);
  const std::string data = Pattern(30000, 15);
  const std::string frame = WriteFrame(2, data);
  const size_t head = sizeof(abi::fuse_in_header) + sizeof(abi::fuse_write_in);
  TestPipe pipe(65536);
  ASSERT_TRUE(pipe.ok());
  ASSERT_TRUE(pipe.Put(data));
  std::vector<uint8_t> buffer(frame.begin(), frame.begin() + head);
  buffer.resize(frame.size());
  WritePayload payload(pipe.read_end.get(), data.size(), buffer.data() + head);
  harness.session.HandleMessage(-1, absl::MakeConstSpan(buffer.data(), head), &payload);
  EXPECT_EQ(fs.write_bufs, 1);
  EXPECT_TRUE(fs.saw_pipe);
  EXPECT_EQ(fs.writes, 1);
  EXPECT_TRUE(fs.got == data);
  EXPECT_EQ(harness.LastError(), 0);
  EXPECT_EQ(harness.LastWritten(), data.size());
  EXPECT_EQ(pipe.Fill(), 0);
  // Without a pipe (read(2), the fake kernel) the same path, from memory.
  harness.Handle(WriteFrame(4, "hello"));
  EXPECT_EQ(fs.write_bufs, 2);
  EXPECT_FALSE(fs.saw_pipe);
  EXPECT_EQ(fs.got, "hello");
}

TEST(SessionPayloadTest, PayloadLeftByTheHandlerOrAnErrorIsDrainable) {
  RecordingFs fs(/*override_write_buf=*/true);
  SessionHarness harness(&fs);
  const std::string data = Pattern(9000, 16);
  const size_t head = sizeof(abi::fuse_in_header) + sizeof(abi::fuse_write_in);
  TestPipe pipe(65536);
  ASSERT_TRUE(pipe.ok());
  std::vector<uint8_t> buffer(65536);
  // Handled without taking the data; then one whose header disagrees with
  // the pipe (the decoder answers EIO without calling the filesystem).
  for (bool bad : {false, true}) {
    std::string frame = WriteFrame(6, data);
    if (bad) {
      abi::fuse_in_header h;
      std::memcpy(&h, frame.data(), sizeof(h));
      h.len += 1;
      std::memcpy(frame.data(), &h, sizeof(h));
    }
    ASSERT_TRUE(pipe.Put(data));
    ASSERT_TRUE(pipe.Put("NEXT"));
    std::memcpy(buffer.data(), frame.data(), head);
    WritePayload payload(pipe.read_end.get(), data.size(), buffer.data() + head);
    harness.session.HandleMessage(-1, absl::MakeConstSpan(buffer.data(), head), &payload);
    EXPECT_EQ(harness.LastError(), bad ? EIO : 0);
    EXPECT_TRUE(payload.Discard());
    EXPECT_EQ(pipe.TakeAll(), "NEXT");
  }
  EXPECT_EQ(fs.write_bufs, 1);
  EXPECT_EQ(fs.writes, 0);
}

// --- Decoding a WRITE whose data stayed in the pipe ------------------------------

TEST(DetachedPayloadDecodeTest, OnlyAWritesExactDataMayStayBehind) {
  const std::string data = Pattern(3000, 17);
  const std::string frame = WriteFrame(20, data);
  const size_t head = sizeof(abi::fuse_in_header) + sizeof(abi::fuse_write_in);
  auto bytes = [](absl::string_view s) {
    return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  DecodedRequest r;
  DecodeError error;
  ASSERT_TRUE(DecodeRequest(bytes(frame).first(head), DecodeSettings(), &r, &error, data.size()))
      << error.message;
  EXPECT_EQ(r.Arg<abi::fuse_write_in>().size, data.size());
  EXPECT_TRUE(r.payload.empty());
  // A byte more or less in the pipe than the WRITE says.
  EXPECT_FALSE(
      DecodeRequest(bytes(frame).first(head), DecodeSettings(), &r, &error, data.size() - 1));
  EXPECT_EQ(error.error, EIO);
  // Part of the data in the buffer and part in the pipe.
  EXPECT_FALSE(
      DecodeRequest(bytes(frame).first(head + 10), DecodeSettings(), &r, &error,
                    data.size() - 10));
  EXPECT_EQ(error.error, EIO);
  // Any other opcode.
  std::string lookup = RequestBuilder(abi::Opcode::kLookup, 22).Name("x").Build();
  abi::fuse_in_header h;
  std::memcpy(&h, lookup.data(), sizeof(h));
  h.len += 100;
  std::memcpy(lookup.data(), &h, sizeof(h));
  EXPECT_FALSE(DecodeRequest(bytes(lookup), DecodeSettings(), &r, &error, 100));
  EXPECT_EQ(error.error, EIO);
}

// The fake kernel's socket never uses the pipe, even when asked: WRITEs
// reach WriteBuf with their data in memory.
TEST(SessionPayloadTest, SocketTransportIgnoresSpliceRead) {
  RecordingFs fs(/*override_write_buf=*/false);
  ServerOptions options;
  options.splice_read = true;
  options.workers = 1;
  WirePeer peer(&fs, options);
  ASSERT_TRUE(peer.Init().has_value());
  std::optional<WireReply> reply = peer.Call(WriteFrame(peer.NextUnique(), "socket data"));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->error(), 0);
  EXPECT_EQ(reply->As<abi::fuse_write_out>().size, 11u);
  EXPECT_EQ(fs.write_bufs, 1);
  EXPECT_FALSE(fs.saw_pipe);
  EXPECT_EQ(fs.got, "socket data");
}

}  // namespace
}  // namespace fusekit
