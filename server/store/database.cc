#include "server/store/database.h"

#include <sqlite3.h>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace octet::server {
namespace {

absl::Status SqliteError(sqlite3* db, absl::string_view what) {
  const int code = sqlite3_errcode(db);
  const std::string message = absl::StrCat(what, ": ", sqlite3_errmsg(db));
  if (code == SQLITE_FULL) return absl::ResourceExhaustedError(message);
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED) return absl::UnavailableError(message);
  return absl::InternalError(message);
}

}  // namespace

Statement::~Statement() {
  if (statement_ != nullptr) sqlite3_finalize(statement_);
}

Statement::Statement(Statement&& other) noexcept : db_(other.db_), statement_(other.statement_) {
  other.statement_ = nullptr;
}

Statement& Statement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(statement_, index, value);
  return *this;
}

Statement& Statement::Bind(int index, absl::string_view text) {
  sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()),
                    SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::BindBlob(int index, absl::string_view bytes) {
  sqlite3_bind_blob(statement_, index, bytes.data(), static_cast<int>(bytes.size()),
                    SQLITE_TRANSIENT);
  return *this;
}

absl::StatusOr<bool> Statement::Step() {
  const int rc = sqlite3_step(statement_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db_, absl::StrCat("running '", sqlite3_sql(statement_), "'"));
}

absl::Status Statement::Run() {
  while (true) {
    OCTET_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return absl::OkStatus();
  }
}

int64_t Statement::ColumnInt64(int column) const { return sqlite3_column_int64(statement_, column); }

std::string Statement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(statement_, column);
  return text == nullptr ? std::string()
                         : std::string(reinterpret_cast<const char*>(text),
                                       sqlite3_column_bytes(statement_, column));
}

std::string Statement::ColumnBlob(int column) const {
  const void* blob = sqlite3_column_blob(statement_, column);
  return blob == nullptr ? std::string()
                         : std::string(static_cast<const char*>(blob),
                                       sqlite3_column_bytes(statement_, column));
}

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& path,
                                                         absl::string_view schema) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    const std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::FailedPreconditionError(absl::StrCat("cannot open database ", path, ": ", message));
  }
  std::unique_ptr<Database> database(new Database(db));
  sqlite3_busy_timeout(db, 5000);
  // WAL with synchronous=FULL: a commit that returned is on disk.
  OCTET_RETURN_IF_ERROR(database->Execute(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
  OCTET_RETURN_IF_ERROR(database->Execute(schema));
  return database;
}

Database::~Database() { sqlite3_close(db_); }

absl::StatusOr<Statement> Database::Prepare(absl::string_view sql) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &statement, nullptr) !=
      SQLITE_OK) {
    return SqliteError(db_, absl::StrCat("preparing '", sql, "'"));
  }
  return Statement(db_, statement);
}

absl::Status Database::Execute(absl::string_view sql) {
  char* error = nullptr;
  const std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error != nullptr ? error : "unknown error";
    sqlite3_free(error);
    return absl::InternalError(absl::StrCat("executing SQL: ", message));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Database::Transaction>> Database::Begin() {
  OCTET_RETURN_IF_ERROR(Execute("BEGIN IMMEDIATE"));
  return std::unique_ptr<Transaction>(new Transaction(this));
}

Database::Transaction::~Transaction() {
  if (!done_) db_->Execute("ROLLBACK").IgnoreError();
}

absl::Status Database::Transaction::Commit() {
  OCTET_RETURN_IF_ERROR(db_->Execute("COMMIT"));
  done_ = true;
  return absl::OkStatus();
}

}  // namespace octet::server
