#include "ces/rpc/client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <utility>

#include "ces/common/backoff.hpp"
#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"

namespace ces::rpc {
namespace {

using Clock = std::chrono::steady_clock;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// One call: its request, its attempts, and what to do with the answer.
struct Call {
  virtual ~Call() = default;
  // A 2xx body arrived. Returns an Error to retry the attempt with (invalid JSON); otherwise the
  // call is over and its callback ran.
  virtual std::optional<Error> OnBody(std::string_view body) = 0;
  // The call ends without a usable body.
  virtual void OnError(Error error) = 0;

  std::string_view method;
  std::string subject;
  std::string request;
  std::int64_t id = 0;
  int attempts = 0;
  long http_status = 0;
  std::function<void(ErrorKind)> count_error;  // runs before the callback of a failed call
  // Per attempt:
  std::string response;
  bool too_large = false;
  std::size_t max_bytes = 0;
  Clock::time_point started;
  char error_buffer[CURL_ERROR_SIZE] = {0};

  Error MakeError(ErrorKind kind, std::string_view what) const {
    Error e;
    e.kind = kind;
    e.message = std::string(method) + " " + subject + ": " + std::string(what);
    e.http_status = http_status;
    e.attempts = attempts;
    return e;
  }
};

template <class T>
struct TypedCall final : Call {
  std::function<Result<T>(std::string_view body, std::int64_t id)> parse;
  Client::Callback<T> done;

  std::optional<Error> OnBody(std::string_view body) override {
    Result<T> result = parse(body, id);
    if (!result.ok()) {
      if (result.error().transient) return result.error();
      Finish(std::move(result.error()));
      return std::nullopt;
    }
    done(std::move(result));
    return std::nullopt;
  }

  void OnError(Error error) override { Finish(std::move(error)); }

  void Finish(Error error) {
    error.attempts = attempts;
    error.http_status = http_status;
    count_error(error.kind);
    done(Result<T>(std::move(error)));
  }
};

size_t OnData(char* ptr, size_t size, size_t nmemb, void* userdata) {
  auto* call = static_cast<Call*>(userdata);
  const size_t n = size * nmemb;
  if (call->response.size() + n > call->max_bytes) {
    call->too_large = true;
    return 0;  // aborts the transfer
  }
  call->response.append(ptr, n);
  return n;
}

std::string BodySnippet(const std::string& body) {
  constexpr std::size_t kMax = 200;
  return body.size() <= kMax ? body : body.substr(0, kMax) + "…";
}

struct MethodMetrics {
  metrics::Counter* requests = nullptr;
  metrics::Histogram* duration = nullptr;
};

}  // namespace

struct Client::Impl {
  explicit Impl(ClientOptions o) : options(std::move(o)) {
    if (options.url.rfind("http://", 0) != 0 && options.url.rfind("https://", 0) != 0) {
      throw std::invalid_argument("rpc url must start with http:// or https://: " + options.url);
    }
    if (options.max_attempts < 1) throw std::invalid_argument("rpc max_attempts must be at least 1");
    if (options.max_in_flight < 1) throw std::invalid_argument("rpc max_in_flight must be at least 1");
    if (options.rate < 0) throw std::invalid_argument("rpc rate must not be negative");
    if (options.burst < 1) throw std::invalid_argument("rpc burst must be at least 1");
    if (options.backoff_initial.count() < 0 || options.backoff_max < options.backoff_initial) {
      throw std::invalid_argument("rpc backoff: need 0 <= initial <= max");
    }
    registry = options.registry ? options.registry : &metrics::Default();
    in_flight_gauge = &registry->GetGauge("ces_rpc_in_flight", "JSON-RPC requests on the wire");
    queued_gauge = &registry->GetGauge("ces_rpc_queued", "JSON-RPC calls waiting for a slot, a token or a retry");
    GlobalInit();
    multi = curl_multi_init();
    if (!multi) throw std::runtime_error("curl_multi_init failed");
    const long slots = static_cast<long>(options.max_in_flight);
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, slots);
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, slots);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, slots);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Accept: application/json");
    headers = curl_slist_append(headers, "Expect:");
    tokens = options.burst;
    last_refill = Clock::now();
    thread = std::thread([this] { Loop(); });
    thread_id = thread.get_id();
  }

  ~Impl() {
    Stop();
    for (CURL* easy : idle) curl_easy_cleanup(easy);
    curl_multi_cleanup(multi);
    curl_slist_free_all(headers);
  }

  // Ends every pending call (callbacks run, and may still start calls: those end too) and joins the
  // I/O thread.
  void Stop() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    curl_multi_wakeup(multi);
    if (thread.joinable()) thread.join();
  }

  // Queues a call. `request` builds the body for the call's id; an empty body means the arguments
  // were invalid and the call ends with kInvalidArgument without a request.
  template <class T>
  void Start(std::string_view method, std::string subject, const std::function<std::string(std::int64_t)>& request,
             std::function<Result<T>(std::string_view, std::int64_t)> parse, Callback<T> done) {
    auto call = std::make_unique<TypedCall<T>>();
    call->method = method;
    call->subject = std::move(subject);
    call->id = next_id.fetch_add(1, std::memory_order_relaxed);
    call->request = request(call->id);
    call->max_bytes = options.max_response_bytes;
    call->parse = std::move(parse);
    call->done = std::move(done);
    call->count_error = [this, method](ErrorKind kind) { CountError(method, kind); };
    {
      std::lock_guard lock(mutex);
      incoming.push_back(std::move(call));
    }
    curl_multi_wakeup(multi);
  }

  void RequireOtherThread(std::string_view method) const {
    if (std::this_thread::get_id() == thread_id) {
      log::Error("blocking rpc call from the rpc client's own thread", {{"method", method}});
      std::abort();
    }
  }

  template <class T, class Submitter>
  Result<T> Wait(std::string_view method, Submitter submit) {
    RequireOtherThread(method);
    std::promise<Result<T>> promise;
    auto future = promise.get_future();
    submit([&promise](Result<T> r) { promise.set_value(std::move(r)); });
    return future.get();
  }

  // ---- I/O thread ----

  MethodMetrics& MetricsFor(std::string_view method) {
    auto it = method_metrics.find(method);
    if (it != method_metrics.end()) return it->second;
    const metrics::Labels labels = {{"method", std::string(method)}};
    MethodMetrics m;
    m.requests = &registry->GetCounter("ces_rpc_requests_total", "JSON-RPC requests sent (attempts)", labels);
    m.duration = &registry->GetHistogram("ces_rpc_request_duration_seconds", "JSON-RPC request latency (one attempt)",
                                         labels, metrics::LatencyBuckets());
    return method_metrics.emplace(method, m).first->second;
  }

  void CountError(std::string_view method, ErrorKind kind) {
    registry
        ->GetCounter("ces_rpc_errors_total", "JSON-RPC calls that ended with an error, by kind",
                     {{"method", std::string(method)}, {"kind", std::string(ToString(kind))}})
        .Inc();
  }

  void CountRetry(std::string_view method, std::string_view reason) {
    registry
        ->GetCounter("ces_rpc_retries_total", "JSON-RPC attempts retried, by reason",
                     {{"method", std::string(method)}, {"reason", std::string(reason)}})
        .Inc();
  }

  bool TakeToken(Clock::time_point now) {
    if (options.rate <= 0) return true;
    const double elapsed = std::chrono::duration<double>(now - last_refill).count();
    tokens = std::min(options.burst, tokens + elapsed * options.rate);
    last_refill = now;
    if (tokens < 1.0) return false;
    tokens -= 1.0;
    return true;
  }

  std::chrono::milliseconds TokenWait() const {
    if (options.rate <= 0 || tokens >= 1.0) return std::chrono::milliseconds(0);
    const double seconds = (1.0 - tokens) / options.rate;
    return std::chrono::milliseconds(static_cast<long long>(seconds * 1000.0) + 1);
  }

  std::chrono::milliseconds Backoff(int attempt) const {
    return backoff::Apply(backoff::Delay(options.backoff_initial, options.backoff_max, attempt - 1), backoff::kHalfJitter);
  }

  void StartTransfer(std::unique_ptr<Call> call, Clock::time_point now) {
    CURL* easy = nullptr;
    if (!idle.empty()) {
      easy = idle.back();
      idle.pop_back();
    } else {
      easy = curl_easy_init();
      if (!easy) {
        Finish(*call, call->MakeError(ErrorKind::kTransport, "curl_easy_init failed"));
        return;
      }
    }
    call->attempts++;
    call->response.clear();
    call->too_large = false;
    call->error_buffer[0] = '\0';
    call->started = now;
    curl_easy_setopt(easy, CURLOPT_URL, options.url.c_str());
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, call->request.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(call->request.size()));
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, OnData);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, call.get());
    curl_easy_setopt(easy, CURLOPT_PRIVATE, call.get());
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, call->error_buffer);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    MetricsFor(call->method).requests->Inc();
    if (curl_multi_add_handle(multi, easy) != CURLM_OK) {
      idle.push_back(easy);
      Finish(*call, call->MakeError(ErrorKind::kTransport, "curl_multi_add_handle failed"));
      return;
    }
    running.emplace(easy, std::move(call));
    UpdateGauges();
  }

  void UpdateGauges() {
    in_flight_gauge->Set(static_cast<double>(running.size()));
    queued_gauge->Set(static_cast<double>(ready.size() + waiting.size()));
  }

  // Ends a call with an error: counted, then its callback runs.
  void Finish(Call& call, Error error) { call.OnError(std::move(error)); }

  void RetryOrFail(std::unique_ptr<Call> call, Error error, std::string_view reason, Clock::time_point now,
                   std::chrono::milliseconds at_least = std::chrono::milliseconds(0)) {
    if (call->attempts >= options.max_attempts || cancelled) {
      if (call->attempts > 1) error.message += " (after " + std::to_string(call->attempts) + " attempts)";
      Finish(*call, std::move(error));
      return;
    }
    CountRetry(call->method, reason);
    const auto delay = std::max(Backoff(call->attempts), std::min(at_least, options.backoff_max));
    log::Debug("rpc attempt failed, retrying",
               {{"method", call->method},
                {"subject", call->subject},
                {"attempt", call->attempts},
                {"reason", reason},
                {"error", error.message},
                {"delay_ms", static_cast<std::int64_t>(delay.count())}});
    waiting.emplace(now + delay, std::move(call));
  }

  void Complete(CURL* easy, CURLcode code, Clock::time_point now) {
    auto it = running.find(easy);
    std::unique_ptr<Call> call = std::move(it->second);
    running.erase(it);
    UpdateGauges();  // before the callback runs
    curl_multi_remove_handle(multi, easy);
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_off_t retry_after = 0;
    curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &retry_after);
    idle.push_back(easy);
    call->http_status = status;
    MetricsFor(call->method).duration->Observe(std::chrono::duration<double>(now - call->started).count());

    if (call->too_large) {
      Finish(*call, call->MakeError(ErrorKind::kMalformed, "answer larger than " +
                                                               std::to_string(options.max_response_bytes) + " bytes"));
      return;
    }
    if (code != CURLE_OK) {
      std::string what = call->error_buffer[0] ? call->error_buffer : curl_easy_strerror(code);
      Error error = call->MakeError(ErrorKind::kTransport, what);
      error.transient = true;
      RetryOrFail(std::move(call), std::move(error), code == CURLE_OPERATION_TIMEDOUT ? "timeout" : "transport", now);
      return;
    }
    if (status == 429 || status >= 500) {
      Error error = call->MakeError(ErrorKind::kTransport,
                                    "HTTP " + std::to_string(status) + " " + BodySnippet(call->response));
      error.transient = true;
      RetryOrFail(std::move(call), std::move(error), status == 429 ? "http_429" : "http_5xx", now,
                  std::chrono::seconds(retry_after));
      return;
    }
    if (status < 200 || status >= 300) {
      Finish(*call,
             call->MakeError(ErrorKind::kHttp, "HTTP " + std::to_string(status) + " " + BodySnippet(call->response)));
      return;
    }
    std::string body = std::move(call->response);
    if (auto retry = call->OnBody(body)) RetryOrFail(std::move(call), std::move(*retry), "invalid_json", now);
  }

  void CancelEverything() {
    std::vector<std::unique_ptr<Call>> calls;
    for (auto& [easy, call] : running) {
      curl_multi_remove_handle(multi, easy);
      idle.push_back(easy);
      calls.push_back(std::move(call));
    }
    running.clear();
    for (auto& call : ready) calls.push_back(std::move(call));
    ready.clear();
    for (auto& [at, call] : waiting) calls.push_back(std::move(call));
    waiting.clear();
    UpdateGauges();
    for (auto& call : calls) Finish(*call, call->MakeError(ErrorKind::kCancelled, "cancelled"));
  }

  void Loop() {
    while (true) {
      bool stop = false;
      {
        std::lock_guard lock(mutex);
        for (auto& call : incoming) ready.push_back(std::move(call));
        incoming.clear();
        stop = stopping;
        if (cancel_requested) cancelled = true;
      }
      if (cancelled || stop) CancelEverything();
      if (stop) break;

      Clock::time_point now = Clock::now();
      while (!waiting.empty() && waiting.begin()->first <= now) {
        ready.push_front(std::move(waiting.begin()->second));
        waiting.erase(waiting.begin());
      }
      while (running.size() < options.max_in_flight && !ready.empty() && TakeToken(now)) {
        std::unique_ptr<Call> call = std::move(ready.front());
        ready.pop_front();
        if (call->request.empty()) {
          Finish(*call, call->MakeError(ErrorKind::kInvalidArgument, "invalid argument (a hash or key that is not hex)"));
          continue;
        }
        StartTransfer(std::move(call), now);
      }

      int still_running = 0;
      curl_multi_perform(multi, &still_running);
      int left = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
        if (msg->msg == CURLMSG_DONE) Complete(msg->easy_handle, msg->data.result, Clock::now());
      }
      UpdateGauges();

      // Sleep until there is something to do: socket activity, a wakeup (new call, cancel, stop),
      // curl's own timers, the next retry, or the next token for a waiting call.
      now = Clock::now();
      long wait_ms = 1000;
      long curl_ms = -1;
      curl_multi_timeout(multi, &curl_ms);
      if (curl_ms >= 0) wait_ms = std::min(wait_ms, curl_ms);
      if (!waiting.empty()) {
        const auto until = std::chrono::ceil<std::chrono::milliseconds>(waiting.begin()->first - now).count();
        wait_ms = std::min<long>(wait_ms, std::max<long>(0, static_cast<long>(until)));
      }
      if (!ready.empty() && running.size() < options.max_in_flight) {
        TakeTokenRefillOnly(now);
        wait_ms = std::min<long>(wait_ms, static_cast<long>(TokenWait().count()));
      }
      if (wait_ms > 0) curl_multi_poll(multi, nullptr, 0, static_cast<int>(wait_ms), nullptr);
    }
    // Callbacks of cancelled calls may have started more calls: end those too.
    while (true) {
      std::deque<std::unique_ptr<Call>> late;
      {
        std::lock_guard lock(mutex);
        late.swap(incoming);
      }
      if (late.empty()) break;
      for (auto& call : late) Finish(*call, call->MakeError(ErrorKind::kCancelled, "cancelled"));
    }
  }

  void TakeTokenRefillOnly(Clock::time_point now) {
    if (options.rate <= 0) return;
    const double elapsed = std::chrono::duration<double>(now - last_refill).count();
    tokens = std::min(options.burst, tokens + elapsed * options.rate);
    last_refill = now;
  }

  ClientOptions options;
  metrics::Registry* registry = nullptr;
  metrics::Gauge* in_flight_gauge = nullptr;
  metrics::Gauge* queued_gauge = nullptr;
  CURLM* multi = nullptr;
  curl_slist* headers = nullptr;
  std::atomic<std::int64_t> next_id{1};

  std::mutex mutex;  // guards incoming, stopping, cancel_requested
  std::deque<std::unique_ptr<Call>> incoming;
  bool stopping = false;
  bool cancel_requested = false;

  // I/O thread only:
  std::thread thread;
  std::thread::id thread_id;
  std::deque<std::unique_ptr<Call>> ready;
  std::multimap<Clock::time_point, std::unique_ptr<Call>> waiting;
  std::unordered_map<CURL*, std::unique_ptr<Call>> running;
  std::vector<CURL*> idle;
  std::unordered_map<std::string_view, MethodMetrics> method_metrics;
  double tokens = 0;
  Clock::time_point last_refill;
  bool cancelled = false;
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() { impl_->Stop(); }  // callbacks may use the client until the I/O thread is gone

const ClientOptions& Client::options() const { return impl_->options; }

void Client::Cancel() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->cancel_requested = true;
  }
  curl_multi_wakeup(impl_->multi);
}

namespace {

std::string HeightSubject(std::uint64_t height) { return "height " + std::to_string(height); }

}  // namespace

void Client::GetStatusAsync(Callback<Status> done) {
  impl_->Start<Status>(
      kGetStatus, "of the node", [](std::int64_t id) { return StatusRequest(id); },
      [](std::string_view body, std::int64_t id) { return ParseStatus(body, id); }, std::move(done));
}

void Client::GetBlockAsync(std::uint64_t height, Callback<Block> done) {
  impl_->Start<Block>(
      kGetBlock, HeightSubject(height), [height](std::int64_t id) { return BlockRequest(id, kGetBlock, height); },
      [height](std::string_view body, std::int64_t id) { return ParseBlock(body, height, id); }, std::move(done));
}

void Client::GetTransactionAsync(const TransactionId& tx, Callback<Transaction> done) {
  impl_->Start<Transaction>(
      kGetTransaction, Describe(tx), [&tx](std::int64_t id) { return TransactionRequest(id, tx); },
      [tx](std::string_view body, std::int64_t id) { return ParseTransaction(body, kGetTransaction, tx, id); },
      std::move(done));
}

void Client::GetDeployAsync(const std::string& deploy_hash, Callback<Transaction> done) {
  const TransactionId tx{HashKind::kDeploy, deploy_hash};
  impl_->Start<Transaction>(
      kGetDeploy, Describe(tx), [&deploy_hash](std::int64_t id) { return DeployRequest(id, deploy_hash); },
      [tx](std::string_view body, std::int64_t id) { return ParseTransaction(body, kGetDeploy, tx, id); },
      std::move(done));
}

void Client::GetEraSummaryAsync(std::uint64_t height, Callback<EraSummary> done) {
  impl_->Start<EraSummary>(
      kGetEraSummary, HeightSubject(height), [height](std::int64_t id) { return BlockRequest(id, kGetEraSummary, height); },
      [height](std::string_view body, std::int64_t id) { return ParseEraSummary(body, height, id); }, std::move(done));
}

void Client::GetEraInfoBySwitchBlockAsync(std::uint64_t height, Callback<std::optional<EraSummary>> done) {
  impl_->Start<std::optional<EraSummary>>(
      kGetEraInfoBySwitchBlock, HeightSubject(height),
      [height](std::int64_t id) { return BlockRequest(id, kGetEraInfoBySwitchBlock, height); },
      [height](std::string_view body, std::int64_t id) { return ParseEraInfoBySwitchBlock(body, height, id); },
      std::move(done));
}

void Client::GetRewardAsync(const RewardQuery& query, Callback<Reward> done) {
  impl_->Start<Reward>(
      kGetReward, "validator " + query.validator, [&query](std::int64_t id) { return RewardRequest(id, query); },
      [query](std::string_view body, std::int64_t id) { return ParseReward(body, query, id); }, std::move(done));
}

Result<Status> Client::GetStatus() {
  return impl_->Wait<Status>(kGetStatus, [this](Callback<Status> cb) { GetStatusAsync(std::move(cb)); });
}

Result<Block> Client::GetBlock(std::uint64_t height) {
  return impl_->Wait<Block>(kGetBlock, [&](Callback<Block> cb) { GetBlockAsync(height, std::move(cb)); });
}

Result<Transaction> Client::GetTransaction(const TransactionId& id) {
  return impl_->Wait<Transaction>(kGetTransaction,
                                  [&](Callback<Transaction> cb) { GetTransactionAsync(id, std::move(cb)); });
}

Result<Transaction> Client::GetDeploy(const std::string& deploy_hash) {
  return impl_->Wait<Transaction>(kGetDeploy,
                                  [&](Callback<Transaction> cb) { GetDeployAsync(deploy_hash, std::move(cb)); });
}

Result<EraSummary> Client::GetEraSummary(std::uint64_t height) {
  return impl_->Wait<EraSummary>(kGetEraSummary,
                                 [&](Callback<EraSummary> cb) { GetEraSummaryAsync(height, std::move(cb)); });
}

Result<std::optional<EraSummary>> Client::GetEraInfoBySwitchBlock(std::uint64_t height) {
  return impl_->Wait<std::optional<EraSummary>>(kGetEraInfoBySwitchBlock, [&](Callback<std::optional<EraSummary>> cb) {
    GetEraInfoBySwitchBlockAsync(height, std::move(cb));
  });
}

Result<Reward> Client::GetReward(const RewardQuery& query) {
  return impl_->Wait<Reward>(kGetReward, [&](Callback<Reward> cb) { GetRewardAsync(query, std::move(cb)); });
}

std::vector<Result<Block>> Client::GetBlocks(std::uint64_t first, std::uint64_t last) {
  impl_->RequireOtherThread(kGetBlock);
  std::vector<std::optional<Result<Block>>> slots(last >= first ? last - first + 1 : 0);
  std::mutex mutex;
  std::condition_variable cv;
  std::size_t remaining = slots.size();
  for (std::uint64_t h = first; h <= last && !slots.empty(); ++h) {
    GetBlockAsync(h, [&, index = h - first](Result<Block> r) {
      std::lock_guard lock(mutex);
      slots[index] = std::move(r);
      if (--remaining == 0) cv.notify_all();
    });
    if (h == last) break;  // last may be UINT64_MAX
  }
  std::unique_lock lock(mutex);
  cv.wait(lock, [&] { return remaining == 0; });
  std::vector<Result<Block>> out;
  out.reserve(slots.size());
  for (auto& s : slots) out.push_back(std::move(*s));
  return out;
}

}  // namespace ces::rpc
