#ifndef OCTET_SERVER_STORE_DATABASE_H_
#define OCTET_SERVER_STORE_DATABASE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct sqlite3;
struct sqlite3_stmt;

namespace octet::server {

// A prepared SQLite statement. Bind parameters are 1-based, columns 0-based.
class Statement {
 public:
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, absl::string_view text);
  Statement& BindBlob(int index, absl::string_view bytes);

  // True when a row is ready to read, false when the statement is done.
  absl::StatusOr<bool> Step();
  // Steps to completion, for statements that return no rows.
  absl::Status Run();

  int64_t ColumnInt64(int column) const;
  std::string ColumnText(int column) const;
  std::string ColumnBlob(int column) const;

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* statement) : db_(db), statement_(statement) {}

  sqlite3* db_;
  sqlite3_stmt* statement_;
};

// One SQLite connection in WAL mode with foreign keys on. Not thread-safe: its owner serialises
// access (the stores hold a mutex around each use).
class Database {
 public:
  // Opens or creates the database file and applies `schema` (idempotent DDL).
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& path,
                                                        absl::string_view schema);
  ~Database();

  absl::StatusOr<Statement> Prepare(absl::string_view sql);
  absl::Status Execute(absl::string_view sql);

  // Runs BEGIN IMMEDIATE; the Transaction rolls back on destruction unless committed.
  class Transaction {
   public:
    ~Transaction();
    absl::Status Commit();

   private:
    friend class Database;
    explicit Transaction(Database* db) : db_(db) {}
    Database* db_;
    bool done_ = false;
  };
  absl::StatusOr<std::unique_ptr<Transaction>> Begin();

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

}  // namespace octet::server

#endif  // OCTET_SERVER_STORE_DATABASE_H_
