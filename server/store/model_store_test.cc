#include "server/store/model_store.h"

#include "engine/base/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace octet::server {
namespace {

using ::octet::testing::StatusIs;
using ::octet::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ModelStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    store_.reset();
    storage_.reset();
    storage_ = *Storage::Open(dir_.path());
    store_ = std::make_unique<ModelStore>(storage_.get());
  }

  absl::StatusOr<AddedVersion> Add(const std::string& name, const std::string& bytes,
                                   bool new_version = false) {
    auto writer = storage_->blobs().NewWriter(1 << 20);
    if (!writer.ok()) return writer.status();
    if (absl::Status s = (*writer)->Append(bytes); !s.ok()) return s;
    octet::v1::ModelVersion version;
    version.set_name(name);
    version.set_description("desc " + bytes);
    version.set_precision(octet::v1::PRECISION_FLOAT);
    version.add_inputs()->set_name("x");
    return store_->AddVersion(**writer, version, new_version);
  }

  TempDir dir_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<ModelStore> store_;
};

TEST_F(ModelStoreTest, FirstUploadIsVersionOneAndDefault) {
  OCTET_ASSERT_OK_AND_ASSIGN(AddedVersion added, Add("resnet", "bytes-1"));
  EXPECT_TRUE(added.created);
  EXPECT_EQ(added.version.version(), 1);
  EXPECT_TRUE(added.version.is_default());
  EXPECT_EQ(added.version.sha256(), Sha256Hex("bytes-1"));
  EXPECT_EQ(added.version.size_bytes(), 7);
  EXPECT_EQ(added.version.description(), "desc bytes-1");
  EXPECT_EQ(added.version.inputs(0).name(), "x");
}

TEST_F(ModelStoreTest, IdenticalBytesAreIdempotentAndNewBytesNeedNewVersion) {
  OCTET_ASSERT_OK(Add("m", "one").status());
  OCTET_ASSERT_OK_AND_ASSIGN(AddedVersion again, Add("m", "one"));
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.version.version(), 1);
  EXPECT_THAT(Add("m", "two"), StatusIs(absl::StatusCode::kAlreadyExists,
                                        HasSubstr("model 'm' already exists (versions 1)")));
  OCTET_ASSERT_OK_AND_ASSIGN(AddedVersion second, Add("m", "two", /*new_version=*/true));
  EXPECT_EQ(second.version.version(), 2);
  EXPECT_FALSE(second.version.is_default());
}

TEST_F(ModelStoreTest, EverythingSurvivesARestart) {
  OCTET_ASSERT_OK(Add("a", "one").status());
  OCTET_ASSERT_OK(Add("a", "two", true).status());
  OCTET_ASSERT_OK(store_->SetDefaultVersion("a", 2).status());
  Reopen();
  OCTET_ASSERT_OK_AND_ASSIGN(octet::v1::Model model, store_->GetModel("a"));
  EXPECT_EQ(model.default_version(), 2);
  ASSERT_EQ(model.versions_size(), 2);
  EXPECT_EQ(model.versions(1).sha256(), Sha256Hex("two"));
  EXPECT_TRUE(storage_->blobs().Contains(Sha256Hex("one")));
}

TEST_F(ModelStoreTest, SharedBlobsAreRemovedOnlyWithTheirLastVersion) {
  OCTET_ASSERT_OK(Add("a", "shared").status());
  OCTET_ASSERT_OK(Add("b", "shared").status());
  EXPECT_EQ(dir_.CountFiles("blobs"), 1);
  EXPECT_THAT(store_->Delete("a", 0), ::octet::testing::IsOkAndHolds(ElementsAre(1)));
  EXPECT_TRUE(storage_->blobs().Contains(Sha256Hex("shared")));
  OCTET_ASSERT_OK(store_->Delete("b", 0).status());
  EXPECT_EQ(dir_.CountFiles("blobs"), 0);
  EXPECT_THAT(store_->GetModel("a"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("'a'")));
}

TEST_F(ModelStoreTest, DeletingTheDefaultVersionAloneIsRefused) {
  OCTET_ASSERT_OK(Add("m", "one").status());
  OCTET_ASSERT_OK(Add("m", "two", true).status());
  EXPECT_THAT(store_->Delete("m", 1), StatusIs(absl::StatusCode::kFailedPrecondition,
                                               HasSubstr("version 1 is the default")));
  EXPECT_THAT(store_->Delete("m", 2), ::octet::testing::IsOkAndHolds(ElementsAre(2)));
  EXPECT_THAT(store_->Delete("m", 2), StatusIs(absl::StatusCode::kNotFound,
                                               HasSubstr("has no version 2 (versions: 1)")));
}

TEST_F(ModelStoreTest, VersionNumbersAreNeverReused) {
  OCTET_ASSERT_OK(Add("m", "one").status());
  OCTET_ASSERT_OK(Add("m", "two", true).status());
  OCTET_ASSERT_OK(store_->Delete("m", 2).status());
  OCTET_ASSERT_OK_AND_ASSIGN(AddedVersion third, Add("m", "three", true));
  EXPECT_EQ(third.version.version(), 3);
}

TEST_F(ModelStoreTest, ListPagesInNameOrder) {
  for (const char* name : {"c", "a", "d", "b", "e"}) OCTET_ASSERT_OK(Add(name, name).status());
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    OCTET_ASSERT_OK_AND_ASSIGN(ModelStore::Page page, store_->ListModels(2, token));
    for (const auto& m : page.models) seen.push_back(m.name());
    token = page.next_page_token;
    ++pages;
  } while (!token.empty());
  EXPECT_THAT(seen, ElementsAre("a", "b", "c", "d", "e"));
  EXPECT_EQ(pages, 3);
}

TEST_F(ModelStoreTest, NamesThatCouldEscapeTheFolderAreRefused) {
  for (const char* name : {"", "..", ".", "a/b", "../x", "a\\b", "-x", "white space"}) {
    EXPECT_THAT(Add(name, "bytes"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("name")))
        << name;
  }
  EXPECT_THAT(Add(std::string(129, 'a'), "bytes"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("longer than 128")));
  EXPECT_EQ(dir_.CountFiles("blobs"), 0);
}

}  // namespace
}  // namespace octet::server
