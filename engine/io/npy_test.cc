#include "engine/io/npy.h"

#include <string>

#include "engine/base/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet {
namespace {

using ::octet::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A version 1.0 file with the given header dict and data bytes, as numpy lays it out.
std::string NpyFile(const std::string& dict, const std::string& data) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64 != 0) header.push_back(' ');
  header.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  return out + header + data;
}

std::string Bytes(const void* p, size_t n) { return std::string(static_cast<const char*>(p), n); }

TEST(NpyTest, ParsesWhatNumpyWrites) {
  const float values[6] = {1.5f, -2, 3, 4, 5, 6};
  OCTET_ASSERT_OK_AND_ASSIGN(
      Tensor t, ParseNpy(NpyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                                 Bytes(values, sizeof(values)))));
  EXPECT_EQ(t.type(), DataType::kFloat32);
  EXPECT_THAT(t.shape(), ElementsAre(2, 3));
  EXPECT_THAT(t.values<float>(), ElementsAre(1.5f, -2, 3, 4, 5, 6));
}

TEST(NpyTest, ParsesKeysInAnyOrderAndScalarsAndOneDimTuples) {
  const int64_t scalar = 42;
  OCTET_ASSERT_OK_AND_ASSIGN(
      Tensor s, ParseNpy(NpyFile("{'shape': (), 'fortran_order': False, 'descr': '<i8'}",
                                 Bytes(&scalar, 8))));
  EXPECT_EQ(s.rank(), 0);
  EXPECT_EQ(s.data<int64_t>()[0], 42);
  const uint8_t bytes[3] = {0, 128, 255};
  OCTET_ASSERT_OK_AND_ASSIGN(
      Tensor v, ParseNpy(NpyFile("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }",
                                 Bytes(bytes, 3))));
  EXPECT_THAT(v.values<uint8_t>(), ElementsAre(0, 128, 255));
}

TEST(NpyTest, RoundTripsEveryClientType) {
  for (const Tensor& t :
       {Tensor::FromVector<float>({2, 2}, {1, 2, 3, 4}), Tensor::FromVector<int64_t>({3}, {-1, 0, 1}),
        Tensor::FromVector<uint8_t>({1, 2}, {9, 200}), Tensor::FromVector<int8_t>({2}, {-128, 127})}) {
    const std::string file = SerializeNpy(t);
    // numpy aligns the data to 64 bytes.
    EXPECT_EQ((file.size() - t.byte_size()) % 64, 0u);
    OCTET_ASSERT_OK_AND_ASSIGN(Tensor back, ParseNpy(file));
    EXPECT_EQ(back.type(), t.type());
    EXPECT_EQ(back.shape(), t.shape());
    EXPECT_EQ(Bytes(back.raw_data(), back.byte_size()), Bytes(t.raw_data(), t.byte_size()));
  }
}

TEST(NpyTest, RefusesMalformedFilesWithAReason) {
  const float one = 1;
  const std::string ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  EXPECT_THAT(ParseNpy("not a numpy file"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("magic")));
  EXPECT_THAT(ParseNpy(NpyFile(ok_dict, Bytes(&one, 4))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs 8 data bytes")));
  EXPECT_THAT(ParseNpy(NpyFile(ok_dict, "").substr(0, 20)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("truncated header")));
  EXPECT_THAT(ParseNpy(NpyFile("{'descr': '<f4', 'shape': (2,), }", "")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("lacks")));
  EXPECT_THAT(ParseNpy(NpyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", "")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad dimension '-2'")));
  EXPECT_THAT(
      ParseNpy(NpyFile("{'descr': '<f4', 'fortran_order': False, 'shape': "
                       "(4611686018427387904, 4), }",
                       "")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too")));
  EXPECT_THAT(ParseNpy(NpyFile("['descr']", "")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a dict")));
}

TEST(NpyTest, RefusesLayoutsAndTypesItCannotHold) {
  EXPECT_THAT(ParseNpy(NpyFile("{'descr': '>f4', 'fortran_order': False, 'shape': (0,), }", "")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unsupported .npy dtype '>f4'")));
  EXPECT_THAT(ParseNpy(NpyFile("{'descr': '<U3', 'fortran_order': False, 'shape': (0,), }", "")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'<U3'")));
  EXPECT_THAT(ParseNpy(NpyFile("{'descr': '<f4', 'fortran_order': True, 'shape': (0,), }", "")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Fortran order")));
  EXPECT_THAT(
      ParseNpy(NpyFile("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (0,), }", "")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("structured")));
}

}  // namespace
}  // namespace octet
