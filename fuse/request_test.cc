// Golden-byte tests for DecodeRequest (fuse/request.h): for every opcode in
// the table, the exact bytes the kernel sends are built by hand (field by
// field in little-endian, or written out as literal byte arrays) and the
// decoded view is checked; then a table of malformed frames, each with the
// errno and can_reply it must produce; then prefixes and random frames,
// which must decode or fail cleanly (run under ASan for the bounds).
#include "fuse/request.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "fuse/kernel_abi.h"
#include "fuse/opcode.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fusekit {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using Op = abi::Opcode;

constexpr uint32_t kUid = 1000;
constexpr uint32_t kGid = 1001;
constexpr uint32_t kPid = 4242;

// ---------------------------------------------------------------------------
// Byte helpers
// ---------------------------------------------------------------------------

// Little-endian byte writer: the wire layout spelled out field by field,
// independent of the structs in kernel_abi.h.
class Le {
 public:
  Le& U8(uint8_t v) {
    s_.push_back(static_cast<char>(v));
    return *this;
  }
  Le& U16(uint16_t v) { return Uint(v, 2); }
  Le& U32(uint32_t v) { return Uint(v, 4); }
  Le& U64(uint64_t v) { return Uint(v, 8); }
  Le& I32(int32_t v) { return Uint(static_cast<uint32_t>(v), 4); }
  Le& Str(absl::string_view v) {
    s_.append(v.data(), v.size());
    return *this;
  }
  // A NUL-terminated name.
  Le& Name(absl::string_view v) { return Str(v).U8(0); }
  Le& Zeros(size_t n) {
    s_.append(n, '\0');
    return *this;
  }
  Le& Pad8() { return Zeros(abi::RecAlign(s_.size()) - s_.size()); }
  size_t size() const { return s_.size(); }
  const std::string& str() const { return s_; }
  operator std::string() const { return s_; }            // NOLINT: convenience
  operator absl::string_view() const { return s_; }  // NOLINT: convenience

 private:
  Le& Uint(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) s_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return *this;
  }
  std::string s_;
};

// The 40-byte fuse_in_header, field by field.
std::string InHeader(uint32_t len, uint32_t opcode, uint64_t unique, uint64_t nodeid,
                     uint16_t total_extlen = 0, uint32_t uid = kUid, uint32_t gid = kGid,
                     uint32_t pid = kPid) {
  return Le()
      .U32(len)
      .U32(opcode)
      .U64(unique)
      .U64(nodeid)
      .U32(uid)
      .U32(gid)
      .U32(pid)
      .U16(total_extlen)
      .U16(0);
}

// A whole frame: header (with the right len) + body + extensions.
std::string Frame(Op op, uint64_t unique, uint64_t nodeid, absl::string_view body,
                  absl::string_view ext = {}) {
  size_t len = 40 + body.size() + ext.size();
  return absl::StrCat(InHeader(static_cast<uint32_t>(len), static_cast<uint32_t>(op), unique,
                               nodeid, static_cast<uint16_t>(ext.size() / 8)),
                      body, ext);
}

std::string FromBytes(absl::Span<const uint8_t> bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

template <size_t N>
std::string FromArray(const uint8_t (&bytes)[N]) {
  return std::string(reinterpret_cast<const char*>(bytes), N);
}

// A heap copy of exactly the frame's size, so ASan sees any overread (a
// std::string's capacity would hide it).
class ExactBuffer {
 public:
  explicit ExactBuffer(absl::string_view bytes)
      : size_(bytes.size()), data_(new uint8_t[bytes.size()]) {
    if (!bytes.empty()) std::memcpy(data_.get(), bytes.data(), bytes.size());
  }
  absl::Span<const uint8_t> span() const { return absl::MakeConstSpan(data_.get(), size_); }

 private:
  size_t size_;
  std::unique_ptr<uint8_t[]> data_;
};

// Overwrites header.total_extlen of a built frame.
void SetExtlen(std::string* frame, uint16_t units) {
  (*frame)[36] = static_cast<char>(units & 0xff);
  (*frame)[37] = static_cast<char>(units >> 8);
}

DecodeSettings AtMinor(uint32_t minor, bool setxattr_ext = false) {
  DecodeSettings s;
  s.minor = minor;
  s.setxattr_ext = setxattr_ext;
  return s;
}

DecodeSettings WithSetxattrExt() { return AtMinor(abi::kKernelMinorVersion, true); }

std::string TestName(absl::string_view description) {
  std::string out;
  for (char c : description) {
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  }
  return out;
}

std::vector<uint32_t> Groups(const DecodedRequest& r) { return SupplementaryGroups(r); }

// ---------------------------------------------------------------------------
// Golden frames: one or more per opcode in the table
// ---------------------------------------------------------------------------

struct Golden {
  std::string description;
  std::string frame;
  DecodeSettings settings;
  Op opcode;
  uint64_t unique;
  uint64_t nodeid;
  std::function<void(const DecodedRequest&)> check;
};

void PrintTo(const Golden& g, std::ostream* os) { *os << g.description; }

// Literal frames, byte by byte as read(2) returns them on x86-64.
// LOOKUP "hello" in the root: len 46, unique 0x10, nodeid 1, uid 1000,
// gid 1001, pid 4242.
constexpr uint8_t kLookupBytes[] = {
    0x2e, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,  // len 46, opcode 1
    0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // unique 0x10
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // nodeid 1
    0xe8, 0x03, 0x00, 0x00, 0xe9, 0x03, 0x00, 0x00,  // uid 1000, gid 1001
    0x92, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // pid 4242, extlen 0, pad
    'h',  'e',  'l',  'l',  'o',  0x00,              // name
};

// FORGET nodeid 0x55, nlookup 0x0102030405060708.
constexpr uint8_t kForgetBytes[] = {
    0x30, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,  // len 48, opcode 2
    0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // unique 0x12
    0x55, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // nodeid 0x55
    0xe8, 0x03, 0x00, 0x00, 0xe9, 0x03, 0x00, 0x00,  // uid, gid
    0x92, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // pid, extlen, pad
    0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,  // nlookup
};

// MKDIR "newdir" in 0x2a, mode 040755, umask 022.
constexpr uint8_t kMkdirBytes[] = {
    0x37, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00,  // len 55, opcode 9
    0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // unique 0x14
    0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // nodeid 0x2a
    0xe8, 0x03, 0x00, 0x00, 0xe9, 0x03, 0x00, 0x00,  // uid, gid
    0x92, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // pid, extlen, pad
    0xed, 0x41, 0x00, 0x00, 0x12, 0x00, 0x00, 0x00,  // mode 040755, umask 022
    'n',  'e',  'w',  'd',  'i',  'r',  0x00,        // name
};

// READ fh 0x1122334455667788 at 0x10000, 4096 bytes, READ_LOCKOWNER, lock
// owner 0xdeadbeef, file flags O_LARGEFILE.
constexpr uint8_t kReadBytes[] = {
    0x50, 0x00, 0x00, 0x00, 0x0f, 0x00, 0x00, 0x00,  // len 80, opcode 15
    0x16, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // unique 0x16
    0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // nodeid 0x2a
    0xe8, 0x03, 0x00, 0x00, 0xe9, 0x03, 0x00, 0x00,  // uid, gid
    0x92, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // pid, extlen, pad
    0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,  // fh
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,  // offset 0x10000
    0x00, 0x10, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,  // size 4096, read_flags
    0xef, 0xbe, 0xad, 0xde, 0x00, 0x00, 0x00, 0x00,  // lock_owner
    0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // flags, padding
};

// BATCH_FORGET of (5, 1) and (6, 300).
constexpr uint8_t kBatchForgetBytes[] = {
    0x50, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00,  // len 80, opcode 42
    0x18, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // unique 0x18
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // nodeid 0
    0xe8, 0x03, 0x00, 0x00, 0xe9, 0x03, 0x00, 0x00,  // uid, gid
    0x92, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // pid, extlen, pad
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // count 2, dummy
    0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // [0].nodeid
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // [0].nlookup
    0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // [1].nodeid
    0x2c, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // [1].nlookup 300
};

// SETXATTR without SETXATTR_EXT: the 8-byte fuse_setxattr_in, "user.k",
// value "v1".
constexpr uint8_t kSetxattrCompatBytes[] = {
    0x39, 0x00, 0x00, 0x00, 0x15, 0x00, 0x00, 0x00,  // len 57, opcode 21
    0x1a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // unique 0x1a
    0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // nodeid 0x2a
    0xe8, 0x03, 0x00, 0x00, 0xe9, 0x03, 0x00, 0x00,  // uid, gid
    0x92, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // pid, extlen, pad
    0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,  // size 2, XATTR_CREATE
    'u',  's',  'e',  'r',  '.',  'k',  0x00,        // name
    'v',  '1',                                       // value
};

// A FUSE_EXT_GROUPS extension with `groups`, padded to 8 bytes.
std::string GroupsExt(std::vector<uint32_t> groups) {
  uint32_t size = static_cast<uint32_t>(abi::RecAlign(8 + 4 + 4 * groups.size()));
  Le le;
  le.U32(size).U32(static_cast<uint32_t>(abi::ExtType::kGroups)).U32(
      static_cast<uint32_t>(groups.size()));
  for (uint32_t g : groups) le.U32(g);
  return le.Pad8();
}

// A security-context extension (fuse_secctx_header: nr_secctx sits where
// an extension's type would): one context "system_u:object_r:tmp_t".
std::string SecctxExt() {
  Le body;
  const absl::string_view label = "system_u:object_r:tmp_t";
  body.U32(static_cast<uint32_t>(label.size() + 1)).U32(0);  // fuse_secctx
  body.Name("security.selinux").Name(label);
  std::string b = body.Pad8();
  return Le().U32(static_cast<uint32_t>(8 + b.size())).U32(1).Str(b);
}

std::string AttrInBody() {
  // fuse_setattr_in: valid, padding, fh, size, lock_owner, atime, mtime,
  // ctime, atimensec, mtimensec, ctimensec, mode, unused4, uid, gid, unused5.
  return Le()
      .U32(abi::kFattrMode | abi::kFattrUid | abi::kFattrGid | abi::kFattrSize |
           abi::kFattrAtime | abi::kFattrMtime | abi::kFattrFh | abi::kFattrCtime)
      .U32(0)
      .U64(0x77)
      .U64(0x123456789a)
      .U64(0xabcdef)
      .U64(1700000000)
      .U64(1700000001)
      .U64(1700000002)
      .U32(111)
      .U32(222)
      .U32(333)
      .U32(0100600)
      .U32(0)
      .U32(2000)
      .U32(2001)
      .U32(0);
}

std::string CopyFileRangeBody() {
  // fh_in, off_in, nodeid_out, fh_out, off_out, len, flags.
  return Le()
      .U64(11)
      .U64(4096)
      .U64(0x99)
      .U64(12)
      .U64(8192)
      .U64(0x100000005ULL)
      .U64(0);
}

std::string LkBody(uint32_t type, uint32_t lk_flags) {
  // fh, owner, lk{start, end, type, pid}, lk_flags, padding.
  return Le()
      .U64(0x44)
      .U64(0xfeedbeef)
      .U64(100)
      .U64(0x7fffffffffffffffULL)
      .U32(type)
      .U32(777)
      .U32(lk_flags)
      .U32(0);
}

void CheckLk(const DecodedRequest& r, uint32_t type, uint32_t lk_flags) {
  auto in = r.Arg<abi::fuse_lk_in>();
  EXPECT_EQ(r.arg.size(), 48u);
  EXPECT_EQ(in.fh, 0x44u);
  EXPECT_EQ(in.owner, 0xfeedbeefu);
  EXPECT_EQ(in.lk.start, 100u);
  EXPECT_EQ(in.lk.end, 0x7fffffffffffffffULL);
  EXPECT_EQ(in.lk.type, type);
  EXPECT_EQ(in.lk.pid, 777u);
  EXPECT_EQ(in.lk_flags, lk_flags);
}

std::string ReleaseBody(uint32_t flags, uint32_t release_flags) {
  return Le().U64(0x1234).U32(flags).U32(release_flags).U64(0xabcd);
}

void CheckRelease(const DecodedRequest& r, uint32_t flags, uint32_t release_flags) {
  auto in = r.Arg<abi::fuse_release_in>();
  EXPECT_EQ(r.arg.size(), 24u);
  EXPECT_EQ(in.fh, 0x1234u);
  EXPECT_EQ(in.flags, flags);
  EXPECT_EQ(in.release_flags, release_flags);
  EXPECT_EQ(in.lock_owner, 0xabcdu);
}

std::string ReadInBody(uint64_t fh, uint64_t offset, uint32_t size) {
  return Le().U64(fh).U64(offset).U32(size).U32(0).U64(0).U32(O_RDONLY | O_DIRECTORY).U32(0);
}

void CheckNoNamesNoPayload(const DecodedRequest& r) {
  EXPECT_TRUE(r.name.empty());
  EXPECT_TRUE(r.name2.empty());
  EXPECT_THAT(r.payload, IsEmpty());
  EXPECT_THAT(r.extensions, IsEmpty());
}

std::vector<Golden> GoldenCases() {
  std::vector<Golden> c;
  const DecodeSettings kDefault;

  // --- Literal byte arrays -------------------------------------------------
  c.push_back({"LOOKUP_literal", FromArray(kLookupBytes), kDefault, Op::kLookup, 0x10, 1,
               [](const DecodedRequest& r) {
                 EXPECT_EQ(r.name, "hello");
                 EXPECT_TRUE(r.name2.empty());
                 EXPECT_THAT(r.arg, IsEmpty());
                 EXPECT_THAT(r.payload, IsEmpty());
               }});
  c.push_back({"FORGET_literal", FromArray(kForgetBytes), kDefault, Op::kForget, 0x12, 0x55,
               [](const DecodedRequest& r) {
                 EXPECT_EQ(r.arg.size(), 8u);
                 EXPECT_EQ(r.Arg<abi::fuse_forget_in>().nlookup, 0x0102030405060708ULL);
                 CheckNoNamesNoPayload(r);
               }});
  c.push_back({"MKDIR_literal", FromArray(kMkdirBytes), kDefault, Op::kMkdir, 0x14, 0x2a,
               [](const DecodedRequest& r) {
                 auto in = r.Arg<abi::fuse_mkdir_in>();
                 EXPECT_EQ(in.mode, 040755u);
                 EXPECT_EQ(in.umask, 022u);
                 EXPECT_EQ(r.name, "newdir");
                 EXPECT_THAT(r.payload, IsEmpty());
               }});
  c.push_back({"READ_literal", FromArray(kReadBytes), kDefault, Op::kRead, 0x16, 0x2a,
               [](const DecodedRequest& r) {
                 auto in = r.Arg<abi::fuse_read_in>();
                 EXPECT_EQ(r.arg.size(), 40u);
                 EXPECT_EQ(in.fh, 0x1122334455667788ULL);
                 EXPECT_EQ(in.offset, 0x10000u);
                 EXPECT_EQ(in.size, 4096u);
                 EXPECT_EQ(in.read_flags, abi::kReadLockowner);
                 EXPECT_EQ(in.lock_owner, 0xdeadbeefu);
                 EXPECT_EQ(in.flags, 0x8000u);
                 CheckNoNamesNoPayload(r);
               }});
  c.push_back({"BATCH_FORGET_literal", FromArray(kBatchForgetBytes), kDefault, Op::kBatchForget,
               0x18, 0, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.Arg<abi::fuse_batch_forget_in>().count, 2u);
                 ASSERT_EQ(r.payload.size(), 32u);
                 abi::fuse_forget_one f[2];
                 std::memcpy(f, r.payload.data(), sizeof(f));
                 EXPECT_EQ(f[0].nodeid, 5u);
                 EXPECT_EQ(f[0].nlookup, 1u);
                 EXPECT_EQ(f[1].nodeid, 6u);
                 EXPECT_EQ(f[1].nlookup, 300u);
               }});
  c.push_back({"SETXATTR_literal_without_ext", FromArray(kSetxattrCompatBytes), kDefault,
               Op::kSetxattr, 0x1a, 0x2a, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.arg.size(), 8u);
                 auto in = r.Arg<abi::fuse_setxattr_in>();
                 EXPECT_EQ(in.size, 2u);
                 EXPECT_EQ(in.flags, 1u);           // XATTR_CREATE
                 EXPECT_EQ(in.setxattr_flags, 0u);  // not sent: reads as zero
                 EXPECT_EQ(r.name, "user.k");
                 EXPECT_EQ(FromBytes(r.payload), "v1");
               }});

  // --- Field-by-field frames -----------------------------------------------
  c.push_back({"GETATTR", Frame(Op::kGetattr, 0x20, 7, Le().U32(abi::kGetattrFh).U32(0).U64(0xfeedface)),
               kDefault, Op::kGetattr, 0x20, 7, [](const DecodedRequest& r) {
                 auto in = r.Arg<abi::fuse_getattr_in>();
                 EXPECT_EQ(r.arg.size(), 16u);
                 EXPECT_EQ(in.getattr_flags, abi::kGetattrFh);
                 EXPECT_EQ(in.fh, 0xfeedfaceu);
                 CheckNoNamesNoPayload(r);
               }});
  c.push_back({"SETATTR", Frame(Op::kSetattr, 0x22, 7, AttrInBody()), kDefault, Op::kSetattr, 0x22,
               7, [](const DecodedRequest& r) {
                 auto in = r.Arg<abi::fuse_setattr_in>();
                 EXPECT_EQ(r.arg.size(), 88u);
                 EXPECT_EQ(in.valid, abi::kFattrMode | abi::kFattrUid | abi::kFattrGid |
                                         abi::kFattrSize | abi::kFattrAtime |
                                         abi::kFattrMtime | abi::kFattrFh | abi::kFattrCtime);
                 EXPECT_EQ(in.fh, 0x77u);
                 EXPECT_EQ(in.size, 0x123456789aULL);
                 EXPECT_EQ(in.lock_owner, 0xabcdefu);
                 EXPECT_EQ(in.atime, 1700000000u);
                 EXPECT_EQ(in.mtime, 1700000001u);
                 EXPECT_EQ(in.ctime, 1700000002u);
                 EXPECT_EQ(in.atimensec, 111u);
                 EXPECT_EQ(in.mtimensec, 222u);
                 EXPECT_EQ(in.ctimensec, 333u);
                 EXPECT_EQ(in.mode, 0100600u);
                 EXPECT_EQ(in.uid, 2000u);
                 EXPECT_EQ(in.gid, 2001u);
                 CheckNoNamesNoPayload(r);
               }});
  c.push_back({"READLINK", Frame(Op::kReadlink, 0x24, 8, ""), kDefault, Op::kReadlink, 0x24, 8,
               [](const DecodedRequest& r) {
                 EXPECT_THAT(r.arg, IsEmpty());
                 CheckNoNamesNoPayload(r);
               }});
  c.push_back({"SYMLINK", Frame(Op::kSymlink, 0x26, 1, Le().Name("link").Name("../some/target")),
               kDefault, Op::kSymlink, 0x26, 1, [](const DecodedRequest& r) {
                 EXPECT_THAT(r.arg, IsEmpty());
                 EXPECT_EQ(r.name, "link");
                 EXPECT_EQ(r.name2, "../some/target");  // a target may contain '/'
                 EXPECT_THAT(r.payload, IsEmpty());
               }});
  c.push_back({"MKNOD", Frame(Op::kMknod, 0x28, 1, Le().U32(S_IFIFO | 0644).U32(0x0801).U32(022).U32(0).Name("fifo")),
               kDefault, Op::kMknod, 0x28, 1, [](const DecodedRequest& r) {
                 auto in = r.Arg<abi::fuse_mknod_in>();
                 EXPECT_EQ(r.arg.size(), 16u);
                 EXPECT_EQ(in.mode, static_cast<uint32_t>(S_IFIFO | 0644));
                 EXPECT_EQ(in.rdev, 0x0801u);
                 EXPECT_EQ(in.umask, 022u);
                 EXPECT_EQ(r.name, "fifo");
               }});
  c.push_back({"UNLINK", Frame(Op::kUnlink, 0x2a, 3, Le().Name("gone.txt")), kDefault,
               Op::kUnlink, 0x2a, 3, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.name, "gone.txt");
                 EXPECT_THAT(r.arg, IsEmpty());
               }});
  c.push_back({"RMDIR", Frame(Op::kRmdir, 0x2c, 3, Le().Name("olddir")), kDefault, Op::kRmdir,
               0x2c, 3, [](const DecodedRequest& r) { EXPECT_EQ(r.name, "olddir"); }});
  c.push_back({"RENAME", Frame(Op::kRename, 0x2e, 3, Le().U64(9).Name("a").Name("b.new")),
               kDefault, Op::kRename, 0x2e, 3, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.Arg<abi::fuse_rename_in>().newdir, 9u);
                 EXPECT_EQ(r.name, "a");
                 EXPECT_EQ(r.name2, "b.new");
               }});
  c.push_back({"LINK", Frame(Op::kLink, 0x30, 4, Le().U64(33).Name("hardlink")), kDefault,
               Op::kLink, 0x30, 4, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.Arg<abi::fuse_link_in>().oldnodeid, 33u);
                 EXPECT_EQ(r.name, "hardlink");
               }});
  c.push_back({"OPEN", Frame(Op::kOpen, 0x32, 5, Le().U32(O_RDWR | O_TRUNC).U32(abi::kOpenInKillSuidgid)),
               kDefault, Op::kOpen, 0x32, 5, [](const DecodedRequest& r) {
                 auto in = r.Arg<abi::fuse_open_in>();
                 EXPECT_EQ(in.flags, static_cast<uint32_t>(O_RDWR | O_TRUNC));
                 EXPECT_EQ(in.open_flags, abi::kOpenInKillSuidgid);
                 CheckNoNamesNoPayload(r);
               }});
  c.push_back({"WRITE",
               Frame(Op::kWrite, 0x34, 5,
                     Le().U64(3).U64(8192).U32(11).U32(abi::kWriteCache | abi::kWriteLockowner)
                         .U64(0x5151).U32(O_WRONLY).U32(0).Str("hello world")),
               kDefault, Op::kWrite, 0x34, 5, [](const DecodedRequest& r) {
                 auto in = r.Arg<abi::fuse_write_in>();
                 EXPECT_EQ(r.arg.size(), 40u);
                 EXPECT_EQ(in.fh, 3u);
                 EXPECT_EQ(in.offset, 8192u);
                 EXPECT_EQ(in.size, 11u);
                 EXPECT_EQ(in.write_flags, abi::kWriteCache | abi::kWriteLockowner);
                 EXPECT_EQ(in.lock_owner, 0x5151u);
                 EXPECT_EQ(in.flags, static_cast<uint32_t>(O_WRONLY));
                 EXPECT_EQ(FromBytes(r.payload), "hello world");
               }});
  c.push_back({"WRITE_zero_bytes",
               Frame(Op::kWrite, 0x36, 5, Le().U64(3).U64(0).U32(0).U32(0).U64(0).U32(0).U32(0)),
               kDefault, Op::kWrite, 0x36, 5, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.Arg<abi::fuse_write_in>().size, 0u);
                 EXPECT_THAT(r.payload, IsEmpty());
               }});
  c.push_back({"STATFS", Frame(Op::kStatfs, 0x38, 1, ""), kDefault, Op::kStatfs, 0x38, 1,
               [](const DecodedRequest& r) {
                 EXPECT_THAT(r.arg, IsEmpty());
                 CheckNoNamesNoPayload(r);
               }});
  c.push_back({"RELEASE", Frame(Op::kRelease, 0x3a, 5, ReleaseBody(O_RDWR, abi::kReleaseFlush)),
               kDefault, Op::kRelease, 0x3a, 5, [](const DecodedRequest& r) {
                 CheckRelease(r, O_RDWR, abi::kReleaseFlush);
               }});
  c.push_back({"FSYNC", Frame(Op::kFsync, 0x3c, 5, Le().U64(0x66).U32(abi::kFsyncFdatasync).U32(0)),
               kDefault, Op::kFsync, 0x3c, 5, [](const DecodedRequest& r) {
                 auto in = r.Arg<abi::fuse_fsync_in>();
                 EXPECT_EQ(in.fh, 0x66u);
                 EXPECT_EQ(in.fsync_flags, abi::kFsyncFdatasync);
               }});
  c.push_back({"SETXATTR_with_ext",
               Frame(Op::kSetxattr, 0x3e, 5,
                     Le().U32(5).U32(2).U32(abi::kSetxattrAclKillSgid).U32(0)
                         .Name("system.posix_acl_access").Str("abcde")),
               WithSetxattrExt(), Op::kSetxattr, 0x3e, 5, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.arg.size(), 16u);
                 auto in = r.Arg<abi::fuse_setxattr_in>();
                 EXPECT_EQ(in.size, 5u);
                 EXPECT_EQ(in.flags, 2u);  // XATTR_REPLACE
                 EXPECT_EQ(in.setxattr_flags, abi::kSetxattrAclKillSgid);
                 EXPECT_EQ(r.name, "system.posix_acl_access");
                 EXPECT_EQ(FromBytes(r.payload), "abcde");
               }});
  c.push_back({"SETXATTR_binary_value",
               Frame(Op::kSetxattr, 0x40, 5,
                     Le().U32(4).U32(0).Name("user.bin").Str(absl::string_view("\0\x01\0\xff", 4))),
               kDefault, Op::kSetxattr, 0x40, 5, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.name, "user.bin");
                 EXPECT_EQ(FromBytes(r.payload), absl::string_view("\0\x01\0\xff", 4));
               }});
  c.push_back({"GETXATTR", Frame(Op::kGetxattr, 0x42, 5, Le().U32(64).U32(0).Name("user.x")),
               kDefault, Op::kGetxattr, 0x42, 5, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.Arg<abi::fuse_getxattr_in>().size, 64u);
                 EXPECT_EQ(r.name, "user.x");
                 EXPECT_THAT(r.payload, IsEmpty());
               }});
  c.push_back({"LISTXATTR", Frame(Op::kListxattr, 0x44, 5, Le().U32(0).U32(0)), kDefault,
               Op::kListxattr, 0x44, 5, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.arg.size(), 8u);
                 EXPECT_EQ(r.Arg<abi::fuse_getxattr_in>().size, 0u);
                 CheckNoNamesNoPayload(r);
               }});
  c.push_back({"REMOVEXATTR", Frame(Op::kRemovexattr, 0x46, 5, Le().Name("user.x")), kDefault,
               Op::kRemovexattr, 0x46, 5,
               [](const DecodedRequest& r) { EXPECT_EQ(r.name, "user.x"); }});
  c.push_back({"FLUSH", Frame(Op::kFlush, 0x48, 5, Le().U64(0x88).U32(0).U32(0).U64(0x4242)),
               kDefault, Op::kFlush, 0x48, 5, [](const DecodedRequest& r) {
                 auto in = r.Arg<abi::fuse_flush_in>();
                 EXPECT_EQ(in.fh, 0x88u);
                 EXPECT_EQ(in.lock_owner, 0x4242u);
               }});
  c.push_back({"INIT_7_45",
               Frame(Op::kInit, 0x02, 0,
                     Le().U32(7).U32(45).U32(128 * 1024).U32(0x40000001).U32(0x21).Zeros(44)),
               kDefault, Op::kInit, 0x02, 0, [](const DecodedRequest& r) {
                 // 8 bytes (major, minor) are the fixed part, the rest of
                 // the (grown) fuse_init_in is the payload.
                 ASSERT_EQ(r.arg.size(), 8u);
                 ASSERT_EQ(r.payload.size(), 56u);
                 auto in = r.Arg<abi::fuse_init_in>();
                 EXPECT_EQ(in.major, 7u);
                 EXPECT_EQ(in.minor, 45u);
                 EXPECT_EQ(in.flags, 0u);  // beyond the 8-byte arg: reads as zero
                 abi::fuse_init_in full{};
                 std::memcpy(&full, r.arg.data(), 8);
                 std::memcpy(reinterpret_cast<char*>(&full) + 8, r.payload.data(), 56);
                 EXPECT_EQ(full.max_readahead, 128u * 1024);
                 EXPECT_EQ(full.flags, 0x40000001u);
                 EXPECT_EQ(full.flags2, 0x21u);
               }});
  c.push_back({"INIT_7_22_short_init_in",
               Frame(Op::kInit, 0x02, 0, Le().U32(7).U32(22).U32(65536).U32(0x1)), kDefault,
               Op::kInit, 0x02, 0, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.arg.size(), 8u);
                 EXPECT_EQ(r.payload.size(), 8u);
               }});
  c.push_back({"OPENDIR", Frame(Op::kOpendir, 0x4a, 6, Le().U32(O_RDONLY | O_DIRECTORY).U32(0)),
               kDefault, Op::kOpendir, 0x4a, 6, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.Arg<abi::fuse_open_in>().flags,
                           static_cast<uint32_t>(O_RDONLY | O_DIRECTORY));
               }});
  c.push_back({"READDIR", Frame(Op::kReaddir, 0x4c, 6, ReadInBody(0x10, 3, 4096)), kDefault,
               Op::kReaddir, 0x4c, 6, [](const DecodedRequest& r) {
                 auto in = r.Arg<abi::fuse_read_in>();
                 EXPECT_EQ(in.fh, 0x10u);
                 EXPECT_EQ(in.offset, 3u);
                 EXPECT_EQ(in.size, 4096u);
                 CheckNoNamesNoPayload(r);
               }});
  c.push_back({"RELEASEDIR", Frame(Op::kReleasedir, 0x4e, 6, ReleaseBody(O_RDONLY | O_DIRECTORY, 0)),
               kDefault, Op::kReleasedir, 0x4e, 6, [](const DecodedRequest& r) {
                 CheckRelease(r, O_RDONLY | O_DIRECTORY, 0);
               }});
  c.push_back({"FSYNCDIR", Frame(Op::kFsyncdir, 0x50, 6, Le().U64(0x10).U32(0).U32(0)), kDefault,
               Op::kFsyncdir, 0x50, 6, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.Arg<abi::fuse_fsync_in>().fh, 0x10u);
                 EXPECT_EQ(r.Arg<abi::fuse_fsync_in>().fsync_flags, 0u);
               }});
  c.push_back({"GETLK", Frame(Op::kGetlk, 0x52, 5, LkBody(F_RDLCK, 0)), kDefault, Op::kGetlk, 0x52,
               5, [](const DecodedRequest& r) { CheckLk(r, F_RDLCK, 0); }});
  c.push_back({"SETLK", Frame(Op::kSetlk, 0x54, 5, LkBody(F_WRLCK, abi::kLkFlock)), kDefault,
               Op::kSetlk, 0x54, 5,
               [](const DecodedRequest& r) { CheckLk(r, F_WRLCK, abi::kLkFlock); }});
  c.push_back({"SETLKW", Frame(Op::kSetlkw, 0x56, 5, LkBody(F_UNLCK, 0)), kDefault, Op::kSetlkw,
               0x56, 5, [](const DecodedRequest& r) { CheckLk(r, F_UNLCK, 0); }});
  c.push_back({"ACCESS", Frame(Op::kAccess, 0x58, 5, Le().U32(R_OK | W_OK).U32(0)), kDefault,
               Op::kAccess, 0x58, 5, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.Arg<abi::fuse_access_in>().mask, static_cast<uint32_t>(R_OK | W_OK));
               }});
  c.push_back({"CREATE",
               Frame(Op::kCreate, 0x5a, 1,
                     Le().U32(O_CREAT | O_WRONLY | O_EXCL).U32(S_IFREG | 0644).U32(022)
                         .U32(abi::kOpenInKillSuidgid).Name("new.txt")),
               kDefault, Op::kCreate, 0x5a, 1, [](const DecodedRequest& r) {
                 auto in = r.Arg<abi::fuse_create_in>();
                 EXPECT_EQ(r.arg.size(), 16u);
                 EXPECT_EQ(in.flags, static_cast<uint32_t>(O_CREAT | O_WRONLY | O_EXCL));
                 EXPECT_EQ(in.mode, static_cast<uint32_t>(S_IFREG | 0644));
                 EXPECT_EQ(in.umask, 022u);
                 EXPECT_EQ(in.open_flags, abi::kOpenInKillSuidgid);
                 EXPECT_EQ(r.name, "new.txt");
               }});
  c.push_back({"INTERRUPT", Frame(Op::kInterrupt, 0x5d, 0, Le().U64(0x5a)), kDefault,
               Op::kInterrupt, 0x5d, 0, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.Arg<abi::fuse_interrupt_in>().unique, 0x5au);
               }});
  c.push_back({"BMAP", Frame(Op::kBmap, 0x5e, 5, Le().U64(77).U32(4096).U32(0)), kDefault,
               Op::kBmap, 0x5e, 5, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.Arg<abi::fuse_bmap_in>().block, 77u);
                 EXPECT_EQ(r.Arg<abi::fuse_bmap_in>().blocksize, 4096u);
               }});
  c.push_back({"DESTROY", Frame(Op::kDestroy, 0x60, 0, ""), kDefault, Op::kDestroy, 0x60, 0,
               [](const DecodedRequest& r) {
                 EXPECT_THAT(r.arg, IsEmpty());
                 CheckNoNamesNoPayload(r);
               }});
  c.push_back({"IOCTL",
               Frame(Op::kIoctl, 0x62, 5,
                     Le().U64(0x21).U32(abi::kIoctlUnrestricted).U32(0x80086601)
                         .U64(0x7fff00001000ULL).U32(4).U32(8).Str("\x01\x02\x03\x04")),
               kDefault, Op::kIoctl, 0x62, 5, [](const DecodedRequest& r) {
                 auto in = r.Arg<abi::fuse_ioctl_in>();
                 EXPECT_EQ(r.arg.size(), 32u);
                 EXPECT_EQ(in.fh, 0x21u);
                 EXPECT_EQ(in.flags, abi::kIoctlUnrestricted);
                 EXPECT_EQ(in.cmd, 0x80086601u);
                 EXPECT_EQ(in.arg, 0x7fff00001000ULL);
                 EXPECT_EQ(in.in_size, 4u);
                 EXPECT_EQ(in.out_size, 8u);
                 EXPECT_EQ(FromBytes(r.payload), "\x01\x02\x03\x04");
               }});
  c.push_back({"POLL",
               Frame(Op::kPoll, 0x64, 5,
                     Le().U64(0x21).U64(0xabc).U32(abi::kPollScheduleNotify).U32(POLLIN | POLLOUT)),
               kDefault, Op::kPoll, 0x64, 5, [](const DecodedRequest& r) {
                 auto in = r.Arg<abi::fuse_poll_in>();
                 EXPECT_EQ(in.fh, 0x21u);
                 EXPECT_EQ(in.kh, 0xabcu);
                 EXPECT_EQ(in.flags, abi::kPollScheduleNotify);
                 EXPECT_EQ(in.events, static_cast<uint32_t>(POLLIN | POLLOUT));
               }});
  c.push_back({"NOTIFY_REPLY",
               Frame(Op::kNotifyReply, 3, 5,
                     Le().U64(0).U64(512).U32(6).U32(0).U64(0).U64(0).Str("retrie")),
               kDefault, Op::kNotifyReply, 3, 5, [](const DecodedRequest& r) {
                 auto in = r.Arg<abi::fuse_notify_retrieve_in>();
                 EXPECT_EQ(r.arg.size(), 40u);
                 EXPECT_EQ(in.offset, 512u);
                 EXPECT_EQ(in.size, 6u);
                 EXPECT_EQ(FromBytes(r.payload), "retrie");
               }});
  c.push_back({"FALLOCATE", Frame(Op::kFallocate, 0x66, 5, Le().U64(9).U64(100).U64(200).U32(1).U32(0)),
               kDefault, Op::kFallocate, 0x66, 5, [](const DecodedRequest& r) {
                 auto in = r.Arg<abi::fuse_fallocate_in>();
                 EXPECT_EQ(in.fh, 9u);
                 EXPECT_EQ(in.offset, 100u);
                 EXPECT_EQ(in.length, 200u);
                 EXPECT_EQ(in.mode, 1u);  // FALLOC_FL_KEEP_SIZE
               }});
  c.push_back({"READDIRPLUS", Frame(Op::kReaddirplus, 0x68, 6, ReadInBody(0x11, 0, 65536)),
               kDefault, Op::kReaddirplus, 0x68, 6, [](const DecodedRequest& r) {
                 auto in = r.Arg<abi::fuse_read_in>();
                 EXPECT_EQ(in.fh, 0x11u);
                 EXPECT_EQ(in.size, 65536u);
               }});
  c.push_back({"RENAME2", Frame(Op::kRename2, 0x6a, 3, Le().U64(10).U32(1).U32(0).Name("x").Name("y")),
               kDefault, Op::kRename2, 0x6a, 3, [](const DecodedRequest& r) {
                 auto in = r.Arg<abi::fuse_rename2_in>();
                 EXPECT_EQ(in.newdir, 10u);
                 EXPECT_EQ(in.flags, 1u);  // RENAME_NOREPLACE
                 EXPECT_EQ(r.name, "x");
                 EXPECT_EQ(r.name2, "y");
               }});
  c.push_back({"LSEEK", Frame(Op::kLseek, 0x6c, 5, Le().U64(0x21).U64(12345).U32(3).U32(0)),
               kDefault, Op::kLseek, 0x6c, 5, [](const DecodedRequest& r) {
                 auto in = r.Arg<abi::fuse_lseek_in>();
                 EXPECT_EQ(in.fh, 0x21u);
                 EXPECT_EQ(in.offset, 12345u);
                 EXPECT_EQ(in.whence, 3u);  // SEEK_DATA
               }});
  auto check_copy = [](const DecodedRequest& r) {
    auto in = r.Arg<abi::fuse_copy_file_range_in>();
    EXPECT_EQ(r.arg.size(), 56u);
    EXPECT_EQ(in.fh_in, 11u);
    EXPECT_EQ(in.off_in, 4096u);
    EXPECT_EQ(in.nodeid_out, 0x99u);
    EXPECT_EQ(in.fh_out, 12u);
    EXPECT_EQ(in.off_out, 8192u);
    EXPECT_EQ(in.len, 0x100000005ULL);
    EXPECT_EQ(in.flags, 0u);
  };
  c.push_back({"COPY_FILE_RANGE", Frame(Op::kCopyFileRange, 0x6e, 5, CopyFileRangeBody()), kDefault,
               Op::kCopyFileRange, 0x6e, 5, check_copy});
  c.push_back({"COPY_FILE_RANGE_64", Frame(Op::kCopyFileRange64, 0x70, 5, CopyFileRangeBody()),
               kDefault, Op::kCopyFileRange64, 0x70, 5, check_copy});
  c.push_back({"SETUPMAPPING",
               Frame(Op::kSetupMapping, 0x72, 5,
                     Le().U64(1).U64(0x200000).U64(0x200000).U64(abi::kSetupmappingFlagRead)
                         .U64(0x400000)),
               kDefault, Op::kSetupMapping, 0x72, 5, [](const DecodedRequest& r) {
                 auto in = r.Arg<abi::fuse_setupmapping_in>();
                 EXPECT_EQ(in.fh, 1u);
                 EXPECT_EQ(in.foffset, 0x200000u);
                 EXPECT_EQ(in.len, 0x200000u);
                 EXPECT_EQ(in.flags, abi::kSetupmappingFlagRead);
                 EXPECT_EQ(in.moffset, 0x400000u);
                 EXPECT_FALSE(r.info->served);
               }});
  c.push_back({"REMOVEMAPPING",
               Frame(Op::kRemoveMapping, 0x74, 5,
                     Le().U32(2).U64(0x1000).U64(0x2000).U64(0x3000).U64(0x4000)),
               kDefault, Op::kRemoveMapping, 0x74, 5, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.arg.size(), 4u);
                 EXPECT_EQ(r.Arg<abi::fuse_removemapping_in>().count, 2u);
                 EXPECT_EQ(r.payload.size(), 32u);
                 EXPECT_FALSE(r.info->served);
               }});
  c.push_back({"SYNCFS", Frame(Op::kSyncfs, 0x76, 1, Le().U64(0)), kDefault, Op::kSyncfs, 0x76, 1,
               [](const DecodedRequest& r) {
                 EXPECT_EQ(r.arg.size(), 8u);
                 CheckNoNamesNoPayload(r);
               }});
  c.push_back({"TMPFILE",
               Frame(Op::kTmpfile, 0x78, 1,
                     Le().U32(O_TMPFILE | O_RDWR).U32(S_IFREG | 0600).U32(077).U32(0).Name("/")),
               kDefault, Op::kTmpfile, 0x78, 1, [](const DecodedRequest& r) {
                 auto in = r.Arg<abi::fuse_create_in>();
                 EXPECT_EQ(in.flags, static_cast<uint32_t>(O_TMPFILE | O_RDWR));
                 EXPECT_EQ(in.mode, static_cast<uint32_t>(S_IFREG | 0600));
                 EXPECT_EQ(in.umask, 077u);
                 // Not an entry name: "/" is what the kernel sends.
                 EXPECT_EQ(r.name, "/");
               }});
  c.push_back({"STATX",
               Frame(Op::kStatx, 0x7a, 5,
                     Le().U32(abi::kGetattrFh).U32(0).U64(0x21).U32(0x2000).U32(0x7ff)),
               kDefault, Op::kStatx, 0x7a, 5, [](const DecodedRequest& r) {
                 auto in = r.Arg<abi::fuse_statx_in>();
                 EXPECT_EQ(r.arg.size(), 24u);
                 EXPECT_EQ(in.getattr_flags, abi::kGetattrFh);
                 EXPECT_EQ(in.fh, 0x21u);
                 EXPECT_EQ(in.sx_flags, 0x2000u);  // AT_STATX_FORCE_SYNC
                 EXPECT_EQ(in.sx_mask, 0x7ffu);    // STATX_BASIC_STATS
               }});
  c.push_back({"CUSE_INIT",
               Frame(Op::kCuseInit, 0x7c, 0, Le().U32(7).U32(45).U32(0).U32(abi::kCuseUnrestrictedIoctl)),
               kDefault, Op::kCuseInit, 0x7c, 0, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.arg.size(), 8u);
                 EXPECT_EQ(r.Arg<abi::cuse_init_in>().major, 7u);
                 EXPECT_EQ(r.Arg<abi::cuse_init_in>().minor, 45u);
                 EXPECT_EQ(r.payload.size(), 8u);
                 EXPECT_FALSE(r.info->served);
               }});

  // --- Extensions ----------------------------------------------------------
  // The kernel appends the extension block right after the name's NUL, so
  // it is not aligned in the buffer (offset 50 here).
  c.push_back({"MKDIR_with_groups",
               Frame(Op::kMkdir, 0x80, 1, Le().U32(040700).U32(022).Name("d"),
                     GroupsExt({100, 200})),
               kDefault, Op::kMkdir, 0x80, 1, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.header.total_extlen, 3);
                 EXPECT_EQ(r.extensions.size(), 24u);
                 EXPECT_EQ(r.name, "d");
                 EXPECT_EQ(r.Arg<abi::fuse_mkdir_in>().mode, 040700u);
                 EXPECT_THAT(r.payload, IsEmpty());
                 EXPECT_THAT(Groups(r), ElementsAre(100u, 200u));
               }});
  c.push_back({"CREATE_with_secctx_and_groups",
               Frame(Op::kCreate, 0x82, 1,
                     Le().U32(O_CREAT | O_RDWR).U32(S_IFREG | 0640).U32(0).U32(0).Name("f.c"),
                     SecctxExt() + GroupsExt({5, 6, 7})),
               kDefault, Op::kCreate, 0x82, 1, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.name, "f.c");
                 EXPECT_EQ(r.extensions.size(), SecctxExt().size() + 24);
                 EXPECT_EQ(FromBytes(r.extensions), SecctxExt() + GroupsExt({5, 6, 7}));
                 EXPECT_THAT(Groups(r), ElementsAre(5u, 6u, 7u));
               }});
  c.push_back({"SYMLINK_with_empty_groups",
               Frame(Op::kSymlink, 0x84, 1, Le().Name("l").Name("t"), GroupsExt({})),
               kDefault, Op::kSymlink, 0x84, 1, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.name, "l");
                 EXPECT_EQ(r.name2, "t");
                 EXPECT_EQ(r.extensions.size(), 16u);
                 EXPECT_THAT(Groups(r), IsEmpty());
               }});
  c.push_back({"MKNOD_with_unknown_extension_then_groups",
               Frame(Op::kMknod, 0x86, 1, Le().U32(S_IFREG | 0600).U32(0).U32(0).U32(0).Name("n"),
                     Le().U32(16).U32(99).U64(0xffffffffffffffffULL).str() + GroupsExt({42})),
               kDefault, Op::kMknod, 0x86, 1, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.name, "n");
                 EXPECT_THAT(Groups(r), ElementsAre(42u));
               }});
  c.push_back({"LOOKUP_without_extensions_has_no_groups",
               Frame(Op::kLookup, 0x88, 1, Le().Name("x")), kDefault, Op::kLookup, 0x88, 1,
               [](const DecodedRequest& r) {
                 EXPECT_THAT(r.extensions, IsEmpty());
                 EXPECT_THAT(Groups(r), IsEmpty());
               }});

  // --- Old protocol minors (compat argument sizes) ---------------------------
  c.push_back({"READ_minor8_24_bytes",
               Frame(Op::kRead, 0x90, 5, Le().U64(7).U64(4096).U32(512).U32(0)), AtMinor(8),
               Op::kRead, 0x90, 5, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.arg.size(), 24u);
                 auto in = r.Arg<abi::fuse_read_in>();
                 EXPECT_EQ(in.fh, 7u);
                 EXPECT_EQ(in.offset, 4096u);
                 EXPECT_EQ(in.size, 512u);
                 EXPECT_EQ(in.lock_owner, 0u);  // not sent at 7.8
                 EXPECT_EQ(in.flags, 0u);
               }});
  c.push_back({"WRITE_minor8_24_bytes",
               Frame(Op::kWrite, 0x92, 5, Le().U64(7).U64(0).U32(3).U32(0).Str("abc")), AtMinor(8),
               Op::kWrite, 0x92, 5, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.arg.size(), 24u);
                 EXPECT_EQ(r.Arg<abi::fuse_write_in>().size, 3u);
                 EXPECT_EQ(r.Arg<abi::fuse_write_in>().lock_owner, 0u);
                 EXPECT_EQ(FromBytes(r.payload), "abc");
               }});
  c.push_back({"GETATTR_minor8_no_body", Frame(Op::kGetattr, 0x94, 5, ""), AtMinor(8),
               Op::kGetattr, 0x94, 5, [](const DecodedRequest& r) {
                 EXPECT_THAT(r.arg, IsEmpty());
                 auto in = r.Arg<abi::fuse_getattr_in>();
                 EXPECT_EQ(in.getattr_flags, 0u);
                 EXPECT_EQ(in.fh, 0u);
               }});
  c.push_back({"MKNOD_minor11_8_bytes",
               Frame(Op::kMknod, 0x96, 1, Le().U32(S_IFCHR | 0600).U32(0x0103).Name("null")),
               AtMinor(11), Op::kMknod, 0x96, 1, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.arg.size(), 8u);
                 auto in = r.Arg<abi::fuse_mknod_in>();
                 EXPECT_EQ(in.mode, static_cast<uint32_t>(S_IFCHR | 0600));
                 EXPECT_EQ(in.rdev, 0x0103u);
                 EXPECT_EQ(in.umask, 0u);
                 EXPECT_EQ(r.name, "null");
               }});
  c.push_back({"CREATE_minor11_8_bytes",
               Frame(Op::kCreate, 0x98, 1, Le().U32(O_CREAT | O_RDWR).U32(S_IFREG | 0600).Name("c")),
               AtMinor(11), Op::kCreate, 0x98, 1, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.arg.size(), 8u);
                 auto in = r.Arg<abi::fuse_create_in>();
                 EXPECT_EQ(in.flags, static_cast<uint32_t>(O_CREAT | O_RDWR));
                 EXPECT_EQ(in.mode, static_cast<uint32_t>(S_IFREG | 0600));
                 EXPECT_EQ(in.umask, 0u);
                 EXPECT_EQ(r.name, "c");
               }});
  c.push_back({"MKNOD_minor12_16_bytes",
               Frame(Op::kMknod, 0x9a, 1, Le().U32(S_IFREG | 0600).U32(0).U32(02).U32(0).Name("m")),
               AtMinor(12), Op::kMknod, 0x9a, 1, [](const DecodedRequest& r) {
                 EXPECT_EQ(r.arg.size(), 16u);
                 EXPECT_EQ(r.Arg<abi::fuse_mknod_in>().umask, 02u);
               }});

  // --- Boundaries that are valid ---------------------------------------------
  c.push_back({"LOOKUP_255_byte_name", Frame(Op::kLookup, 0xa0, 1, Le().Name(std::string(255, 'n'))),
               kDefault, Op::kLookup, 0xa0, 1,
               [](const DecodedRequest& r) { EXPECT_EQ(r.name, std::string(255, 'n')); }});
  c.push_back({"RESEND_unique_bit", Frame(Op::kStatfs, abi::kUniqueResend | 0xa2, 1, ""), kDefault,
               Op::kStatfs, abi::kUniqueResend | 0xa2, 1, [](const DecodedRequest&) {}});
  return c;
}

class GoldenDecodeTest : public ::testing::TestWithParam<Golden> {};

TEST_P(GoldenDecodeTest, Decodes) {
  const Golden& g = GetParam();
  ExactBuffer buffer(g.frame);
  DecodedRequest r;
  DecodeError error;
  ASSERT_TRUE(DecodeRequest(buffer.span(), g.settings, &r, &error)) << error.message;
  EXPECT_EQ(r.opcode(), g.opcode);
  ASSERT_NE(r.info, nullptr);
  EXPECT_EQ(r.info->name, OpcodeName(static_cast<uint32_t>(g.opcode)));
  EXPECT_EQ(r.header.len, g.frame.size());
  EXPECT_EQ(r.header.unique, g.unique);
  EXPECT_EQ(r.header.nodeid, g.nodeid);
  EXPECT_EQ(r.header.uid, kUid);
  EXPECT_EQ(r.header.gid, kGid);
  EXPECT_EQ(r.header.pid, kPid);
  EXPECT_EQ(r.header.padding, 0);
  EXPECT_EQ(r.extensions.size(), r.header.total_extlen * 8u);
  // Every view lies within the message.
  const uint8_t* begin = buffer.span().data();
  const uint8_t* end = begin + buffer.span().size();
  auto within = [&](const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    return n == 0 || (b >= begin && b + n <= end);
  };
  EXPECT_TRUE(within(r.arg.data(), r.arg.size()));
  EXPECT_TRUE(within(r.name.data(), r.name.size()));
  EXPECT_TRUE(within(r.name2.data(), r.name2.size()));
  EXPECT_TRUE(within(r.payload.data(), r.payload.size()));
  EXPECT_TRUE(within(r.extensions.data(), r.extensions.size()));
  g.check(r);
}

INSTANTIATE_TEST_SUITE_P(AllOpcodes, GoldenDecodeTest, ::testing::ValuesIn(GoldenCases()),
                         [](const ::testing::TestParamInfo<Golden>& info) {
                           return TestName(info.param.description);
                         });

// Every opcode the table knows has at least one golden frame above.
TEST(GoldenCoverage, EveryOpcodeInTheTableHasAGoldenFrame) {
  std::set<uint32_t> covered;
  for (const Golden& g : GoldenCases()) covered.insert(static_cast<uint32_t>(g.opcode));
  int in_table = 0;
  for (uint32_t op = 0; op < 8192; ++op) {
    if (FindOpcode(op) == nullptr) continue;
    ++in_table;
    EXPECT_TRUE(covered.count(op)) << "no golden frame for " << OpcodeName(op);
  }
  EXPECT_EQ(in_table, 52);  // 51 FUSE opcodes (1..53 minus 7, 19) + CUSE_INIT
}

// The literal arrays are what the builders produce: the two ways of writing
// a frame agree, and RequestBuilder (wire_test_util's) agrees with both.
TEST(GoldenBytes, LiteralFramesMatchFieldByFieldFrames) {
  EXPECT_EQ(FromArray(kLookupBytes), Frame(Op::kLookup, 0x10, 1, Le().Name("hello")));
  EXPECT_EQ(FromArray(kForgetBytes), Frame(Op::kForget, 0x12, 0x55, Le().U64(0x0102030405060708)));
  EXPECT_EQ(FromArray(kMkdirBytes),
            Frame(Op::kMkdir, 0x14, 0x2a, Le().U32(040755).U32(022).Name("newdir")));
  abi::fuse_read_in read{};
  read.fh = 0x1122334455667788ULL;
  read.offset = 0x10000;
  read.size = 4096;
  read.read_flags = abi::kReadLockowner;
  read.lock_owner = 0xdeadbeef;
  read.flags = 0x8000;
  abi::fuse_in_header h{};
  h.len = sizeof(kReadBytes);
  h.opcode = static_cast<uint32_t>(Op::kRead);
  h.unique = 0x16;
  h.nodeid = 0x2a;
  h.uid = kUid;
  h.gid = kGid;
  h.pid = kPid;
  std::string from_structs(reinterpret_cast<const char*>(&h), sizeof(h));
  from_structs.append(reinterpret_cast<const char*>(&read), sizeof(read));
  EXPECT_EQ(FromArray(kReadBytes), from_structs);
}

// ---------------------------------------------------------------------------
// ArgSizeForMinor
// ---------------------------------------------------------------------------

uint32_t ArgSize(Op op, uint32_t minor, bool setxattr_ext = false) {
  const OpcodeInfo* info = FindOpcode(static_cast<uint32_t>(op));
  return info == nullptr ? 0xffffffff : ArgSizeForMinor(*info, op, minor, setxattr_ext);
}

TEST(ArgSizeForMinor, CompatSizes) {
  EXPECT_EQ(ArgSize(Op::kRead, 8), 24u);
  EXPECT_EQ(ArgSize(Op::kWrite, 8), 24u);
  EXPECT_EQ(ArgSize(Op::kGetattr, 8), 0u);
  EXPECT_EQ(ArgSize(Op::kRead, 9), 40u);
  EXPECT_EQ(ArgSize(Op::kWrite, 9), 40u);
  EXPECT_EQ(ArgSize(Op::kGetattr, 9), 16u);
  EXPECT_EQ(ArgSize(Op::kMknod, 11), 8u);
  EXPECT_EQ(ArgSize(Op::kMknod, 12), 16u);
  EXPECT_EQ(ArgSize(Op::kCreate, 11), 8u);
  EXPECT_EQ(ArgSize(Op::kCreate, 12), 16u);
  EXPECT_EQ(ArgSize(Op::kSetxattr, 45, false), 8u);
  EXPECT_EQ(ArgSize(Op::kSetxattr, 45, true), 16u);
  EXPECT_EQ(ArgSize(Op::kReaddir, 8), 40u);  // READDIR never had a short form here
  EXPECT_EQ(ArgSize(Op::kLookup, 8), 0u);
  EXPECT_EQ(ArgSize(Op::kInit, 8), 8u);
}

TEST(ArgSizeForMinor, CurrentSizesAreTheStructs) {
  EXPECT_EQ(ArgSize(Op::kForget, 45), sizeof(abi::fuse_forget_in));
  EXPECT_EQ(ArgSize(Op::kSetattr, 45), 88u);
  EXPECT_EQ(ArgSize(Op::kGetlk, 45), 48u);
  EXPECT_EQ(ArgSize(Op::kIoctl, 45), 32u);
  EXPECT_EQ(ArgSize(Op::kNotifyReply, 45), 40u);
  EXPECT_EQ(ArgSize(Op::kCopyFileRange64, 45), 56u);
  EXPECT_EQ(ArgSize(Op::kStatx, 45), 24u);
  EXPECT_EQ(ArgSize(Op::kRemoveMapping, 45), 4u);
}

TEST(OpcodeTable, NamesAndReplyFlags) {
  EXPECT_EQ(OpcodeName(1), "LOOKUP");
  EXPECT_EQ(OpcodeName(53), "COPY_FILE_RANGE_64");
  EXPECT_EQ(OpcodeName(4096), "CUSE_INIT");
  EXPECT_EQ(OpcodeName(9999), "OPCODE_9999");
  EXPECT_EQ(FindOpcode(0), nullptr);
  EXPECT_EQ(FindOpcode(7), nullptr);
  EXPECT_EQ(FindOpcode(19), nullptr);
  EXPECT_EQ(FindOpcode(54), nullptr);
  EXPECT_EQ(FindOpcode(static_cast<uint32_t>(Op::kInitBswapReserved)), nullptr);
  EXPECT_FALSE(FindOpcode(static_cast<uint32_t>(Op::kForget))->replies);
  EXPECT_FALSE(FindOpcode(static_cast<uint32_t>(Op::kBatchForget))->replies);
  EXPECT_FALSE(FindOpcode(static_cast<uint32_t>(Op::kNotifyReply))->replies);
  EXPECT_TRUE(FindOpcode(static_cast<uint32_t>(Op::kLookup))->replies);
}

// ---------------------------------------------------------------------------
// SupplementaryGroups on malformed extension blocks
// ---------------------------------------------------------------------------

std::vector<uint32_t> GroupsOf(absl::string_view ext) {
  std::string frame = Frame(Op::kMkdir, 2, 1, Le().U32(0755).U32(0).Name("d"), ext);
  ExactBuffer buffer(frame);
  DecodedRequest r;
  DecodeError error;
  if (!DecodeRequest(buffer.span(), DecodeSettings(), &r, &error)) {
    ADD_FAILURE() << error.message;
    return {0xdead};
  }
  return Groups(r);
}

TEST(SupplementaryGroups, MalformedExtensionsYieldNoGroups) {
  // nr_groups larger than the extension holds.
  EXPECT_THAT(GroupsOf(Le().U32(16).U32(32).U32(3).U32(1)), IsEmpty());
  // Extension size not a multiple of 8.
  EXPECT_THAT(GroupsOf(Le().U32(12).U32(32).U32(0).U32(0)), IsEmpty());
  // Extension size smaller than its header.
  EXPECT_THAT(GroupsOf(Le().U32(4).U32(32).U32(1).U32(1)), IsEmpty());
  // Extension size beyond the block.
  EXPECT_THAT(GroupsOf(Le().U32(24).U32(32).U32(1).U32(1)), IsEmpty());
  // A groups extension too short for nr_groups.
  EXPECT_THAT(GroupsOf(Le().U32(8).U32(32)), IsEmpty());
  // Only a security context.
  EXPECT_THAT(GroupsOf(SecctxExt()), IsEmpty());
  // Sanity: the well-formed one.
  EXPECT_THAT(GroupsOf(Le().U32(16).U32(32).U32(1).U32(9)), ElementsAre(9u));
}

// ---------------------------------------------------------------------------
// Malformed frames, table-driven
// ---------------------------------------------------------------------------

struct Malformed {
  std::string description;
  std::string frame;
  DecodeSettings settings;
  int error;  // 0: must decode
  bool can_reply;
};

void PrintTo(const Malformed& m, std::ostream* os) { *os << m.description; }

std::string WithLength(std::string frame, uint32_t len) {
  std::string l = Le().U32(len);
  frame.replace(0, 4, l);
  return frame;
}

std::vector<Malformed> MalformedCases() {
  std::vector<Malformed> c;
  const DecodeSettings kDefault;
  const std::string lookup = Frame(Op::kLookup, 0x10, 1, Le().Name("name"));
  const std::string forget = Frame(Op::kForget, 0x12, 5, Le().U64(1));

  // Shorter than a header: not even a unique to answer.
  c.push_back({"empty_message", "", kDefault, EIO, false});
  c.push_back({"one_byte", "\x28", kDefault, EIO, false});
  c.push_back({"header_minus_one", lookup.substr(0, 39), kDefault, EIO, false});
  // header.len disagrees with what read() returned.
  c.push_back({"len_larger_than_read", WithLength(lookup, lookup.size() + 1), kDefault, EIO, true});
  c.push_back({"len_smaller_than_read", WithLength(lookup, lookup.size() - 1), kDefault, EIO, true});
  c.push_back({"len_zero", WithLength(lookup, 0), kDefault, EIO, true});
  c.push_back({"len_max", WithLength(lookup, 0xffffffff), kDefault, EIO, true});
  c.push_back({"FORGET_len_mismatch_no_reply", WithLength(forget, forget.size() + 8), kDefault, EIO,
               false});
  c.push_back({"header_only_with_len_of_a_header_but_opcode_unknown",
               InHeader(40, 1234, 2, 1), kDefault, ENOSYS, true});
  // Unknown opcodes.
  c.push_back({"opcode_9999", Frame(static_cast<Op>(9999), 0x20, 1, ""), kDefault, ENOSYS, true});
  c.push_back({"opcode_0", Frame(static_cast<Op>(0), 0x22, 1, ""), kDefault, ENOSYS, true});
  c.push_back({"opcode_7_gap", Frame(static_cast<Op>(7), 0x24, 1, ""), kDefault, ENOSYS, true});
  c.push_back({"opcode_19_gap", Frame(static_cast<Op>(19), 0x26, 1, ""), kDefault, ENOSYS, true});
  c.push_back({"opcode_54", Frame(static_cast<Op>(54), 0x28, 1, Le().U64(0)), kDefault, ENOSYS,
               true});
  c.push_back({"opcode_byteswapped_INIT", Frame(Op::kInitBswapReserved, 0x2a, 0, Le().Zeros(64)),
               kDefault, ENOSYS, true});
  c.push_back({"unknown_opcode_with_len_mismatch",
               WithLength(Frame(static_cast<Op>(9999), 0x2c, 1, ""), 41), kDefault, EIO, true});

  // Every fixed-argument opcode with its body one byte short.
  for (uint32_t op = 0; op < 8192; ++op) {
    const OpcodeInfo* info = FindOpcode(op);
    if (info == nullptr) continue;
    uint32_t size = ArgSizeForMinor(*info, static_cast<Op>(op), abi::kKernelMinorVersion, false);
    if (size == 0) continue;
    c.push_back({absl::StrCat(info->name, "_arg_truncated_to_", size - 1),
                 Frame(static_cast<Op>(op), 0x100 + 2 * op, 1, std::string(size - 1, '\x01')),
                 kDefault, EIO, info->replies});
    // And with nothing at all.
    c.push_back({absl::StrCat(info->name, "_no_body"), Frame(static_cast<Op>(op), 0x100 + 2 * op, 1, ""),
                 kDefault, EIO, info->replies});
  }
  c.push_back({"SETXATTR_ext_arg_truncated_to_15",
               Frame(Op::kSetxattr, 0x30, 1, Le().U32(0).U32(0).U32(0).Zeros(3)), WithSetxattrExt(),
               EIO, true});
  c.push_back({"READ_minor8_arg_truncated_to_23", Frame(Op::kRead, 0x32, 1, std::string(23, '\x01')),
               AtMinor(8), EIO, true});
  c.push_back({"MKNOD_minor11_arg_truncated_to_7", Frame(Op::kMknod, 0x34, 1, std::string(7, '\x01')),
               AtMinor(11), EIO, true});
  c.push_back({"FORGET_truncated_no_reply", Frame(Op::kForget, 0x36, 5, Le().U32(1).U16(0).U8(0)),
               kDefault, EIO, false});

  // Names.
  c.push_back({"LOOKUP_name_without_NUL", Frame(Op::kLookup, 0x40, 1, "abc"), kDefault, EIO, true});
  c.push_back({"LOOKUP_no_name_at_all", Frame(Op::kLookup, 0x42, 1, ""), kDefault, EIO, true});
  c.push_back({"MKDIR_name_without_NUL", Frame(Op::kMkdir, 0x44, 1, Le().U32(0755).U32(0).Str("d")),
               kDefault, EIO, true});
  c.push_back({"SYMLINK_target_without_NUL",
               Frame(Op::kSymlink, 0x46, 1, Le().Name("l").Str("target")), kDefault, EIO, true});
  c.push_back({"SYMLINK_only_one_name", Frame(Op::kSymlink, 0x48, 1, Le().Name("l")), kDefault, EIO,
               true});
  c.push_back({"RENAME_only_one_name", Frame(Op::kRename, 0x4a, 1, Le().U64(2).Name("a")),
               kDefault, EIO, true});
  c.push_back({"RENAME2_only_one_name",
               Frame(Op::kRename2, 0x4c, 1, Le().U64(2).U32(0).U32(0).Name("a")), kDefault, EIO,
               true});
  c.push_back({"SETXATTR_name_without_NUL", Frame(Op::kSetxattr, 0x4e, 1, Le().U32(0).U32(0).Str("user")),
               kDefault, EIO, true});
  c.push_back({"LOOKUP_empty_name", Frame(Op::kLookup, 0x50, 1, Le().Name("")), kDefault, EINVAL,
               true});
  c.push_back({"LOOKUP_name_with_slash", Frame(Op::kLookup, 0x52, 1, Le().Name("a/b")), kDefault,
               EINVAL, true});
  c.push_back({"MKDIR_name_is_slash", Frame(Op::kMkdir, 0x54, 1, Le().U32(0755).U32(0).Name("/")),
               kDefault, EINVAL, true});
  c.push_back({"RENAME_second_name_empty", Frame(Op::kRename, 0x56, 1, Le().U64(2).Name("a").Name("")),
               kDefault, EINVAL, true});
  c.push_back({"RENAME_second_name_with_slash",
               Frame(Op::kRename, 0x58, 1, Le().U64(2).Name("a").Name("x/y")), kDefault, EINVAL,
               true});
  c.push_back({"SYMLINK_entry_name_with_slash",
               Frame(Op::kSymlink, 0x5a, 1, Le().Name("a/b").Name("t")), kDefault, EINVAL, true});
  c.push_back({"CREATE_empty_name",
               Frame(Op::kCreate, 0x5c, 1, Le().U32(0).U32(0).U32(0).U32(0).Name("")), kDefault,
               EINVAL, true});
  c.push_back({"LOOKUP_256_byte_name", Frame(Op::kLookup, 0x5e, 1, Le().Name(std::string(256, 'x'))),
               kDefault, ENAMETOOLONG, true});
  c.push_back({"LINK_256_byte_name",
               Frame(Op::kLink, 0x60, 1, Le().U64(3).Name(std::string(256, 'x'))), kDefault,
               ENAMETOOLONG, true});
  c.push_back({"RENAME_256_byte_second_name",
               Frame(Op::kRename, 0x62, 1, Le().U64(3).Name("a").Name(std::string(256, 'x'))),
               kDefault, ENAMETOOLONG, true});
  c.push_back({"LOOKUP_255_byte_name_ok", Frame(Op::kLookup, 0x64, 1, Le().Name(std::string(255, 'x'))),
               kDefault, 0, true});
  c.push_back({"RENAME_255_byte_names_ok",
               Frame(Op::kRename, 0x66, 1,
                     Le().U64(3).Name(std::string(255, 'a')).Name(std::string(255, 'b'))),
               kDefault, 0, true});
  // Non-entry names are not entry-checked.
  c.push_back({"SETXATTR_empty_xattr_name_ok", Frame(Op::kSetxattr, 0x68, 1, Le().U32(0).U32(0).Name("")),
               kDefault, 0, true});
  c.push_back({"GETXATTR_300_byte_xattr_name_ok",
               Frame(Op::kGetxattr, 0x6a, 1, Le().U32(0).U32(0).Name(std::string(300, 'u'))), kDefault,
               0, true});

  // Payloads past the end.
  c.push_back({"WRITE_size_exceeds_data",
               Frame(Op::kWrite, 0x70, 1, Le().U64(1).U64(0).U32(10).U32(0).U64(0).U32(0).U32(0)
                                              .Str("123456789")),
               kDefault, EIO, true});
  c.push_back({"WRITE_size_exactly_data_ok",
               Frame(Op::kWrite, 0x72, 1, Le().U64(1).U64(0).U32(9).U32(0).U64(0).U32(0).U32(0)
                                              .Str("123456789")),
               kDefault, 0, true});
  c.push_back({"WRITE_size_huge",
               Frame(Op::kWrite, 0x74, 1,
                     Le().U64(1).U64(0).U32(0xffffffff).U32(0).U64(0).U32(0).U32(0).Str("x")),
               kDefault, EIO, true});
  c.push_back({"SETXATTR_value_short", Frame(Op::kSetxattr, 0x76, 1, Le().U32(5).U32(0).Name("user.a").Str("abcd")),
               kDefault, EIO, true});
  c.push_back({"SETXATTR_ext_value_short",
               Frame(Op::kSetxattr, 0x78, 1, Le().U32(5).U32(0).U32(0).U32(0).Name("user.a").Str("abcd")),
               WithSetxattrExt(), EIO, true});
  // A 16-byte setxattr_in sent to a connection without SETXATTR_EXT: the
  // decoder reads the 8 extra bytes as the name, which has no NUL.
  c.push_back({"SETXATTR_ext_layout_without_ext_negotiated",
               Frame(Op::kSetxattr, 0x7a, 1, Le().U32(1).U32(0).U32(0x01010101).U32(0x01010101)),
               kDefault, EIO,
               true});
  c.push_back({"IOCTL_in_size_exceeds_data",
               Frame(Op::kIoctl, 0x7c, 1, Le().U64(0).U32(0).U32(1).U64(0).U32(8).U32(0).Str("1234567")),
               kDefault, EIO, true});
  c.push_back({"BATCH_FORGET_count_larger_than_list",
               Frame(Op::kBatchForget, 0x7e, 0, Le().U32(3).U32(0).U64(1).U64(1).U64(2).U64(1)),
               kDefault, EIO, false});
  c.push_back({"BATCH_FORGET_count_huge",
               Frame(Op::kBatchForget, 0x80, 0, Le().U32(0xffffffff).U32(0).U64(1).U64(1)), kDefault,
               EIO, false});
  c.push_back({"BATCH_FORGET_partial_entry",
               Frame(Op::kBatchForget, 0x82, 0, Le().U32(1).U32(0).U64(1).U32(1)), kDefault, EIO,
               false});

  // Zero-sized reads.
  c.push_back({"READ_size_0", Frame(Op::kRead, 0x90, 1, ReadInBody(1, 0, 0)), kDefault, EIO, true});
  c.push_back({"READDIR_size_0", Frame(Op::kReaddir, 0x92, 1, ReadInBody(1, 0, 0)), kDefault, EIO,
               true});
  c.push_back({"READDIRPLUS_size_0", Frame(Op::kReaddirplus, 0x94, 1, ReadInBody(1, 0, 0)), kDefault,
               EIO, true});
  c.push_back({"READ_minor8_size_0", Frame(Op::kRead, 0x96, 1, Le().U64(1).U64(0).U32(0).U32(0)),
               AtMinor(8), EIO, true});
  c.push_back({"READ_size_1_ok", Frame(Op::kRead, 0x98, 1, ReadInBody(1, 0, 1)), kDefault, 0, true});

  // Extensions beyond the body.
  {
    std::string f = Frame(Op::kLookup, 0xa0, 1, Le().Name("a"));
    SetExtlen(&f, 1);  // 8 bytes of extensions in a 2-byte body
    c.push_back({"total_extlen_beyond_body", f, kDefault, EIO, true});
    SetExtlen(&f, 0xffff);
    c.push_back({"total_extlen_max", f, kDefault, EIO, true});
    std::string g = Frame(Op::kForget, 0xa2, 5, Le().U64(1));
    SetExtlen(&g, 2);
    c.push_back({"FORGET_total_extlen_beyond_body_no_reply", g, kDefault, EIO, false});
    // The extension eats the name's NUL: what is left is not a name.
    std::string h = Frame(Op::kLookup, 0xa4, 1, Le().Name("abcdefg"));
    SetExtlen(&h, 1);
    c.push_back({"total_extlen_covers_the_name", h, kDefault, EIO, true});
    // The extension eats part of the fixed argument.
    std::string k = Frame(Op::kGetattr, 0xa6, 1, Le().U32(0).U32(0).U64(0));
    SetExtlen(&k, 1);
    c.push_back({"total_extlen_covers_the_arg", k, kDefault, EIO, true});
  }
  return c;
}

class MalformedDecodeTest : public ::testing::TestWithParam<Malformed> {};

TEST_P(MalformedDecodeTest, FailsWithTheRightErrno) {
  const Malformed& m = GetParam();
  ExactBuffer buffer(m.frame);
  DecodedRequest r;
  DecodeError error;
  bool ok = DecodeRequest(buffer.span(), m.settings, &r, &error);
  if (m.error == 0) {
    EXPECT_TRUE(ok) << error.message;
    return;
  }
  ASSERT_FALSE(ok);
  EXPECT_EQ(error.error, m.error) << error.message;
  EXPECT_EQ(error.can_reply, m.can_reply) << error.message;
  EXPECT_FALSE(error.message.empty());
  if (m.frame.size() >= sizeof(abi::fuse_in_header)) {
    // The header is still there to answer with.
    abi::fuse_in_header h;
    std::memcpy(&h, m.frame.data(), sizeof(h));
    EXPECT_EQ(r.header.unique, h.unique);
    EXPECT_EQ(r.header.opcode, h.opcode);
  }
}

INSTANTIATE_TEST_SUITE_P(Table, MalformedDecodeTest, ::testing::ValuesIn(MalformedCases()),
                         [](const ::testing::TestParamInfo<Malformed>& info) {
                           return TestName(info.param.description);
                         });

// A failed decode leaves no stale views from an earlier success.
TEST(DecodeRequest, FailureResetsTheOutput) {
  std::string good = Frame(Op::kLookup, 2, 1, Le().Name("x"));
  std::string bad = Frame(Op::kLookup, 4, 1, "x");
  ExactBuffer g(good), b(bad);
  DecodedRequest r;
  DecodeError error;
  ASSERT_TRUE(DecodeRequest(g.span(), DecodeSettings(), &r, &error));
  EXPECT_EQ(r.name, "x");
  ASSERT_FALSE(DecodeRequest(b.span(), DecodeSettings(), &r, &error));
  EXPECT_TRUE(r.name.empty());
  EXPECT_THAT(r.payload, IsEmpty());
  EXPECT_EQ(r.header.unique, 4u);
}

// ---------------------------------------------------------------------------
// Robustness: prefixes and random frames
// ---------------------------------------------------------------------------

// Decodes `bytes` from an exact-size heap buffer and checks the outcome is
// coherent: a full view inside the message, or a known errno.
void DecodeAndCheck(absl::string_view bytes, const DecodeSettings& settings) {
  ExactBuffer buffer(bytes);
  DecodedRequest r;
  DecodeError error;
  const uint8_t* begin = buffer.span().data();
  const uint8_t* end = begin + buffer.span().size();
  auto within = [&](const void* p, size_t n) {
    const uint8_t* q = static_cast<const uint8_t*>(p);
    return n == 0 || (q >= begin && q + n <= end);
  };
  if (DecodeRequest(buffer.span(), settings, &r, &error)) {
    ASSERT_NE(r.info, nullptr);
    ASSERT_EQ(r.header.len, bytes.size());
    ASSERT_TRUE(within(r.arg.data(), r.arg.size()));
    ASSERT_TRUE(within(r.name.data(), r.name.size()));
    ASSERT_TRUE(within(r.name2.data(), r.name2.size()));
    ASSERT_TRUE(within(r.payload.data(), r.payload.size()));
    ASSERT_TRUE(within(r.extensions.data(), r.extensions.size()));
    // Touch every byte of every view (ASan checks the reads).
    unsigned sum = 0;
    for (uint8_t v : r.arg) sum += v;
    for (char v : r.name) sum += static_cast<unsigned char>(v);
    for (char v : r.name2) sum += static_cast<unsigned char>(v);
    for (uint8_t v : r.payload) sum += v;
    for (uint8_t v : r.extensions) sum += v;
    std::vector<uint32_t> groups = SupplementaryGroups(r);
    if (!groups.empty()) {
      for (uint32_t g : groups) {
        sum += g;
      }
    }
    (void)sum;
  } else {
    ASSERT_TRUE(error.error == EIO || error.error == ENOSYS || error.error == EINVAL ||
                error.error == ENAMETOOLONG)
        << error.error << " " << error.message;
    ASSERT_FALSE(error.message.empty());
    if (bytes.size() < sizeof(abi::fuse_in_header)) {
      ASSERT_FALSE(error.can_reply);
    }
  }
}

TEST(Robustness, EveryPrefixOfEveryGoldenFrame) {
  int frames = 0;
  for (const Golden& g : GoldenCases()) {
    SCOPED_TRACE(g.description);
    for (size_t n = 0; n <= g.frame.size(); ++n) {
      std::string prefix = g.frame.substr(0, n);
      // As read: header.len no longer matches.
      DecodeAndCheck(prefix, g.settings);
      // With header.len fixed up, so the body itself is short.
      if (n >= 4) DecodeAndCheck(WithLength(prefix, static_cast<uint32_t>(n)), g.settings);
      ++frames;
    }
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_GT(frames, 3000);
}

TEST(Robustness, RandomFrames) {
  std::mt19937 rng(20240607);
  std::vector<uint32_t> opcodes;
  for (uint32_t op = 0; op < 8192; ++op) {
    if (FindOpcode(op) != nullptr) opcodes.push_back(op);
  }
  const uint32_t minors[] = {3, 8, 11, 12, 22, 45};
  int successes = 0;
  for (int i = 0; i < 5000; ++i) {
    size_t len = std::uniform_int_distribution<size_t>(0, 400)(rng);
    std::string bytes(len, '\0');
    for (char& ch : bytes) ch = static_cast<char>(rng() & 0xff);
    // Bias the header towards well-formed so deeper paths are reached.
    if (len >= 40) {
      uint32_t mode = rng() % 8;
      if (mode != 0) {
        std::string l = Le().U32(static_cast<uint32_t>(len));
        bytes.replace(0, 4, l);
      }
      if (mode >= 2) {
        std::string o = Le().U32(opcodes[rng() % opcodes.size()]);
        bytes.replace(4, 4, o);
      }
      if (mode >= 3) {
        // Small or no extensions.
        uint16_t ext = static_cast<uint16_t>(rng() % 4 == 0 ? rng() % 8 : 0);
        SetExtlen(&bytes, ext);
      }
      if (mode >= 4 && len > 48) {
        // Small sizes in the first words of the argument so payloads fit.
        for (size_t at = 40; at + 4 <= std::min<size_t>(len, 80); at += 4) {
          if (rng() % 2) bytes.replace(at, 4, Le().U32(rng() % 16).str());
        }
      }
      if (mode >= 5) {
        // Sprinkle NULs so names terminate.
        for (size_t at = 40; at < len; ++at) {
          if (rng() % 6 == 0) bytes[at] = '\0';
        }
      }
    }
    DecodeSettings settings = AtMinor(minors[rng() % 6], rng() % 2 == 0);
    SCOPED_TRACE(i);
    DecodeAndCheck(bytes, settings);
    if (::testing::Test::HasFatalFailure()) return;
    ExactBuffer buffer(bytes);
    DecodedRequest r;
    DecodeError error;
    if (DecodeRequest(buffer.span(), settings, &r, &error)) ++successes;
  }
  // The bias above must let a fair number through to the full decode.
  EXPECT_GT(successes, 200);
}

}  // namespace
}  // namespace fusekit
