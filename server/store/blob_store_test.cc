#include "server/store/blob_store.h"

#include <filesystem>
#include <fstream>

#include "engine/base/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace octet::server {
namespace {

using ::octet::testing::StatusIs;
using ::octet::testing::TempDir;
using ::testing::HasSubstr;

TEST(BlobStoreTest, Sha256MatchesTheStandardVector) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(IsSha256Hex(Sha256Hex("")));
  EXPECT_FALSE(IsSha256Hex("../../etc/passwd"));
}

TEST(BlobStoreTest, CommittedBlobIsStoredUnderItsHash) {
  TempDir dir;
  OCTET_ASSERT_OK_AND_ASSIGN(auto store, BlobStore::Open(dir.path()));
  OCTET_ASSERT_OK_AND_ASSIGN(auto writer, store->NewWriter(1 << 20));
  OCTET_ASSERT_OK(writer->Append("ab"));
  OCTET_ASSERT_OK(writer->Append("c"));
  OCTET_ASSERT_OK_AND_ASSIGN(std::string sha, writer->Finish());
  EXPECT_EQ(sha, Sha256Hex("abc"));
  EXPECT_FALSE(store->Contains(sha));  // not visible before Commit
  OCTET_ASSERT_OK(writer->Commit());
  ASSERT_TRUE(store->Contains(sha));
  std::ifstream in(store->PathFor(sha));
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "abc");
  EXPECT_EQ(dir.CountFiles("tmp"), 0);
  EXPECT_THAT(store->List(), ::octet::testing::IsOkAndHolds(::testing::ElementsAre(sha)));
}

TEST(BlobStoreTest, AbandonedWriterLeavesNothing) {
  TempDir dir;
  OCTET_ASSERT_OK_AND_ASSIGN(auto store, BlobStore::Open(dir.path()));
  {
    OCTET_ASSERT_OK_AND_ASSIGN(auto writer, store->NewWriter(1 << 20));
    OCTET_ASSERT_OK(writer->Append("half a model"));
    EXPECT_EQ(dir.CountFiles("tmp"), 1);
  }
  EXPECT_EQ(dir.CountFiles(), 0);
}

TEST(BlobStoreTest, WriterRefusesBytesPastItsLimit) {
  TempDir dir;
  OCTET_ASSERT_OK_AND_ASSIGN(auto store, BlobStore::Open(dir.path()));
  OCTET_ASSERT_OK_AND_ASSIGN(auto writer, store->NewWriter(4));
  OCTET_ASSERT_OK(writer->Append("1234"));
  EXPECT_THAT(writer->Append("5"), StatusIs(absl::StatusCode::kResourceExhausted,
                                            HasSubstr("exceeds the limit of 4 bytes")));
  EXPECT_EQ(writer->size(), 4);
}

TEST(BlobStoreTest, IdenticalBytesShareOneFile) {
  TempDir dir;
  OCTET_ASSERT_OK_AND_ASSIGN(auto store, BlobStore::Open(dir.path()));
  for (int i = 0; i < 2; ++i) {
    OCTET_ASSERT_OK_AND_ASSIGN(auto writer, store->NewWriter(100));
    OCTET_ASSERT_OK(writer->Append("same"));
    OCTET_ASSERT_OK(writer->Finish().status());
    OCTET_ASSERT_OK(writer->Commit());
  }
  EXPECT_EQ(dir.CountFiles(), 1);
}

TEST(BlobStoreTest, OpenRemovesTemporaryFilesACrashLeft) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/tmp");
  std::ofstream(dir.path() + "/tmp/upload-123") << "partial";
  OCTET_ASSERT_OK_AND_ASSIGN(auto store, BlobStore::Open(dir.path()));
  EXPECT_EQ(dir.CountFiles("tmp"), 0);
}

}  // namespace
}  // namespace octet::server
