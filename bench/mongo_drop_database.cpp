// Drops MongoDB databases made by the bench scripts (FerretDB keeps a database's files until it is
// dropped, so every run would otherwise leave its audit store on disk).
//
//   mongo_drop_database URI DATABASE...
//
// Connects to URI (libmongoc alone, nothing of casper-event-store) and runs dropDatabase on each
// DATABASE; a database that does not exist counts as dropped. Exit status 0 when every drop succeeded.
#include <mongoc/mongoc.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s URI DATABASE...\n", argv[0]);
    return 2;
  }
  mongoc_init();
  mongoc_log_set_handler([](mongoc_log_level_t, const char*, const char*, void*) {}, nullptr);  // FerretDB: no endSessions
  bson_error_t error;
  mongoc_uri_t* uri = mongoc_uri_new_with_error(argv[1], &error);
  if (!uri) {
    std::fprintf(stderr, "bad URI: %s\n", error.message);
    return 2;
  }
  mongoc_client_t* client = mongoc_client_new_from_uri(uri);
  mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
  int failed = 0;
  for (int i = 2; i < argc; ++i) {
    mongoc_database_t* db = mongoc_client_get_database(client, argv[i]);
    if (!mongoc_database_drop_with_opts(db, nullptr, &error)) {
      std::fprintf(stderr, "drop %s: %s\n", argv[i], error.message);
      ++failed;
    }
    mongoc_database_destroy(db);
  }
  mongoc_client_destroy(client);
  mongoc_uri_destroy(uri);
  mongoc_cleanup();
  return failed == 0 ? 0 : 1;
}
