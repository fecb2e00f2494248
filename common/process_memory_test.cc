#include "common/process_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace common {
namespace {

using ::common_testing::StatusIs;

TEST(ProcessMemoryTest, ParsesTheStatusFields) {
  const std::string text =
      "Name:\tserver\nVmPeak:\t  900 kB\nVmRSS:\t  700 kB\n"
      "RssAnon:\t  400 kB\nRssFile:\t  250 kB\nRssShmem:\t  50 kB\n";
  auto m = ParseProcessStatus(text, "status");
  ASSERT_OK(m);
  EXPECT_EQ(m->rss_bytes, 700 * 1024);
  EXPECT_EQ(m->anon_bytes, 400 * 1024);
  EXPECT_EQ(m->file_bytes, 250 * 1024);
  EXPECT_EQ(m->shmem_bytes, 50 * 1024);
  EXPECT_THAT(ParseProcessStatus("Name:\tx\n", "st"),
              StatusIs(absl::StatusCode::kUnavailable,
                       ::testing::HasSubstr("st has no VmRSS")));
}

// Touching fresh heap memory raises the anonymous share; touching a mapped
// file raises the file-backed share.
TEST(ProcessMemoryTest, SeesHeapAndMappedFilePages) {
  constexpr size_t kBytes = 64 << 20;
  auto before = ReadProcessMemory();
  ASSERT_OK(before);
  EXPECT_GT(before->rss_bytes, 0);
  EXPECT_EQ(before->rss_bytes,
            before->anon_bytes + before->file_bytes + before->shmem_bytes);
  std::vector<char> heap(kBytes, 1);
  auto with_heap = ReadProcessMemory();
  ASSERT_OK(with_heap);
  EXPECT_GE(with_heap->anon_bytes - before->anon_bytes,
            static_cast<int64_t>(kBytes) * 9 / 10);

  const std::string path = ::testing::TempDir() + "/mapped.bin";
  ASSERT_OK(WriteFileAtomically(path, std::string(kBytes, 'x')));
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  void* map = ::mmap(nullptr, kBytes, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  ASSERT_NE(map, MAP_FAILED);
  auto mapped_untouched = ReadProcessMemory();
  ASSERT_OK(mapped_untouched);
  int64_t sum = 0;
  const char* bytes = static_cast<const char*>(map);
  for (size_t i = 0; i < kBytes; i += 4096) sum += bytes[i];
  EXPECT_EQ(sum, static_cast<int64_t>(kBytes / 4096) * 'x');
  auto mapped_touched = ReadProcessMemory();
  ASSERT_OK(mapped_touched);
  EXPECT_GE(mapped_touched->file_bytes - mapped_untouched->file_bytes,
            static_cast<int64_t>(kBytes) * 9 / 10);
  ::munmap(map, kBytes);
  heap[kBytes / 2] = 2;  // keeps the heap buffer alive until here
}

}  // namespace
}  // namespace common
