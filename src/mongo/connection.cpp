#include "connection.hpp"

#include <charconv>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "ces/common/log.hpp"

namespace ces::mongo::detail {
namespace {

void LogHandler(mongoc_log_level_t level, const char* domain, const char* message, void*) {
  if (level > MONGOC_LOG_LEVEL_WARNING) return;  // info, debug and trace stay quiet
  // FerretDB has no endSessions command; the driver says so when a pool closes. Harmless.
  if (message && std::strstr(message, "endSessions")) return;
  log::Warn("mongodb driver message", {{"domain", domain ? domain : ""}, {"message", message ? message : ""}});
}

void InitOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    mongoc_init();
    mongoc_log_set_handler(&LogHandler, nullptr);
    mongoc_log_trace_disable();
  });
}

// The URI without credentials, for logs.
std::string Redact(const mongoc_uri_t* uri) {
  std::string out = "mongodb://";
  const mongoc_host_list_t* hosts = mongoc_uri_get_hosts(uri);
  for (const mongoc_host_list_t* h = hosts; h; h = h->next) {
    if (h != hosts) out += ",";
    out += h->host_and_port;
  }
  if (const char* db = mongoc_uri_get_database(uri)) out += std::string("/") + db;
  return out;
}

}  // namespace

Status ToStatus(const bson_error_t& error) {
  return Status::Error(error.code != 0 ? static_cast<int>(error.code) : -1, error.message);
}

Connection::Connection(const std::string& uri_text, const std::string& write_concern,
                       std::chrono::milliseconds write_timeout, const std::string& app_name) {
  InitOnce();
  bson_error_t error;
  UriPtr uri_handle(mongoc_uri_new_with_error(uri_text.c_str(), &error));
  mongoc_uri_t* uri = uri_handle.get();
  if (!uri) throw std::invalid_argument(std::string("bad MongoDB URI: ") + error.message);
  // Fail fast instead of the driver's 30 s defaults: the callers retry with their own backoff.
  if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS)) {
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 5000);
  }
  if (!mongoc_uri_has_option(uri, MONGOC_URI_CONNECTTIMEOUTMS)) {
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, 5000);
  }
  if (!mongoc_uri_has_option(uri, MONGOC_URI_SOCKETTIMEOUTMS)) {
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, 120000);
  }
  if (!app_name.empty() && !mongoc_uri_has_option(uri, MONGOC_URI_APPNAME)) {
    mongoc_uri_set_option_as_utf8(uri, MONGOC_URI_APPNAME, app_name.c_str());
  }
  const char* db = mongoc_uri_get_database(uri);
  database_ = db && *db ? db : "casper-events";
  redacted_uri_ = Redact(uri);

  write_concern_.reset(mongoc_write_concern_new());
  if (write_concern == "majority") {
    mongoc_write_concern_set_wmajority(write_concern_.get(), static_cast<int32_t>(write_timeout.count()));
  } else {
    int w = -1;
    auto [ptr, ec] = std::from_chars(write_concern.data(), write_concern.data() + write_concern.size(), w);
    if (ec != std::errc() || ptr != write_concern.data() + write_concern.size() || w < 1) {
      throw std::invalid_argument("bad write concern '" + write_concern + "': expected majority or a number >= 1");
    }
    mongoc_write_concern_set_w(write_concern_.get(), w);
    mongoc_write_concern_set_wtimeout_int64(write_concern_.get(), write_timeout.count());
  }

  pool_.reset(mongoc_client_pool_new_with_error(uri, &error));
  if (!pool_) {
    throw std::invalid_argument(std::string("cannot create MongoDB client: ") + error.message);
  }
  mongoc_client_pool_set_error_api(pool_.get(), MONGOC_ERROR_API_VERSION_2);
  mongoc_client_pool_max_size(pool_.get(), 64);
}

Connection::~Connection() = default;

void Connection::AppendWriteConcern(bson_t* opts) const { mongoc_write_concern_append(write_concern_.get(), opts); }

Connection::Lease Connection::Acquire() const { return Lease(pool_.get(), mongoc_client_pool_pop(pool_.get())); }

bson_value_t Utf8Value(const std::string& text) {
  bson_value_t value;
  value.value_type = BSON_TYPE_UTF8;
  value.value.v_utf8.str = const_cast<char*>(text.c_str());
  value.value.v_utf8.len = static_cast<uint32_t>(text.size());
  return value;
}

BucketPtr Connection::OpenBucket(const Lease& lease, const char* name, bool for_writes, bson_error_t* error) const {
  // The bucket holds collections of its own: the database handle is not needed afterwards.
  DatabasePtr db(mongoc_client_get_database(lease.client(), database_.c_str()));
  BsonPtr opts(BCON_NEW("bucketName", BCON_UTF8(name)));
  if (for_writes) AppendWriteConcern(opts.get());
  return BucketPtr(mongoc_gridfs_bucket_new(db.get(), opts.get(), nullptr, error));
}

}  // namespace ces::mongo::detail
