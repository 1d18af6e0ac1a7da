#ifndef OCTET_TESTS_TESTING_TEMP_DIR_H_
#define OCTET_TESTS_TESTING_TEMP_DIR_H_

#include <cstdlib>
#include <filesystem>
#include <string>

namespace octet::testing {

// A fresh folder under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/octet-test-XXXXXX";
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

  // Regular files below the folder, counted recursively.
  int CountFiles(const std::string& sub = "") const {
    int count = 0;
    std::error_code ignored;
    for (const auto& entry :
         std::filesystem::recursive_directory_iterator(path_ + "/" + sub, ignored)) {
      if (entry.is_regular_file()) ++count;
    }
    return count;
  }

 private:
  std::string path_;
};

}  // namespace octet::testing

#endif  // OCTET_TESTS_TESTING_TEMP_DIR_H_
