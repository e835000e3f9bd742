#include "fuse/aligned_buffer.h"

#include <cstdint>
#include <cstring>

#include "gtest/gtest.h"

namespace fusekit {
namespace {

uintptr_t PageOffset(const uint8_t* p) {
  return reinterpret_cast<uintptr_t>(p) % PageSize();
}

TEST(AlignedBufferTest, TheChosenOffsetIsOnAPageBoundary) {
  for (size_t at : {size_t{0}, size_t{1}, size_t{80}, size_t{4095}, size_t{4096 + 80}}) {
    AlignedBuffer buffer(10000, at);
    ASSERT_NE(buffer.data(), nullptr);
    EXPECT_EQ(buffer.size(), 10000u);
    EXPECT_EQ(PageOffset(buffer.data() + at % 4096), 0u) << "aligned_at " << at;
    // Every byte is usable.
    std::memset(buffer.data(), 0xab, buffer.size());
    EXPECT_EQ(buffer.data()[buffer.size() - 1], 0xab);
  }
}

TEST(AlignedBufferTest, ReserveGrowsKeepingThePlacementAndReusesOtherwise) {
  AlignedBuffer buffer;
  EXPECT_EQ(buffer.data(), nullptr);
  EXPECT_EQ(buffer.size(), 0u);
  uint8_t* first = buffer.Reserve(1 << 20);
  EXPECT_EQ(PageOffset(first), 0u);
  EXPECT_EQ(buffer.size(), size_t{1} << 20);
  // Smaller or equal: the same memory, no allocation.
  EXPECT_EQ(buffer.Reserve(4096), first);
  EXPECT_EQ(buffer.Reserve(1 << 20), first);
  EXPECT_EQ(buffer.size(), size_t{1} << 20);

  AlignedBuffer request(100, 80);
  uint8_t* grown = request.Reserve(200000);
  EXPECT_EQ(request.size(), 200000u);
  EXPECT_EQ(PageOffset(grown + 80), 0u);
}

TEST(AlignedBufferTest, ZeroBytesIsStillAValidBuffer) {
  AlignedBuffer buffer(0, 0);
  EXPECT_NE(buffer.data(), nullptr);
  EXPECT_EQ(buffer.size(), 0u);
}

}  // namespace
}  // namespace fusekit
