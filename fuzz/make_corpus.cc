// Writes the fuzzers' seed corpora: small valid inputs in each fuzzer's
// input format (see decoder_fuzzer.cc, session_fuzzer.cc and tree_fuzzer.cc).
//
//   bazel run //fuzz:make_corpus -- $PWD/fuzz/corpus
//
// writes DIR/decoder/*, DIR/session/* and DIR/tree/* (overwriting files of the same
// name). The checked-in corpus was made this way; crash regressions found by
// the fuzzers are added to it by hand.
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "fuse/kernel_abi.h"
#include "fuse/wire_test_util.h"

namespace fusekit {
namespace {

using abi::Opcode;

// Sets header.total_extlen after the fact (RequestBuilder leaves it 0).
std::string WithExtlen(std::string frame, uint16_t units) {
  std::memcpy(&frame[offsetof(abi::fuse_in_header, total_extlen)], &units, sizeof(units));
  return frame;
}

// A FUSE_EXT_GROUPS extension with `groups`, padded to 8 bytes.
std::string GroupsExtension(const std::vector<uint32_t>& groups) {
  abi::fuse_ext_header eh{};
  size_t body = sizeof(eh) + sizeof(abi::fuse_supp_groups) + groups.size() * sizeof(uint32_t);
  eh.size = static_cast<uint32_t>((body + 7) & ~size_t{7});
  eh.type = static_cast<uint32_t>(abi::ExtType::kGroups);
  abi::fuse_supp_groups sg{static_cast<uint32_t>(groups.size())};
  std::string ext(reinterpret_cast<const char*>(&eh), sizeof(eh));
  ext.append(reinterpret_cast<const char*>(&sg), sizeof(sg));
  ext.append(reinterpret_cast<const char*>(groups.data()), groups.size() * sizeof(uint32_t));
  ext.resize(eh.size, '\0');
  return ext;
}

std::string Init(uint32_t minor, uint64_t flags, uint32_t major = 7) {
  abi::fuse_init_in in{};
  in.major = major;
  in.minor = minor;
  in.max_readahead = 128 * 1024;
  in.flags = static_cast<uint32_t>(flags);
  in.flags2 = static_cast<uint32_t>(flags >> 32);
  return RequestBuilder(Opcode::kInit, 1, 0).Arg(in).Build();
}

std::string Lookup(uint64_t unique, uint64_t parent, absl::string_view name) {
  return RequestBuilder(Opcode::kLookup, unique, parent).Caller(1000, 1000, 42).Name(name).Build();
}

std::string Getattr(uint64_t unique, uint64_t nodeid) {
  abi::fuse_getattr_in in{};
  return RequestBuilder(Opcode::kGetattr, unique, nodeid).Arg(in).Build();
}

std::string Setattr(uint64_t unique, uint64_t nodeid) {
  abi::fuse_setattr_in in{};
  in.valid = abi::kFattrSize | abi::kFattrMode;
  in.size = 100;
  in.mode = 0100600;
  return RequestBuilder(Opcode::kSetattr, unique, nodeid).Arg(in).Build();
}

std::string Open(Opcode op, uint64_t unique, uint64_t nodeid) {
  abi::fuse_open_in in{};
  in.flags = 2;  // O_RDWR
  return RequestBuilder(op, unique, nodeid).Arg(in).Build();
}

std::string Read(Opcode op, uint64_t unique, uint64_t nodeid, uint64_t offset, uint32_t size) {
  abi::fuse_read_in in{};
  in.fh = 5;
  in.offset = offset;
  in.size = size;
  return RequestBuilder(op, unique, nodeid).Arg(in).Build();
}

std::string Write(uint64_t unique, uint64_t nodeid, size_t size) {
  abi::fuse_write_in in{};
  in.fh = 5;
  in.size = static_cast<uint32_t>(size);
  std::string data(size, 'w');
  return RequestBuilder(Opcode::kWrite, unique, nodeid).Arg(in).Bytes(data).Build();
}

template <typename T>
std::string Simple(Opcode op, uint64_t unique, uint64_t nodeid, const T& arg) {
  return RequestBuilder(op, unique, nodeid).Arg(arg).Build();
}

std::string Release(Opcode op, uint64_t unique, uint64_t nodeid) {
  abi::fuse_release_in in{};
  in.fh = 5;
  return Simple(op, unique, nodeid, in);
}

std::string Create(uint64_t unique, uint64_t parent, absl::string_view name,
                   const std::vector<uint32_t>& groups) {
  abi::fuse_create_in in{};
  in.flags = 0101;  // O_CREAT | O_WRONLY
  in.mode = 0100644;
  in.umask = 022;
  std::string ext = groups.empty() ? "" : GroupsExtension(groups);
  std::string frame = RequestBuilder(Opcode::kCreate, unique, parent)
                          .Caller(1000, 1000, 42)
                          .Arg(in)
                          .Name(name)
                          .Bytes(ext)
                          .Build();
  return WithExtlen(std::move(frame), static_cast<uint16_t>(ext.size() / 8));
}

std::string Mkdir(uint64_t unique, uint64_t parent, absl::string_view name,
                  const std::vector<uint32_t>& groups) {
  abi::fuse_mkdir_in in{};
  in.mode = 040755;
  in.umask = 022;
  std::string ext = groups.empty() ? "" : GroupsExtension(groups);
  std::string frame =
      RequestBuilder(Opcode::kMkdir, unique, parent).Arg(in).Name(name).Bytes(ext).Build();
  return WithExtlen(std::move(frame), static_cast<uint16_t>(ext.size() / 8));
}

std::string Mknod(uint64_t unique, uint64_t parent, absl::string_view name) {
  abi::fuse_mknod_in in{};
  in.mode = 0100644;
  return RequestBuilder(Opcode::kMknod, unique, parent).Arg(in).Name(name).Build();
}

std::string Symlink(uint64_t unique, uint64_t parent, absl::string_view name,
                    absl::string_view target) {
  return RequestBuilder(Opcode::kSymlink, unique, parent).Name(name).Name(target).Build();
}

std::string Link(uint64_t unique, uint64_t old_node, uint64_t new_parent, absl::string_view name) {
  abi::fuse_link_in in{old_node};
  return RequestBuilder(Opcode::kLink, unique, new_parent).Arg(in).Name(name).Build();
}

std::string NameOnly(Opcode op, uint64_t unique, uint64_t parent, absl::string_view name) {
  return RequestBuilder(op, unique, parent).Name(name).Build();
}

std::string Rename(uint64_t unique, uint64_t parent, absl::string_view from, uint64_t newdir,
                   absl::string_view to) {
  abi::fuse_rename_in in{newdir};
  return RequestBuilder(Opcode::kRename, unique, parent).Arg(in).Name(from).Name(to).Build();
}

std::string Rename2(uint64_t unique, uint64_t parent, absl::string_view from, uint64_t newdir,
                    absl::string_view to, uint32_t flags) {
  abi::fuse_rename2_in in{};
  in.newdir = newdir;
  in.flags = flags;
  return RequestBuilder(Opcode::kRename2, unique, parent).Arg(in).Name(from).Name(to).Build();
}

std::string Setxattr(uint64_t unique, uint64_t nodeid, bool ext, absl::string_view name,
                     absl::string_view value) {
  abi::fuse_setxattr_in in{};
  in.size = static_cast<uint32_t>(value.size());
  std::string arg(reinterpret_cast<const char*>(&in),
                  ext ? sizeof(in) : abi::kCompatSetxattrInSize);
  return RequestBuilder(Opcode::kSetxattr, unique, nodeid).Bytes(arg).Name(name).Bytes(value).Build();
}

std::string Getxattr(uint64_t unique, uint64_t nodeid, absl::string_view name, uint32_t size) {
  abi::fuse_getxattr_in in{};
  in.size = size;
  return RequestBuilder(Opcode::kGetxattr, unique, nodeid).Arg(in).Name(name).Build();
}

std::string Listxattr(uint64_t unique, uint64_t nodeid, uint32_t size) {
  abi::fuse_getxattr_in in{};
  in.size = size;
  return Simple(Opcode::kListxattr, unique, nodeid, in);
}

std::string Lock(Opcode op, uint64_t unique, uint64_t nodeid) {
  abi::fuse_lk_in in{};
  in.fh = 5;
  in.owner = 77;
  in.lk.start = 0;
  in.lk.end = 100;
  in.lk.type = 1;  // F_WRLCK
  in.lk.pid = 42;
  return Simple(op, unique, nodeid, in);
}

std::string Interrupt(uint64_t unique, uint64_t target) {
  abi::fuse_interrupt_in in{target};
  return Simple(Opcode::kInterrupt, unique, 0, in);
}

std::string Forget(uint64_t unique, uint64_t nodeid, uint64_t n) {
  abi::fuse_forget_in in{n};
  return Simple(Opcode::kForget, unique, nodeid, in);
}

std::string BatchForget(uint64_t unique, int count) {
  abi::fuse_batch_forget_in in{};
  in.count = static_cast<uint32_t>(count);
  RequestBuilder b(Opcode::kBatchForget, unique, 0);
  b.Arg(in);
  for (int i = 0; i < count; ++i) {
    abi::fuse_forget_one one{static_cast<uint64_t>(10 + i), static_cast<uint64_t>(i + 1)};
    b.Arg(one);
  }
  return b.Build();
}

std::string NotifyReply(uint64_t notify_unique, uint64_t nodeid, absl::string_view data) {
  abi::fuse_notify_retrieve_in in{};
  in.offset = 4096;
  in.size = static_cast<uint32_t>(data.size());
  return RequestBuilder(Opcode::kNotifyReply, notify_unique, nodeid).Arg(in).Bytes(data).Build();
}

std::string Ioctl(uint64_t unique, uint64_t nodeid) {
  abi::fuse_ioctl_in in{};
  in.fh = 5;
  in.cmd = 0x5401;
  in.in_size = 16;
  in.out_size = 8;
  return RequestBuilder(Opcode::kIoctl, unique, nodeid).Arg(in).Bytes(std::string(16, 'i')).Build();
}

std::string Poll(uint64_t unique, uint64_t nodeid) {
  abi::fuse_poll_in in{};
  in.fh = 5;
  in.kh = 9;
  in.flags = abi::kPollScheduleNotify;
  in.events = 1;
  return Simple(Opcode::kPoll, unique, nodeid, in);
}

std::string Statx(uint64_t unique, uint64_t nodeid) {
  abi::fuse_statx_in in{};
  in.sx_mask = 0x7ff;
  return Simple(Opcode::kStatx, unique, nodeid, in);
}

std::string CopyRange(Opcode op, uint64_t unique, uint64_t nodeid) {
  abi::fuse_copy_file_range_in in{};
  in.fh_in = 5;
  in.nodeid_out = 3;
  in.fh_out = 6;
  in.len = 1ULL << 33;
  return Simple(op, unique, nodeid, in);
}

std::string Tmpfile(uint64_t unique, uint64_t parent) {
  abi::fuse_create_in in{};
  in.flags = 020200002;  // O_TMPFILE | O_RDWR
  in.mode = 0100600;
  return RequestBuilder(Opcode::kTmpfile, unique, parent).Arg(in).Name("/").Build();
}

std::string Empty(Opcode op, uint64_t unique, uint64_t nodeid) {
  return RequestBuilder(op, unique, nodeid).Build();
}

// --- Writing ---------------------------------------------------------------

std::string g_root;

void WriteFile(const std::string& path, const std::string& bytes) {
  FILE* f = fopen(path.c_str(), "wb");
  if (f == nullptr || fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) {
    perror(path.c_str());
    exit(1);
  }
  fclose(f);
}

// Decoder input: settings byte (minor | setxattr_ext << 6 | keep_len << 7).
void Decoder(const std::string& name, const std::string& frame, uint32_t minor = 45,
             bool setxattr_ext = false) {
  std::string input(1, static_cast<char>(minor | (setxattr_ext ? 0x40 : 0) | 0x80));
  WriteFile(g_root + "/decoder/" + name, input + frame);
}

struct SessionInput {
  uint8_t minor = 45;
  uint64_t flags = WirePeer::kAllInitFlags;
  // interrupts, want everything, max_write 1 MiB.
  uint8_t options = 0x01 | 0x02 | 0x80;
  std::vector<std::pair<std::string, bool>> frames;  // frame, keep header.len

  SessionInput& Add(std::string frame, bool keep_len = false) {
    frames.emplace_back(std::move(frame), keep_len);
    return *this;
  }
};

void Session(const std::string& name, const SessionInput& in) {
  std::string out(1, static_cast<char>(in.minor));
  out.append(reinterpret_cast<const char*>(&in.flags), sizeof(in.flags));
  out.push_back(static_cast<char>(in.options));
  for (const auto& [frame, keep_len] : in.frames) {
    uint16_t prefix = static_cast<uint16_t>(frame.size() | (keep_len ? 0x8000 : 0));
    out.push_back(static_cast<char>(prefix & 0xff));
    out.push_back(static_cast<char>(prefix >> 8));
    out += frame;
  }
  WriteFile(g_root + "/session/" + name, out);
}

void MakeDecoderCorpus() {
  Decoder("init", Init(45, WirePeer::kAllInitFlags));
  Decoder("lookup", Lookup(2, 1, "hello.txt"));
  Decoder("getattr", Getattr(4, 2));
  Decoder("getattr_minor8", RequestBuilder(Opcode::kGetattr, 6, 2).Build(), 8);
  Decoder("setattr", Setattr(8, 2));
  Decoder("read", Read(Opcode::kRead, 10, 2, 0, 4096));
  Decoder("read_minor8", RequestBuilder(Opcode::kRead, 12, 2).Bytes(std::string(24, '\0')).Build(),
          8);
  Decoder("write", Write(14, 2, 64));
  Decoder("mkdir_groups", Mkdir(16, 1, "dir", {100, 200, 300}));
  Decoder("mknod", Mknod(18, 1, "node"));
  Decoder("symlink", Symlink(20, 1, "link", "../target/file"));
  Decoder("rename2", Rename2(22, 1, "a", 3, "b", 1));
  Decoder("link", Link(24, 2, 1, "hard"));
  Decoder("create_groups", Create(26, 1, "new.txt", {1000, 27}));
  // As the kernel lays it out, the extension area follows the name with no
  // padding: here at offset 51, so the group array is not 4-aligned.
  Decoder("mkdir_groups_odd_name", Mkdir(44, 1, "ab", {1000, 27}));
  Decoder("setxattr_ext", Setxattr(28, 2, true, "user.x", "value"), 45, true);
  Decoder("setxattr", Setxattr(30, 2, false, "user.x", "value"));
  Decoder("getxattr", Getxattr(32, 2, "user.x", 64));
  Decoder("readdirplus", Read(Opcode::kReaddirplus, 34, 1, 0, 4096));
  Decoder("batch_forget", BatchForget(0, 3));
  Decoder("ioctl", Ioctl(36, 2));
  Decoder("interrupt", Interrupt(39, 34));
  Decoder("notify_reply", NotifyReply(1, 2, "retrieved"));
  Decoder("forget", Forget(0, 2, 1));
  Decoder("statx", Statx(38, 2));
  Decoder("copy_file_range_64", CopyRange(Opcode::kCopyFileRange64, 40, 2));
  Decoder("tmpfile", Tmpfile(42, 1));
}

void MakeSessionCorpus() {
  Session("mkdir_groups_odd_name", SessionInput().Add(Mkdir(4, 1, "ab", {1000, 27})));
  Session("lookup_getattr", SessionInput().Add(Lookup(4, 1, "hello.txt")).Add(Getattr(6, 2)));
  Session("open_read_release", SessionInput()
                                   .Add(Open(Opcode::kOpen, 4, 2))
                                   .Add(Read(Opcode::kRead, 6, 2, 0, 8192))
                                   .Add(Read(Opcode::kRead, 8, 5, 4096, 65536))
                                   .Add(Release(Opcode::kRelease, 10, 2)));
  Session("create_write", SessionInput()
                              .Add(Create(4, 1, "new.txt", {1000, 27}))
                              .Add(Write(6, 2, 300))
                              .Add(Simple(Opcode::kFlush, 8, 2, abi::fuse_flush_in{}))
                              .Add(Release(Opcode::kRelease, 10, 2)));
  Session("readdir", SessionInput()
                         .Add(Open(Opcode::kOpendir, 4, 1))
                         .Add(Read(Opcode::kReaddir, 6, 1, 0, 4096))
                         .Add(Read(Opcode::kReaddir, 8, 1, 10, 100))
                         .Add(Read(Opcode::kReaddirplus, 10, 1, 5, 1024))
                         .Add(Release(Opcode::kReleasedir, 12, 1)));
  Session("setlkw_interrupt",
          SessionInput().Add(Lock(Opcode::kSetlkw, 4, 2)).Add(Interrupt(7, 4)).Add(Getattr(8, 2)));
  Session("interrupt_first",
          SessionInput().Add(Interrupt(5, 6)).Add(Lock(Opcode::kSetlkw, 6, 2)).Add(Getattr(8, 2)));
  Session("stale_interrupt",
          SessionInput().Add(Interrupt(3, 100)).Add(Getattr(4, 2)).Add(Getattr(6, 2)));
  Session("setlkw_fsyncdir", SessionInput()
                                 .Add(Lock(Opcode::kSetlkw, 4, 2))
                                 .Add(Lock(Opcode::kSetlkw, 6, 3))
                                 .Add(Simple(Opcode::kFsyncdir, 8, 1, abi::fuse_fsync_in{})));
  Session("xattrs", SessionInput()
                        .Add(Setxattr(4, 2, true, "user.a", "value"))
                        .Add(Getxattr(6, 2, "user.a", 0))
                        .Add(Getxattr(8, 2, "user.a", 4))
                        .Add(Getxattr(10, 2, "user.a", 100))
                        .Add(Listxattr(12, 2, 0))
                        .Add(Listxattr(14, 2, 100))
                        .Add(NameOnly(Opcode::kRemovexattr, 16, 2, "user.a")));
  Session("namespace", SessionInput()
                           .Add(Mkdir(4, 1, "dir", {5}))
                           .Add(Mknod(6, 1, "node"))
                           .Add(Symlink(8, 1, "link", "target"))
                           .Add(Link(10, 2, 1, "hard"))
                           .Add(NameOnly(Opcode::kUnlink, 12, 1, "hard"))
                           .Add(NameOnly(Opcode::kRmdir, 14, 1, "dir"))
                           .Add(Rename(16, 1, "a", 1, "b"))
                           .Add(Rename2(18, 1, "b", 3, "c", 2)));
  Session("forgets", SessionInput().Add(Lookup(4, 1, "x")).Add(Forget(0, 2, 1)).Add(BatchForget(0, 4)));
  Session("notify_reply", SessionInput().Add(NotifyReply(1, 2, "some data")).Add(NotifyReply(2, 2, "")));
  Session("misc", SessionInput()
                      .Add(Empty(Opcode::kStatfs, 4, 1))
                      .Add(Simple(Opcode::kAccess, 6, 2, abi::fuse_access_in{4, 0}))
                      .Add(Simple(Opcode::kFsync, 8, 2, abi::fuse_fsync_in{}))
                      .Add(Simple(Opcode::kFallocate, 10, 2, abi::fuse_fallocate_in{}))
                      .Add(Simple(Opcode::kLseek, 12, 2, abi::fuse_lseek_in{5, 100, 3, 0}))
                      .Add(Simple(Opcode::kSyncfs, 14, 1, abi::fuse_syncfs_in{}))
                      .Add(Empty(Opcode::kReadlink, 16, 2))
                      .Add(Setattr(18, 2)));
  Session("ioctl_poll_locks", SessionInput()
                                  .Add(Ioctl(4, 2))
                                  .Add(Poll(6, 2))
                                  .Add(Simple(Opcode::kBmap, 8, 2, abi::fuse_bmap_in{7, 512, 0}))
                                  .Add(Lock(Opcode::kGetlk, 10, 2))
                                  .Add(Lock(Opcode::kSetlk, 12, 2)));
  Session("statx_tmpfile_copy", SessionInput()
                                    .Add(Statx(4, 2))
                                    .Add(Tmpfile(6, 1))
                                    .Add(CopyRange(Opcode::kCopyFileRange, 8, 2))
                                    .Add(CopyRange(Opcode::kCopyFileRange64, 10, 2)));
  {
    SessionInput in;
    in.options |= 0x04;  // raw INIT
    Session("raw_init", in.Add(Init(45, WirePeer::kAllInitFlags)).Add(Lookup(4, 1, "a")).Add(Init(45, 0)));
  }
  {
    SessionInput in;
    in.options |= 0x04;
    Session("raw_init_major8", in.Add(Init(0, 0, 8)).Add(Init(5, 0)).Add(Getattr(4, 2)));
  }
  {
    SessionInput in;
    in.options |= 0x04;
    Session("before_init", in.Add(Getattr(4, 2)).Add(Forget(0, 2, 1)).Add(Init(3, 0, 6)));
  }
  {
    SessionInput in;
    in.minor = 8;
    in.flags = 0;
    Session("old_minor", in.Add(RequestBuilder(Opcode::kGetattr, 4, 2).Build())
                             .Add(Lookup(6, 1, "f"))
                             .Add(Empty(Opcode::kStatfs, 8, 1)));
  }
  {
    SessionInput in;
    in.options |= 0x08;  // debug: the wire log
    Session("debug", in.Add(Lookup(4, 1, "hello.txt"))
                         .Add(Symlink(6, 1, "l", "t"))
                         .Add(Read(Opcode::kRead, 8, 2, 0, 10))
                         .Add(Interrupt(9, 100))
                         .Add(RequestBuilder(4242, 10, 1).Build()));
  }
  {
    SessionInput in;
    in.options = 0x02 | 0x10;  // interrupts off, max_write 8 KiB
    Session("no_interrupts", in.Add(Lock(Opcode::kSetlkw, 4, 2)).Add(Interrupt(5, 4)).Add(Getattr(6, 2)));
  }
  Session("error_nodes", SessionInput()
                             .Add(Getattr(4, 12))
                             .Add(Getattr(6, 13))
                             .Add(Getattr(8, 14))
                             .Add(Getattr(10, 15))
                             .Add(Read(Opcode::kReaddir, 12, 29, 0, 4096)));
  Session("malformed", SessionInput()
                           .Add(RequestBuilder(Opcode::kGetattr, 4, 2).BuildWithLength(100), true)
                           .Add(RequestBuilder(4242, 6, 1).Build())
                           .Add(Read(Opcode::kRead, 8, 2, 0, 0))
                           .Add(Lookup(10, 1, "a/b"))
                           .Add(Lookup(12, 1, std::string(300, 'n')))
                           .Add(RequestBuilder(Opcode::kSetupMapping, 14, 1)
                                    .Bytes(std::string(40, '\0'))
                                    .Build()));
  Session("destroy", SessionInput().Add(Lookup(4, 1, "x")).Add(Empty(Opcode::kDestroy, 6, 0)));
}

// --- The tree fuzzer's input: op selectors and the fields each reads, in
// the order tree_fuzzer.cc's OneRequest reads them. Node, directory and
// handle arguments are indexes into what the fuzzer has seen so far (ids in
// the order the server returned them, the root first; directories only;
// handles of the kind wanted, in the order opened); names index its list:
// 0 "a", 1 "b", 2 "c", 3 "d", 4 "dir", 5 "file", 6 "x.txt", 7 "été",
// 8 "\xff\xfe\x80"; 200 ".", 201 "..", 202 255 bytes, 203 256 bytes,
// 204 empty, 205 "a/b".
class TreeInput {
 public:
  explicit TreeInput(uint8_t options = 0) { bytes_.push_back(static_cast<char>(options)); }
  const std::string& bytes() const { return bytes_; }

  TreeInput& U8(uint8_t v) {
    bytes_.push_back(static_cast<char>(v));
    return *this;
  }
  TreeInput& U16(uint16_t v) { return U8(v & 0xff).U8(v >> 8); }
  TreeInput& U32(uint32_t v) { return U16(v & 0xffff).U16(v >> 16); }
  TreeInput& Raw(absl::string_view b) {
    bytes_.append(b.data(), b.size());
    return *this;
  }
  // Input::Offset(): selector 3 takes a 32-bit value.
  TreeInput& Offset(uint32_t v) { return U8(3).U32(v); }

  TreeInput& Lookup(int dir, int name) { return U8(0).U8(dir).U8(name); }
  TreeInput& Forget(int node, int n) { return U8(2).U8(node).U8(n - 1).U8(1); }
  TreeInput& Symlink(int dir, int name) { return U8(7).U8(name).U8(1).U8(dir); }
  TreeInput& Mknod(int dir, int name, int type_index) {
    return U8(8).U8(type_index).U16(0644).U32(0).U8(dir).U8(name);
  }
  TreeInput& Mkdir(int dir, int name) { return U8(9).U16(0755).U8(dir).U8(name); }
  TreeInput& Unlink(int dir, int name) { return U8(11).U8(dir).U8(name); }
  TreeInput& Rmdir(int dir, int name) { return U8(12).U8(dir).U8(name); }
  TreeInput& Rename(int from, int name, int to, int new_name) {
    return U8(13).U8(from).U8(name).U8(to).U8(new_name);
  }
  // flag_index: 0 none, 1 NOREPLACE, 2 EXCHANGE, 3 WHITEOUT.
  TreeInput& Rename2(int from, int name, int to, int new_name, int flag_index) {
    return U8(14).U8(from).U8(name).U8(to).U8(flag_index).U8(new_name);
  }
  TreeInput& Link(int node, int dir, int name) { return U8(15).U8(node).U8(dir).U8(name); }
  // access_index: 0 O_RDONLY, 1 O_WRONLY, 2 O_RDWR, 3 O_RDWR|O_APPEND, 4 O_WRONLY|O_TRUNC.
  TreeInput& Open(int node, int access_index) { return U8(16).U8(access_index).U8(node); }
  TreeInput& Read(int handle, uint32_t offset, uint32_t size) {
    return U8(17).U8(handle).Offset(offset).U32(size - 1);
  }
  TreeInput& Write(int handle, uint32_t offset, absl::string_view data) {
    return U8(19).U8(handle).Offset(offset).U16(static_cast<uint16_t>(data.size())).Raw(data);
  }
  TreeInput& Statfs(int node) { return U8(21).U8(node); }
  TreeInput& Release(int handle) { return U8(22).U8(handle).U8(0).U8(0); }
  TreeInput& Releasedir(int handle) { return U8(23).U8(handle).U8(0).U8(0); }
  TreeInput& Fsync(int handle) { return U8(24).U8(handle).U8(0); }
  // xattr names: 0 "user.a", 1 "user.b", 2 "trusted.t", 3 "security.s",
  // 4 "system.posix_acl_access", 5 "os2.x"; flags 1 CREATE, 2 REPLACE.
  TreeInput& Setxattr(int node, int xname, absl::string_view value, int flags) {
    return U8(25).U8(xname).U8(static_cast<uint8_t>(value.size())).Raw(value).U8(flags).U8(node);
  }
  TreeInput& Getxattr(int node, int xname, uint8_t size) {
    return U8(26).U8(1).U8(size).U8(node).U8(xname);
  }
  TreeInput& Listxattr(int node, uint8_t size) { return U8(27).U8(1).U8(size).U8(node); }
  TreeInput& Removexattr(int node, int xname) { return U8(28).U8(node).U8(xname); }
  TreeInput& Flush(int handle, uint8_t owner) { return U8(29).U8(handle).U8(owner); }
  TreeInput& Opendir(int dir) { return U8(30).U8(1).U8(dir); }
  TreeInput& Readdir(int handle, uint8_t offset, uint16_t size) {
    return U8(31).U8(handle).U8(1).U8(offset).U16(size - 1);
  }
  TreeInput& Readdirplus(int handle, uint8_t offset, uint16_t size) {
    return U8(32).U8(handle).U8(1).U8(offset).U16(size - 1);
  }
  // type_index: 0 F_RDLCK, 1 F_WRLCK, 2 F_UNLCK.
  TreeInput& Lock(bool set, int handle, int owner, uint32_t start, uint32_t end, int type_index,
                  bool flock) {
    return U8(set ? 35 : 34).U8(handle).U8(owner).Offset(start).U8(0).Offset(end).U8(type_index)
        .U8(42).U8(flock ? 0 : 1);
  }
  // index: 0 flags O_RDWR, 1 O_WRONLY|O_EXCL, 2 O_RDWR|O_TRUNC, 3 O_WRONLY|O_APPEND.
  TreeInput& Create(int dir, int name, int flags_index = 0) {
    return U8(36).U8(flags_index).U16(0644).U8(dir).U8(name);
  }
  // mode_index: 0 allocate, 1 KEEP_SIZE, 2 PUNCH_HOLE, 3 ZERO_RANGE.
  TreeInput& Fallocate(int handle, uint32_t offset, uint32_t length, int mode_index) {
    return U8(37).U8(handle).Offset(offset).Offset(length).U8(mode_index);
  }
  // whence 3 SEEK_DATA, 4 SEEK_HOLE.
  TreeInput& Lseek(int handle, uint32_t offset, int whence) {
    return U8(38).U8(handle).Offset(offset).U8(whence);
  }
  TreeInput& Statx(int node) { return U8(40).U8(0).U32(0x7ff).U8(node); }
  TreeInput& Access(int node, int mask) { return U8(40).U8(1).U8(mask).U8(node); }
  // truncate(2) through an open handle's node: SETATTR size (handle 0 must exist).
  TreeInput& Truncate(int handle, uint32_t size, int node) {
    U8(5).U16(abi::kFattrSize).U8(handle).Offset(size).U16(0).U8(0).U8(0);
    return U32(0).U32(0).U32(0).U32(0).U32(0).U8(0).U8(node);
  }
  // Of the next request, or of the one just answered.
  TreeInput& Interrupt(bool next) { return next ? U8(41).U8(1) : U8(41).U8(0).U8(0); }
  // op_index: 0 LOOKUP, 1 UNLINK, 2 RMDIR, 3 MKDIR, 4 SYMLINK, 5 RENAME; in the root.
  TreeInput& NameWithoutNul(int op_index, bool long_name) {
    return U8(42).U8(op_index).U8(0).U8(long_name ? 0 : 1);
  }

 private:
  std::string bytes_;
};

void Tree(const std::string& name, const TreeInput& in) {
  WriteFile(g_root + "/tree/" + name, in.bytes());
}

void MakeTreeCorpus() {
  constexpr int kA = 0, kB = 1, kC = 2, kDir = 4, kFile = 5, kX = 6, kUtf8 = 7, kHigh = 8;
  constexpr int kDot = 200, kDotDot = 201, k255 = 202, k256 = 203, kEmpty = 204, kSlash = 205;
  // ids: 0 root, then in the order returned.
  Tree("files", TreeInput()
                    .Mkdir(0, kDir)                     // id 1
                    .Create(0, kFile)                   // id 2, handle 0
                    .Write(0, 0, "hello, world\n")
                    .Write(0, 8192, "after a hole")
                    .Read(0, 0, 4096)
                    .Read(0, 8190, 100)
                    .Fsync(0)
                    .Flush(0, 7)
                    .Release(0)
                    .Lookup(0, kFile)
                    .Open(2, 3)                         // handle 0 again: O_APPEND
                    .Write(0, 0, "appended")
                    .Truncate(0, 5, 2)
                    .Statx(2)
                    .Statfs(0)
                    .Release(0)
                    .Forget(2, 2));
  Tree("namespace", TreeInput()
                        .Mkdir(0, kDir)                 // id 1, dir 1
                        .Create(1, kA)                  // id 2 in /dir
                        .Rename(1, kA, 0, kB)           // /b
                        .Link(2, 1, kC)                 // /dir/c, same node
                        .Symlink(0, kX)                 // id 3
                        .Mknod(0, kUtf8, 1)             // fifo, id 4
                        .Rename2(0, kB, 1, kC, 2)       // exchange b and c
                        .Rename2(0, kB, 1, kC, 1)       // NOREPLACE: EEXIST
                        .Rmdir(0, kDir)                 // ENOTEMPTY
                        .Unlink(1, kC)
                        .Unlink(0, kB)
                        .Rmdir(0, kDir)
                        .Lookup(0, kDir)
                        .Opendir(0)
                        .Readdirplus(0, 0, 4096)
                        .Readdir(0, 2, 100)
                        .Releasedir(0)
                        .Release(0)
                        .Forget(1, 1)
                        .Forget(2, 3)
                        .Forget(3, 1));
  Tree("xattrs", TreeInput()
                     .Create(0, kFile)
                     .Setxattr(1, 0, "value", 1)
                     .Setxattr(1, 0, "again", 1)    // EEXIST
                     .Setxattr(1, 1, "b", 2)        // ENODATA
                     .Setxattr(1, 5, "x", 0)        // EOPNOTSUPP
                     .Getxattr(1, 0, 0)
                     .Getxattr(1, 0, 2)             // ERANGE
                     .Getxattr(1, 0, 64)
                     .Listxattr(1, 0)
                     .Listxattr(1, 64)
                     .Removexattr(1, 0)
                     .Removexattr(1, 0)             // ENODATA
                     .Setxattr(0, 2, "root", 0));
  Tree("locks", TreeInput()
                    .Create(0, kFile)               // handle 0
                    .Open(1, 2)                     // handle 1
                    .Lock(true, 0, 1, 0, 99, 1, false)
                    .Lock(false, 1, 2, 50, 60, 0, false)
                    .Lock(true, 1, 2, 50, 60, 0, false)    // EAGAIN
                    .Lock(true, 0, 1, 0, 99, 2, false)
                    .Lock(true, 1, 3, 0, 0, 1, true)       // flock
                    .Lock(true, 0, 1, 0, 0, 0, true)
                    .Flush(0, 1)
                    .Release(1)
                    .Release(0));
  Tree("sparse", TreeInput()
                     .Create(0, kFile)
                     .Write(0, 1u << 30, "far")
                     .Lseek(0, 0, 3)
                     .Lseek(0, 0, 4)
                     .Fallocate(0, 0, 65536, 0)
                     .Fallocate(0, 4096, 8192, 2)
                     .Fallocate(0, 0, 4096, 3)
                     .Fallocate(0, 1u << 31, 4096, 1)
                     .Read(0, (1u << 30) - 10, 100)
                     .Truncate(0, 4096, 1)
                     .Truncate(0, 0xffffffffu, 1)
                     .Release(0));
  Tree("names", TreeInput()
                    .Mkdir(0, kDot)
                    .Mkdir(0, kDotDot)
                    .Mkdir(0, k255)
                    .Mkdir(0, k256)
                    .Mkdir(0, kEmpty)
                    .Mkdir(0, kSlash)
                    .Create(0, kHigh)
                    .Create(0, kDot)
                    .Symlink(0, kDotDot)
                    .Link(2, 0, kDot)
                    .Rename(0, kHigh, 0, kDot)
                    .Rename2(0, kDotDot, 0, kA, 0)
                    .Unlink(0, kDot)
                    .Rmdir(0, kDot)
                    .Rmdir(0, kDotDot)
                    .Lookup(0, kDot)
                    .Lookup(0, kDotDot)
                    .Lookup(0, k256)
                    .NameWithoutNul(0, false)
                    .NameWithoutNul(3, true)
                    .NameWithoutNul(5, false));
  Tree("limits", TreeInput(0x02)  // 64 KiB, 24 inodes
                     .Create(0, kA)
                     .Write(0, 0, std::string(8000, 'a'))
                     .Fallocate(0, 0, 1u << 20, 0)             // ENOSPC
                     .Write(0, 60000, std::string(8000, 'b'))  // partly
                     .Mkdir(0, kB)
                     .Mkdir(1, kA)
                     .Statfs(0)
                     .Release(0));
  Tree("interrupts", TreeInput(0x05)  // negative entries, wire log
                         .Lookup(0, kA)
                         .Interrupt(false)
                         .Lookup(0, kB)
                         .Interrupt(true)
                         .Mkdir(0, kA)
                         .Access(1, 4)
                         .Statx(1));
}

}  // namespace
}  // namespace fusekit

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: make_corpus DIR\n");
    return 2;
  }
  fusekit::g_root = argv[1];
  mkdir(argv[1], 0755);
  mkdir((fusekit::g_root + "/decoder").c_str(), 0755);
  mkdir((fusekit::g_root + "/session").c_str(), 0755);
  mkdir((fusekit::g_root + "/tree").c_str(), 0755);
  fusekit::MakeDecoderCorpus();
  fusekit::MakeSessionCorpus();
  fusekit::MakeTreeCorpus();
  return 0;
}
