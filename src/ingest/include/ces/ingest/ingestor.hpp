#pragma once
// The ingest path: Casper node SSE streams -> Kafka, without loss.
//
// Per node a supervisor detects the protocol (2.x: one /events stream; 1.x: /events/main, /deploys,
// /sigs), reconnects forever with capped exponential backoff and jitter, and resumes every stream with
// `start_from` = last id Kafka acknowledged + 1. Positions live in a compacted Kafka topic, so the
// producer keeps no other state. Payloads that are not JSON and frames that are not events go to the
// dead-letter topic; a stream that resumes past the requested id records a gap.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ces/kafka/client.hpp"
#include "ces/sse/client.hpp"

namespace ces::ingest {

struct IngestOptions {
  std::vector<std::string> nodes;  // base URLs, e.g. http://127.0.0.1:9999
  std::string brokers;
  std::string topic_prefix;
  int partitions = 3;
  int replication_factor = -1;            // -1: broker default
  std::optional<int> min_insync_replicas; // topic-level; unset: broker default
  kafka::Settings producer_settings;      // overrides of the producer defaults
  sse::ClientOptions client;
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{30000};
  std::chrono::milliseconds healthy_after{30000};  // a connection this old resets the backoff
  std::chrono::milliseconds position_interval{200};
  std::chrono::milliseconds flush_timeout{30000};
};

class Ingestor {
 public:
  explicit Ingestor(IngestOptions options);
  ~Ingestor();
  Ingestor(const Ingestor&) = delete;
  Ingestor& operator=(const Ingestor&) = delete;

  // Creates missing topics, loads the stored positions and starts one supervisor per node.
  // Throws std::runtime_error if Kafka cannot be reached or the topics cannot be created.
  void Start();
  // Stops reading, waits for every produced record to be acknowledged (up to flush_timeout), persists
  // the final positions. Returns false if something could not be flushed.
  bool Stop();
  bool Ready(std::string& reason) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ces::ingest
