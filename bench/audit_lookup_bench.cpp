// The stored-ids lookup of audit-consume after a restart (ces::mongo::AuditStore::FindStored), timed
// with both strategies against a pre-filled `events` collection.
//
//   audit_lookup_bench URI DOCUMENTS IDS [RUNS [in|per-id]]
//
// Fills `events` of URI's database up to DOCUMENTS synthetic documents (about 1.1 KB each: identity,
// Kafka position, sha256, a 1,000-byte JSON payload and its queryable form; InsertEvents in batches of
// 5,000), then RUNS times (default 1): FindStored of IDS stored ids spread over the collection, as one
// `$in` (IdLookup::kIn) and, where the server plans an `_id` equality with an index, as one find({_id})
// per id (IdLookup::kPerId); and of a single id each way.
// A last argument restricts the runs to one strategy. Prints the strategy the store plans (explain)
// and one line per lookup: strategy, ids, seconds.
// The database is left in place (drop it with mongo_drop_database).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "ces/common/log.hpp"
#include "ces/mongo/audit_store.hpp"

namespace {

using ces::mongo::AuditStore;
using ces::mongo::IdLookup;

std::string IdOf(std::int64_t i) { return "http://bench-lookup events " + std::to_string(i); }

double Lookup(AuditStore& store, IdLookup lookup, const std::vector<std::string>& ids) {
  store.ForceIdLookup(lookup);
  std::map<std::string, ces::mongo::StoredIdentity> found;
  const auto started = std::chrono::steady_clock::now();
  auto status = store.FindStored(ids, found);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!status.ok || found.size() != ids.size()) {
    std::fprintf(stderr, "lookup failed: %s (%zu of %zu found)\n", status.message.c_str(), found.size(), ids.size());
    std::exit(1);
  }
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s URI DOCUMENTS IDS [RUNS]\n", argv[0]);
    return 2;
  }
  const std::int64_t documents = std::atoll(argv[2]);
  const std::int64_t wanted_ids = std::atoll(argv[3]);
  const int runs = argc > 4 ? std::atoi(argv[4]) : 1;
  const std::string only = argc > 5 ? argv[5] : "";
  const char* level = std::getenv("CES_LOG_LEVEL");
  ces::log::Init("audit-lookup-bench", level ? level : "warn");  // debug: the explain plan
  AuditStore store({.uri = argv[1]});
  ces::mongo::SegmentLimits limits;
  auto status = store.EnsureSchema(std::nullopt, limits);
  if (!status.ok) {
    std::fprintf(stderr, "%s\n", status.message.c_str());
    return 1;
  }
  auto count = store.CountEvents();
  if (!count.ok()) return 1;
  const std::string filler(1000, 'x');
  for (std::int64_t next = count.value; next < documents;) {
    std::vector<ces::mongo::EventRecord> batch;
    for (; next < documents && batch.size() < 5000; ++next) {
      ces::mongo::EventRecord r;
      r.id = IdOf(next);
      r.source = "http://bench-lookup";
      r.stream = "events";
      r.event_id = static_cast<std::uint32_t>(next);
      r.type = "FinalitySignature";
      r.received_at = "2026-12-07T00:00:00.000Z";
      r.topic = "bench-lookup";
      r.offset = next;
      r.sha256 = std::string(64, '0');
      r.payload = "{\"n\":" + std::to_string(next) + ",\"x\":\"" + filler + "\"}";
      r.size = static_cast<std::int64_t>(r.payload.size());
      batch.push_back(std::move(r));
    }
    std::vector<const ces::mongo::EventRecord*> pointers;
    for (const auto& r : batch) pointers.push_back(&r);
    ces::mongo::InsertOutcome outcome;
    status = store.InsertEvents(pointers, outcome);
    if (!status.ok) {
      std::fprintf(stderr, "insert: %s\n", status.message.c_str());
      return 1;
    }
  }
  std::vector<std::string> ids;
  const std::int64_t step = std::max<std::int64_t>(1, documents / std::max<std::int64_t>(1, wanted_ids));
  for (std::int64_t i = 0; i < documents && static_cast<std::int64_t>(ids.size()) < wanted_ids; i += step) {
    ids.push_back(IdOf(i));
  }
  const std::vector<std::string> one{IdOf(documents / 2)};
  auto planned = store.PlanIdLookup(one.front());
  if (!planned.ok()) return 1;
  std::printf("server %s, planned lookup %s\n", std::string(ces::mongo::ToString(store.server_kind())).c_str(),
              std::string(ces::mongo::ToString(planned.value)).c_str());
  for (int run = 0; run < runs; ++run) {
    for (IdLookup lookup : {IdLookup::kIn, IdLookup::kPerId}) {
      const char* name = lookup == IdLookup::kIn ? "in" : "per-id";
      if (!only.empty() && only != name) continue;
      // IDS finds one by one only where they are index lookups (else each reads the collection).
      if (lookup == IdLookup::kIn || planned.value == IdLookup::kPerId) {
        std::printf("%s %zu %.3f\n", name, ids.size(), Lookup(store, lookup, ids));
      }
      std::printf("%s 1 %.3f\n", name, Lookup(store, lookup, one));
      std::fflush(stdout);
    }
  }
  return 0;
}
