// Where scripts/fixtures/fetch_corpus.sh put the corpus of real exports the corpus tests use.
#ifndef OCTET_TESTS_TESTING_CORPUS_H_
#define OCTET_TESTS_TESTING_CORPUS_H_

#include <cstdlib>
#include <string>

namespace octet::testing {

// $OCTET_CORPUS_DIR, else ~/.cache/octet/corpus (the script's default).
inline std::string CorpusDir() {
  if (const char* dir = std::getenv("OCTET_CORPUS_DIR"); dir != nullptr) return dir;
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : "") + "/.cache/octet/corpus";
}

}  // namespace octet::testing

#endif  // OCTET_TESTS_TESTING_CORPUS_H_
