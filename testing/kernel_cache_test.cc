// The cache model on its own: dentries, timeouts, holds and what gets
// forgotten when.
#include "testing/kernel_cache.h"

#include <sys/stat.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fusekit {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

abi::fuse_entry_out Entry(uint64_t nodeid, uint32_t mode, uint64_t entry_valid = 10) {
  abi::fuse_entry_out e{};
  e.nodeid = nodeid;
  e.entry_valid = entry_valid;
  e.attr_valid = entry_valid;
  e.attr.ino = nodeid;
  e.attr.mode = mode;
  return e;
}

std::vector<std::pair<uint64_t, uint64_t>> Forgets(const std::vector<abi::fuse_forget_one>& f) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const abi::fuse_forget_one& one : f) out.emplace_back(one.nodeid, one.nlookup);
  return out;
}

class KernelCacheTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  KernelCache cache_{&clock_};
};

TEST_F(KernelCacheTest, EntriesCountAndExpire) {
  cache_.AddEntry(1, "a", Entry(2, S_IFREG | 0644));
  cache_.AddEntry(1, "a", Entry(2, S_IFREG | 0644));
  EXPECT_THAT(cache_.LookupCounts(), ElementsAre(Pair(2, 2)));
  const KernelCache::Dentry* d = cache_.FindDentry(1, "a");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(cache_.Valid(*d));
  EXPECT_TRUE(cache_.AttrValid(*cache_.FindNode(2)));
  clock_.Advance(absl::Seconds(10));
  EXPECT_FALSE(cache_.Valid(*cache_.FindDentry(1, "a")));  // expired, still there
  EXPECT_FALSE(cache_.AttrValid(*cache_.FindNode(2)));
  EXPECT_THAT(cache_.TakeUnreferenced(), IsEmpty());
}

TEST_F(KernelCacheTest, NegativeEntries) {
  cache_.AddNegative(1, "x", absl::Seconds(5));
  const KernelCache::Dentry* d = cache_.FindDentry(1, "x");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->nodeid, 0u);
  cache_.AddNegative(1, "y", absl::ZeroDuration());  // not cached at all
  EXPECT_EQ(cache_.FindDentry(1, "y"), nullptr);
  cache_.AddEntry(1, "x", Entry(3, S_IFREG));
  EXPECT_EQ(cache_.FindDentry(1, "x")->nodeid, 3u);
}

TEST_F(KernelCacheTest, DroppingADirectoryDropsItsSubtree) {
  cache_.AddEntry(1, "d", Entry(2, S_IFDIR | 0755));
  cache_.AddEntry(2, "e", Entry(3, S_IFDIR | 0755));
  cache_.AddEntry(3, "f", Entry(4, S_IFREG | 0644));
  cache_.AddNegative(3, "g", absl::Seconds(5));
  cache_.RemoveDentry(1, "d");
  EXPECT_EQ(cache_.dentry_count(), 0u);
  EXPECT_THAT(Forgets(cache_.TakeUnreferenced()),
              ElementsAre(Pair(2, 1), Pair(3, 1), Pair(4, 1)));
  EXPECT_EQ(cache_.node_count(), 0u);
}

TEST_F(KernelCacheTest, HeldNodesAndTheirDirectoriesStay) {
  cache_.AddEntry(1, "d", Entry(2, S_IFDIR | 0755));
  cache_.AddEntry(2, "f", Entry(3, S_IFREG | 0644));
  cache_.AddEntry(1, "other", Entry(4, S_IFREG | 0644));
  cache_.Ref(3);  // an open file
  cache_.DropAll();
  EXPECT_THAT(Forgets(cache_.TakeUnreferenced()), ElementsAre(Pair(4, 1)));
  EXPECT_NE(cache_.FindDentry(2, "f"), nullptr);  // still reachable
  cache_.DropNode(3);                              // held: nothing happens
  EXPECT_THAT(cache_.TakeUnreferenced(), IsEmpty());
  cache_.Unref(3);
  cache_.DropAll();
  EXPECT_THAT(Forgets(cache_.TakeUnreferenced()), ElementsAre(Pair(2, 1), Pair(3, 1)));
}

TEST_F(KernelCacheTest, RenameMovesAndReplaces) {
  cache_.AddEntry(1, "a", Entry(2, S_IFREG));
  cache_.AddEntry(1, "b", Entry(3, S_IFREG));
  cache_.MoveDentry(1, "a", 1, "b");
  EXPECT_EQ(cache_.FindDentry(1, "a"), nullptr);
  EXPECT_EQ(cache_.FindDentry(1, "b")->nodeid, 2u);
  EXPECT_THAT(Forgets(cache_.TakeUnreferenced()), ElementsAre(Pair(3, 1)));
  cache_.AddEntry(1, "c", Entry(5, S_IFREG));
  cache_.ExchangeDentries(1, "b", 1, "c");
  EXPECT_EQ(cache_.FindDentry(1, "b")->nodeid, 5u);
  EXPECT_EQ(cache_.FindNode(2)->name, "c");
}

TEST_F(KernelCacheTest, ShrinkEvictsLeastRecentlyUsedLeaves) {
  cache_.AddEntry(1, "d", Entry(2, S_IFDIR | 0755));
  cache_.AddEntry(2, "old", Entry(3, S_IFREG));
  cache_.AddEntry(1, "new", Entry(4, S_IFREG));
  cache_.Touch(2, "old");  // now the most recent
  cache_.Shrink(2);
  EXPECT_THAT(Forgets(cache_.TakeUnreferenced()), ElementsAre(Pair(4, 1)));
  cache_.Shrink(0);  // leaves first, then their directory
  EXPECT_THAT(Forgets(cache_.TakeUnreferenced()), ElementsAre(Pair(2, 1), Pair(3, 1)));
}

}  // namespace
}  // namespace fusekit
