#pragma once
// Private: RAII handles over libmongoc (C API), as src/kafka has for librdkafka and src/query for
// libpq. Owned bson_t documents are BsonPtr (bson_util.hpp).

#include <mongoc/mongoc.h>

#include <memory>

namespace ces::mongo::detail {

struct UriDeleter {
  void operator()(mongoc_uri_t* u) const { mongoc_uri_destroy(u); }
};
using UriPtr = std::unique_ptr<mongoc_uri_t, UriDeleter>;

struct WriteConcernDeleter {
  void operator()(mongoc_write_concern_t* w) const { mongoc_write_concern_destroy(w); }
};
using WriteConcernPtr = std::unique_ptr<mongoc_write_concern_t, WriteConcernDeleter>;

struct ClientPoolDeleter {
  void operator()(mongoc_client_pool_t* p) const { mongoc_client_pool_destroy(p); }
};
using ClientPoolPtr = std::unique_ptr<mongoc_client_pool_t, ClientPoolDeleter>;

struct DatabaseDeleter {
  void operator()(mongoc_database_t* d) const { mongoc_database_destroy(d); }
};
using DatabasePtr = std::unique_ptr<mongoc_database_t, DatabaseDeleter>;

struct CollectionDeleter {
  void operator()(mongoc_collection_t* c) const { mongoc_collection_destroy(c); }
};
using CollectionPtr = std::unique_ptr<mongoc_collection_t, CollectionDeleter>;

struct CursorDeleter {
  void operator()(mongoc_cursor_t* c) const { mongoc_cursor_destroy(c); }
};
using CursorPtr = std::unique_ptr<mongoc_cursor_t, CursorDeleter>;

struct StreamDeleter {
  void operator()(mongoc_stream_t* s) const { mongoc_stream_destroy(s); }
};
using StreamPtr = std::unique_ptr<mongoc_stream_t, StreamDeleter>;

struct BucketDeleter {
  void operator()(mongoc_gridfs_bucket_t* b) const { mongoc_gridfs_bucket_destroy(b); }
};
using BucketPtr = std::unique_ptr<mongoc_gridfs_bucket_t, BucketDeleter>;

}  // namespace ces::mongo::detail
