#include "engine/io/npz.h"

#include <fstream>
#include <string>

#include "engine/base/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace octet {
namespace {

using ::octet::testing::StatusIs;
using ::testing::_;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kNoLimit = int64_t{1} << 40;

void ExpectNumpyFixture(const std::vector<NamedTensor>& arrays) {
  ASSERT_EQ(arrays.size(), 2u);
  EXPECT_EQ(arrays[0].first, "input");
  EXPECT_THAT(arrays[0].second.shape(), ElementsAre(2, 1, 3, 3));
  ASSERT_EQ(arrays[0].second.type(), DataType::kFloat32);
  // np.arange(18) / 4 - 1
  EXPECT_EQ(arrays[0].second.data<float>()[0], -1.0f);
  EXPECT_EQ(arrays[0].second.data<float>()[17], 17 / 4.0f - 1);
  EXPECT_EQ(arrays[1].first, "labels");
  EXPECT_THAT(arrays[1].second.values<int64_t>(), ElementsAre(3, 7));
}

TEST(NpzTest, ReadsWhatNumpySavezWrites) {
  OCTET_ASSERT_OK_AND_ASSIGN(auto arrays,
                             ReadNpzFile(OCTET_TEST_DATA_DIR "/npz/plain.npz", kNoLimit));
  ExpectNumpyFixture(arrays);
}

TEST(NpzTest, ReadsWhatNumpySavezCompressedWrites) {
  OCTET_ASSERT_OK_AND_ASSIGN(auto arrays,
                             ReadNpzFile(OCTET_TEST_DATA_DIR "/npz/compressed.npz", kNoLimit));
  ExpectNumpyFixture(arrays);
}

TEST(NpzTest, WritesWhatItReads) {
  octet::testing::TempDir dir;
  const std::string path = dir.path() + "/out.npz";
  std::vector<NamedTensor> arrays;
  arrays.emplace_back("x", Tensor::FromVector<float>({2, 2}, {1, 2, 3, 4}));
  arrays.emplace_back("labels", Tensor::FromVector<int64_t>({2}, {0, 9}));
  ASSERT_TRUE(WriteNpzFile(path, arrays).ok());
  OCTET_ASSERT_OK_AND_ASSIGN(auto back, ReadNpzFile(path, kNoLimit));
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].first, "x");
  EXPECT_THAT(back[0].second.values<float>(), ElementsAre(1, 2, 3, 4));
  EXPECT_EQ(back[1].first, "labels");
  EXPECT_THAT(back[1].second.values<int64_t>(), ElementsAre(0, 9));
}

TEST(NpzTest, RefusesArraysThatUnpackPastTheLimit) {
  // 18 floats + header > 100 bytes: refused before the member is inflated.
  EXPECT_THAT(ReadNpzFile(OCTET_TEST_DATA_DIR "/npz/compressed.npz", 100),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("'input'")));
}

TEST(NpzTest, RefusesFilesThatAreNotArchives) {
  octet::testing::TempDir dir;
  const std::string path = dir.path() + "/bad.npz";
  std::ofstream(path) << "this is not a zip file at all";
  EXPECT_THAT(ReadNpzFile(path, kNoLimit),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("zip")));
}

TEST(NpzTest, RefusesTruncatedArchives) {
  octet::testing::TempDir dir;
  std::ifstream in(OCTET_TEST_DATA_DIR "/npz/compressed.npz", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string path = dir.path() + "/cut.npz";
  std::ofstream(path, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  EXPECT_THAT(ReadNpzFile(path, kNoLimit), StatusIs(absl::StatusCode::kInvalidArgument, _));
}

TEST(NpzTest, RefusesMembersThatAreNotNpy) {
  octet::testing::TempDir dir;
  const std::string path = dir.path() + "/other.npz";
  std::vector<NamedTensor> arrays;
  arrays.emplace_back("x", Tensor::FromVector<float>({1}, {1}));
  ASSERT_TRUE(WriteNpzFile(path, arrays).ok());
  // Corrupt the member's .npy magic inside the stored (uncompressed) archive; the CRC then fails
  // or the .npy parser refuses it, either way with the array's name.
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  const size_t magic = bytes.find("NUMPY");
  ASSERT_NE(magic, std::string::npos);
  bytes[magic] = 'X';
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_THAT(ReadNpzFile(path, kNoLimit),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'x'")));
}

}  // namespace
}  // namespace octet
