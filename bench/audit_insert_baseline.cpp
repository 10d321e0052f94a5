// Bare bulk-insert baseline for the audit store: how fast the server takes documents through the
// same client library (libmongoc) with nothing else in the way (no Kafka, no replay log).
//
//   audit_insert_baseline URI STREAM MODE [BATCH]
//
// STREAM is an SSE file (`casper-event-store generate` output), or a directory whose *.stream files are
// read in name order (the 1.x output: deploys, main, sigs); each event with an id becomes one
// document, inserted in unordered insert_many batches of BATCH (default 5000) with write concern
// majority, into a fresh collection. MODE:
//   raw   {_id, source, stream, event_id, type, payload: BinData}
//   full  the documents audit-consume writes to `events`: the same plus received_at, kafka position,
//         sha256-sized field, size, and the queryable form `data` (ces::mongo::ConvertJson, nested
//         arrays as documents on FerretDB)
// Prints one line: mode, documents, seconds, documents/s, payload MB/s.
//
// CMake target `audit_insert_baseline` (bench/CMakeLists.txt); bench/audit_consume_bench.sh runs it.
#include <mongoc/mongoc.h>

#include <chrono>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bson_util.hpp"
#include "ces/mongo/json_bson.hpp"

namespace {

struct Event {
  std::string stream;  // "events" (2.x), or the 1.x file's stem: main, deploys, sigs
  std::string id;
  std::string data;
};

void ReadStream(const std::string& path, const std::string& stream, std::vector<Event>& out) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  Event current{stream, {}, {}};
  while (std::getline(in, line)) {
    if (line.rfind("data:", 0) == 0) {
      current.data = line.substr(5);
    } else if (line.rfind("id:", 0) == 0) {
      current.id = line.substr(3);
    } else if (line.empty()) {
      if (!current.id.empty() && !current.data.empty()) out.push_back(current);
      current = Event{stream, {}, {}};
    }
  }
}

std::vector<Event> ReadStreams(const std::filesystem::path& path) {
  std::vector<Event> out;
  if (!std::filesystem::is_directory(path)) {
    ReadStream(path.string(), "events", out);
    return out;
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(path)) {
    if (entry.path().extension() == ".stream") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) ReadStream(file.string(), file.stem().string(), out);
  return out;
}

std::string TypeOf(const std::string& data) {
  if (data.size() > 2 && data[0] == '{' && data[1] == '"') return data.substr(2, data.find('"', 2) - 2);
  return "Shutdown";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s URI STREAM raw|full [BATCH]\n", argv[0]);
    return 2;
  }
  const std::string uri = argv[1];
  const std::string mode = argv[3];
  const std::size_t batch = argc > 4 ? std::stoul(argv[4]) : 5000;
  const auto events = ReadStreams(argv[2]);
  mongoc_init();
  mongoc_log_set_handler([](mongoc_log_level_t, const char*, const char*, void*) {}, nullptr);  // FerretDB: no endSessions
  mongoc_client_t* client = mongoc_client_new(uri.c_str());
  if (!client) {
    std::fprintf(stderr, "bad URI\n");
    return 2;
  }
  mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
  const char* db_name = mongoc_uri_get_database(mongoc_client_get_uri(client));
  bool ferretdb = false;
  {
    bson_t* cmd = BCON_NEW("buildInfo", BCON_INT32(1));
    bson_t reply;
    bson_error_t error;
    if (mongoc_client_command_simple(client, "admin", cmd, nullptr, &reply, &error)) {
      bson_iter_t it;
      ferretdb = bson_iter_init_find(&it, &reply, "ferretdbVersion");
    }
    bson_destroy(&reply);
    bson_destroy(cmd);
  }
  mongoc_collection_t* coll = mongoc_client_get_collection(client, db_name ? db_name : "bench", ("baseline_" + mode).c_str());
  mongoc_collection_drop(coll, nullptr);
  mongoc_write_concern_t* wc = mongoc_write_concern_new();
  mongoc_write_concern_set_wmajority(wc, 60000);
  bson_t* opts = BCON_NEW("ordered", BCON_BOOL(false));
  mongoc_write_concern_append(wc, opts);
  ces::mongo::JsonToBsonOptions convert;
  convert.nested_arrays = ferretdb ? ces::mongo::NestedArrays::kAsDocuments : ces::mongo::NestedArrays::kKeep;

  std::size_t bytes = 0;
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t begin = 0; begin < events.size(); begin += batch) {
    std::vector<bson_t*> docs;
    for (std::size_t i = begin; i < std::min(events.size(), begin + batch); ++i) {
      const Event& e = events[i];
      bson_t* d = bson_new();
      const std::string id = "http://127.0.0.1:18101 " + e.stream + " " + e.id;
      BSON_APPEND_UTF8(d, "_id", id.c_str());
      BSON_APPEND_UTF8(d, "source", "http://127.0.0.1:18101");
      BSON_APPEND_UTF8(d, "stream", e.stream.c_str());
      BSON_APPEND_INT64(d, "event_id", std::stoll(e.id));
      BSON_APPEND_UTF8(d, "type", TypeOf(e.data).c_str());
      if (mode == "full") {
        BSON_APPEND_UTF8(d, "api_version", "2.0.0");
        BSON_APPEND_DATE_TIME(d, "received_at", 1718184385460);
        bson_t kafka;
        BSON_APPEND_DOCUMENT_BEGIN(d, "kafka", &kafka);
        BSON_APPEND_UTF8(&kafka, "topic", "sigs");
        BSON_APPEND_INT32(&kafka, "partition", 0);
        BSON_APPEND_INT64(&kafka, "offset", static_cast<std::int64_t>(i));
        bson_append_document_end(d, &kafka);
        BSON_APPEND_UTF8(d, "sha256", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
        BSON_APPEND_INT64(d, "size", static_cast<std::int64_t>(e.data.size()));
      }
      BSON_APPEND_BINARY(d, "payload", BSON_SUBTYPE_BINARY, reinterpret_cast<const uint8_t*>(e.data.data()),
                         static_cast<uint32_t>(e.data.size()));
      if (mode == "full") {
        std::string error;
        ces::mongo::detail::AppendJson(d, "data", e.data, convert, error);
      }
      bytes += e.data.size();
      docs.push_back(d);
    }
    bson_error_t error;
    if (!mongoc_collection_insert_many(coll, const_cast<const bson_t**>(docs.data()), docs.size(), opts, nullptr, &error)) {
      std::fprintf(stderr, "insert failed: %s\n", error.message);
      return 1;
    }
    for (bson_t* d : docs) bson_destroy(d);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s: %zu documents in %.1f s: %.0f documents/s, %.1f MB/s of payload\n", mode.c_str(), events.size(),
              seconds, static_cast<double>(events.size()) / seconds, static_cast<double>(bytes) / seconds / 1e6);
  mongoc_collection_drop(coll, nullptr);
  bson_destroy(opts);
  mongoc_write_concern_destroy(wc);
  mongoc_collection_destroy(coll);
  mongoc_client_destroy(client);
  mongoc_cleanup();
  return 0;
}
