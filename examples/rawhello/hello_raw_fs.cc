#include "examples/rawhello/hello_raw_fs.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <ctime>
#include <algorithm>

namespace fusekit::examples {
namespace {

bool AttrFor(uint64_t nodeid, abi::fuse_attr* attr) {
  *attr = {};
  attr->ino = nodeid;
  if (nodeid == abi::kRootId) {
    attr->mode = S_IFDIR | 0755;
    attr->nlink = 2;
  } else if (nodeid == HelloRawFs::kFileId) {
    attr->mode = S_IFREG | 0444;
    attr->nlink = 1;
    attr->size = HelloRawFs::kContent.size();
    attr->blocks = 1;
  } else {
    return false;
  }
  attr->blksize = 4096;
  // The filesystem was "made" when the process started.
  static const uint64_t kBirth = static_cast<uint64_t>(time(nullptr));
  attr->atime = attr->mtime = attr->ctime = kBirth;
  return true;
}

}  // namespace

void HelloRawFs::Lookup(ReplyEntry reply, uint64_t parent, absl::string_view name) {
  if (parent != abi::kRootId || name != kFileName) {
    reply.Error(Errno(ENOENT));
    return;
  }
  EntryParam entry;
  entry.nodeid = kFileId;
  entry.entry_timeout = entry_timeout_;
  entry.attr_timeout = attr_timeout_;
  AttrFor(kFileId, &entry.attr);
  reply.Entry(entry);
}

void HelloRawFs::Getattr(ReplyAttr reply, uint64_t nodeid, const abi::fuse_getattr_in&) {
  abi::fuse_attr attr;
  if (!AttrFor(nodeid, &attr)) {
    reply.Error(Errno(ENOENT));
    return;
  }
  reply.Attr(attr, attr_timeout_);
}

void HelloRawFs::Opendir(ReplyOpen reply, uint64_t nodeid, const abi::fuse_open_in&) {
  if (nodeid != abi::kRootId) {
    reply.Error(Errno(ENOTDIR));
    return;
  }
  reply.Open({});
}

void HelloRawFs::Readdir(ReplyDirectory reply, uint64_t nodeid, const abi::fuse_read_in& in) {
  if (nodeid != abi::kRootId) {
    reply.Error(Errno(ENOTDIR));
    return;
  }
  // Offsets: entry i is followed by offset i + 1, so a listing resumes at
  // any point the kernel stopped.
  struct Row {
    absl::string_view name;
    uint64_t ino;
    uint32_t type;
  };
  const Row rows[] = {{".", abi::kRootId, S_IFDIR >> 12},
                      {"..", abi::kRootId, S_IFDIR >> 12},
                      {kFileName, kFileId, S_IFREG >> 12}};
  for (uint64_t i = in.offset; i < std::size(rows); ++i) {
    if (!reply.Add(rows[i].name, rows[i].ino, rows[i].type, i + 1)) break;
  }
  reply.Send();
}

void HelloRawFs::Releasedir(ReplyEmpty reply, uint64_t, const abi::fuse_release_in&) {
  reply.Ok();
}

void HelloRawFs::Open(ReplyOpen reply, uint64_t nodeid, const abi::fuse_open_in& in) {
  if (nodeid != kFileId) {
    reply.Error(Errno(nodeid == abi::kRootId ? EISDIR : ENOENT));
    return;
  }
  if ((in.flags & O_ACCMODE) != O_RDONLY) {
    reply.Error(Errno(EACCES));
    return;
  }
  reply.Open({.fh = 0, .open_flags = abi::kOpenKeepCache});
}

void HelloRawFs::Read(ReplyData reply, uint64_t nodeid, const abi::fuse_read_in& in) {
  if (nodeid != kFileId) {
    reply.Error(Errno(EISDIR));
    return;
  }
  absl::string_view data = kContent;
  if (in.offset >= data.size()) {
    reply.Data(absl::string_view());
    return;
  }
  reply.Data(data.substr(in.offset, in.size));
}

void HelloRawFs::Release(ReplyEmpty reply, uint64_t, const abi::fuse_release_in&) {
  reply.Ok();
}

void HelloRawFs::Statfs(ReplyStatfs reply, uint64_t) {
  abi::fuse_kstatfs st{};
  st.bsize = 4096;
  st.frsize = 4096;
  st.namelen = 255;
  st.files = 2;
  reply.Statfs(st);
}

}  // namespace fusekit::examples
