// The error vocabulary: kinds, the HTTP table, the SQLSTATE classifier and the driver adapters.
#include "ces/common/status.hpp"

#include <gtest/gtest.h>

#include "ces/mongo/status.hpp"
#include "ces/postgres/connection.hpp"
#include "ces/query/pool.hpp"

namespace ces::common {
namespace {

TEST(CommonStatus, OneHttpStatusPerKind) {
  EXPECT_EQ(HttpStatus(ErrorKind::kRetry), 503);
  EXPECT_EQ(HttpStatus(ErrorKind::kUnavailable), 503);
  EXPECT_EQ(HttpStatus(ErrorKind::kBadData), 400);
  EXPECT_EQ(HttpStatus(ErrorKind::kNotFound), 404);
  EXPECT_EQ(HttpStatus(ErrorKind::kInternal), 500);
  EXPECT_EQ(ToString(ErrorKind::kBadData), "bad_data");
  EXPECT_EQ(ToString(ErrorKind::kUnavailable), "unavailable");
}

TEST(CommonStatus, ErrorJsonBody) {
  EXPECT_EQ(ErrorJson(404, "no such path: /x"), "{\"code\":404,\"message\":\"no such path: /x\"}");
  EXPECT_EQ(ErrorJson(400, "bad \"x\"", "limit"), "{\"code\":400,\"message\":\"bad \\\"x\\\"\",\"parameter\":\"limit\"}");
}

TEST(CommonStatus, StatusAndResult) {
  EXPECT_TRUE(Status::Ok().ok);
  const Status s = Status::Error(ErrorKind::kNotFound, "no block 7");
  EXPECT_FALSE(s.ok);
  EXPECT_EQ(s.kind, ErrorKind::kNotFound);
  auto r = Result<int>::Ok(7);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.value, 7);
  auto f = Result<int>::Fail(s);
  EXPECT_FALSE(f.ok());
  EXPECT_EQ(f.status.message, "no block 7");
}

TEST(CommonStatus, SqlStateClasses) {
  for (const char* retry : {"", "08006", "57P01", "25006", "53300", "40001", "40P01", "55P03", "58030", "XX000"}) {
    EXPECT_EQ(ClassifySqlState(retry), ErrorKind::kRetry) << retry;
  }
  for (const char* bad : {"22P02", "22003", "22007"}) EXPECT_EQ(ClassifySqlState(bad), ErrorKind::kBadData) << bad;
  for (const char* refused : {"23505", "42601", "42P01", "25001", "55000"}) {
    EXPECT_EQ(ClassifySqlState(refused), ErrorKind::kInternal) << refused;
  }
}

TEST(CommonStatus, DriverAdapters) {
  EXPECT_TRUE(mongo::ToStatus(mongo::Status::Ok()).ok);
  EXPECT_EQ(mongo::ToStatus(mongo::Status::Error(mongo::kDuplicateKeyCode, "E11000")).kind, ErrorKind::kBadData);
  EXPECT_EQ(mongo::ToStatus(mongo::Status::Error(13053, "no server")).kind, ErrorKind::kUnavailable);

  EXPECT_TRUE(postgres::ToStatus(postgres::DbError{}).ok);
  EXPECT_EQ(postgres::ToStatus({postgres::ErrorKind::kRetry, "gone", "08006"}).kind, ErrorKind::kRetry);
  EXPECT_EQ(postgres::ToStatus({postgres::ErrorKind::kData, "bad", "23505"}).kind, ErrorKind::kBadData);

  query::QueryError q;
  EXPECT_TRUE(query::ToStatus(q).ok);
  q.failed = true;
  q.kind = ErrorKind::kBadData;
  EXPECT_EQ(query::ToStatus(q).kind, ErrorKind::kBadData);
  q.kind = ErrorKind::kInternal;
  EXPECT_EQ(query::ToStatus(q).kind, ErrorKind::kUnavailable);
  q.kind = ErrorKind::kRetry;
  EXPECT_EQ(query::ToStatus(q).kind, ErrorKind::kUnavailable);
}

}  // namespace
}  // namespace ces::common
