#pragma once
// Private: a thread-safe libmongoc client pool with the store's write concern.

#include <mongoc/mongoc.h>

#include <chrono>
#include <memory>
#include <string>

#include "bson_util.hpp"
#include "ces/mongo/status.hpp"
#include "handles.hpp"

namespace ces::mongo::detail {

Status ToStatus(const bson_error_t& error);

// A UTF-8 BSON value viewing `text` (which must outlive it).
bson_value_t Utf8Value(const std::string& text);

class Connection {
 public:
  // Throws std::invalid_argument for a malformed URI or write concern.
  Connection(const std::string& uri, const std::string& write_concern, std::chrono::milliseconds write_timeout,
             const std::string& app_name);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const std::string& database() const { return database_; }
  const std::string& redacted_uri() const { return redacted_uri_; }
  // Appends {"writeConcern": ...} to command options.
  void AppendWriteConcern(bson_t* opts) const;

  // A client popped from the pool for the lifetime of the lease.
  class Lease {
   public:
    Lease(mongoc_client_pool_t* pool, mongoc_client_t* client) : pool_(pool), client_(client) {}
    ~Lease() {
      if (client_) mongoc_client_pool_push(pool_, client_);
    }
    Lease(Lease&& o) noexcept : pool_(o.pool_), client_(o.client_) { o.client_ = nullptr; }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    mongoc_client_t* client() const { return client_; }
    CollectionPtr Collection(const std::string& database, const std::string& name) const {
      return CollectionPtr(mongoc_client_get_collection(client_, database.c_str(), name.c_str()));
    }

   private:
    mongoc_client_pool_t* pool_;
    mongoc_client_t* client_;
  };
  Lease Acquire() const;
  // The GridFS bucket `name` of the store's database (with the store's write concern when
  // `for_writes`); null with `error` set on failure.
  BucketPtr OpenBucket(const Lease& lease, const char* name, bool for_writes, bson_error_t* error) const;

 private:
  ClientPoolPtr pool_;
  WriteConcernPtr write_concern_;
  std::string database_;
  std::string redacted_uri_;
};

}  // namespace ces::mongo::detail
