// A fake HttpTransport (operator/http_transport.h) for unit tests of code above the transport
// (KubeClient and everything built on it). One fake serves every test:
//   - one-shot requests (Send) are answered from a script (per method and path, or for any
//     request) or, when nothing is scripted, by a handler function (an in-memory API server);
//   - streamed requests (Open, i.e. watches) get FakeStreams the test scripted per path and then
//     feeds chunk by chunk, or ends, or breaks, while the code under test reads them;
//   - every request is recorded with its headers, body, the time on the fake's clock and the
//     answer; requests can be made to hang (a dead connection) or fail at the transport level;
//   - several clients can talk to one fake (Connect()), as several processes to one API server.
//
// Time: stream reads time out on the clock given to the constructor, so a SimulatedClock drives
// stall detection without real waiting. A hung request ignores its timeout (it waits until
// Hang(false)); script a kDeadlineExceeded failure for a request that times out.
//
// Thread-safe: any number of threads may send, read streams and script at once. Requests are
// answered one at a time (the handler is never called concurrently) and recorded in the order
// they were answered. Tests may inspect and script from any thread, also from inside a handler,
// but a handler must not send through this fake.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "operator/http_transport.h"

namespace cohort::testing {

using Headers = absl::flat_hash_map<std::string, std::string>;

// A streamed response body, scripted by a test and read by the code under test through the
// HttpStream that FakeTransport::Open returned. Each Push() is returned by exactly one Read(), so
// the test decides where the body is cut. Thread-safe; the test keeps its shared_ptr as long as
// it likes (the reader may be destroyed first).
class FakeStream {
 public:
  FakeStream(op::HttpResponse head, Clock& clock);
  FakeStream(const FakeStream&) = delete;
  FakeStream& operator=(const FakeStream&) = delete;

  const op::HttpResponse& head() const { return head_; }

  // Queues one chunk (not empty: an empty Read means the end of the body). Pushing after End()
  // or Break() is a bug in the test and aborts.
  void Push(std::string chunk) ABSL_LOCKS_EXCLUDED(mu_);
  // Once the pushed chunks are read, Read() returns "" (the server ended the body).
  void End() ABSL_LOCKS_EXCLUDED(mu_);
  // Once the pushed chunks are read, Read() returns `error` (the connection broke: kUnavailable).
  void Break(absl::Status error) ABSL_LOCKS_EXCLUDED(mu_);

  // True once the reader cancelled the stream (HttpStream::Cancel).
  bool cancelled() const ABSL_LOCKS_EXCLUDED(mu_);
  // Chunks handed to the reader so far.
  int64_t chunks_read() const ABSL_LOCKS_EXCLUDED(mu_);
  // Blocks (real time, at most `timeout`) until every pushed chunk has been read and the reader
  // is blocked in Read() again, waiting for more: everything pushed so far has been consumed by
  // the code under test. Returns whether that happened.
  bool AwaitIdleReader(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
  // Blocks (real time, at most `timeout`) until a Read() returned the end, the break or
  // kCancelled. Returns whether that happened.
  bool AwaitFinished(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);

  // The reader's side (HttpStream semantics), used by the HttpStream that Open() returns.
  absl::StatusOr<std::string> Read(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
  void Cancel() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const op::HttpResponse head_;
  Clock& clock_;

  mutable absl::Mutex mu_;
  std::deque<std::string> chunks_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> end_ ABSL_GUARDED_BY(mu_);  // OK: ended; else broken
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool reader_waiting_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // a Read returned the end, break or cancel
  int64_t chunks_read_ ABSL_GUARDED_BY(mu_) = 0;
};

// One request as the fake saw and answered it.
struct RecordedRequest {
  op::HttpRequest request;
  bool streamed = false;                          // Open() rather than Send()
  absl::Duration timeout = absl::ZeroDuration();  // Send()'s; zero for Open()
  absl::Time time;                                // on the fake's clock, when it was answered
  int status = 0;                                 // HTTP status answered; 0 on a transport error
  absl::Status error;                             // the transport error; OK when answered

  const std::string& method() const { return request.method; }
  // path_and_query before '?', and after it ("" if none).
  std::string Path() const;
  std::string Query() const;
  // The value of query parameter `key`, percent-decoded; nullopt if absent.
  std::optional<std::string> QueryParam(std::string_view key) const;
  // The value of request header `name` (compared case-insensitively); "" if absent.
  std::string Header(std::string_view name) const;
};

class FakeTransport final : public op::HttpTransport {
 public:
  // Answers a one-shot request that nothing scripted answers: any HTTP response, or a transport
  // error (kUnavailable, kDeadlineExceeded).
  using Handler = std::function<absl::StatusOr<op::HttpResponse>(const op::HttpRequest& request)>;

  // Borrows `clock` (stamps requests, times out stream reads); it must outlive the fake.
  explicit FakeTransport(Clock& clock = RealClock::Get());
  FakeTransport(const FakeTransport&) = delete;
  FakeTransport& operator=(const FakeTransport&) = delete;
  ~FakeTransport() override;

  // A transport for one more client (KubeClient owns its transport) that forwards to this fake:
  // its requests are answered, recorded, hung and failed like the fake's own. The fake must
  // outlive it.
  std::unique_ptr<op::HttpTransport> Connect();

  // ---- One-shot requests (Send). Answered by, in order of preference: the next answer scripted
  // for the request's method and path (path_and_query before '?'), the next answer scripted for
  // any request, the handler, or else a kInternal error ("unscripted request").
  void Reply(int status, std::string body, Headers headers = {}) ABSL_LOCKS_EXCLUDED(mu_);
  void Fail(absl::Status error) ABSL_LOCKS_EXCLUDED(mu_);
  void ReplyTo(std::string_view method, std::string_view path, int status, std::string body,
               Headers headers = {}) ABSL_LOCKS_EXCLUDED(mu_);
  void FailTo(std::string_view method, std::string_view path, absl::Status error)
      ABSL_LOCKS_EXCLUDED(mu_);
  void SetHandler(Handler handler) ABSL_LOCKS_EXCLUDED(mu_);

  // ---- Streamed requests (Open). Answered by the next stream scripted for the path
  // (path_and_query before '?'), else a kInternal error ("unscripted request").
  // A stream with `head` (status 200 by default) that the test feeds.
  std::shared_ptr<FakeStream> AddStream(std::string_view path,
                                        op::HttpResponse head = {200, {}, ""})
      ABSL_LOCKS_EXCLUDED(mu_);
  // A complete response as a stream: `status`, then `body` in one chunk, then the end (as a
  // refused watch: 410 and a Status body).
  std::shared_ptr<FakeStream> ReplyStream(std::string_view path, int status, std::string body)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The next Open of `path` fails at the transport level.
  void FailOpen(std::string_view path, absl::Status error) ABSL_LOCKS_EXCLUDED(mu_);

  // ---- Failures that hold for every request while set.
  // While set, requests block before they are answered (a dead connection), until cleared.
  void Hang(bool hang) ABSL_LOCKS_EXCLUDED(mu_);
  // Requests inside Send/Open right now (hung ones included).
  int in_flight() const ABSL_LOCKS_EXCLUDED(mu_);

  // ---- What was asked.
  std::vector<RecordedRequest> requests() const ABSL_LOCKS_EXCLUDED(mu_);
  int Count(std::string_view method) const ABSL_LOCKS_EXCLUDED(mu_);
  void ClearRequests() ABSL_LOCKS_EXCLUDED(mu_);
  // Blocks (real time, at most `timeout`) until `done(requests)` holds; returns whether it did.
  bool AwaitRequests(const std::function<bool(const std::vector<RecordedRequest>&)>& done,
                     absl::Duration timeout) const ABSL_LOCKS_EXCLUDED(mu_);
  // Scripted answers and streams not used yet.
  size_t pending() const ABSL_LOCKS_EXCLUDED(mu_);

  // HttpTransport.
  absl::StatusOr<op::HttpResponse> Send(const op::HttpRequest& request,
                                        absl::Duration timeout) override
      ABSL_LOCKS_EXCLUDED(mu_, serve_mu_);
  absl::StatusOr<std::unique_ptr<op::HttpStream>> Open(const op::HttpRequest& request) override
      ABSL_LOCKS_EXCLUDED(mu_, serve_mu_);

 private:
  using Answer = absl::StatusOr<op::HttpResponse>;
  using StreamAnswer = absl::StatusOr<std::shared_ptr<FakeStream>>;

  // Counts the request in flight and waits while hung; returns with mu_ not held.
  void Enter() ABSL_LOCKS_EXCLUDED(mu_);
  void Record(RecordedRequest record) ABSL_LOCKS_EXCLUDED(mu_);

  Clock& clock_;
  // Held while a request is answered: answers and records happen one at a time, in order.
  absl::Mutex serve_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  // "METHOD path" → answers; "" → answers for any request.
  absl::flat_hash_map<std::string, std::deque<Answer>> answers_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::deque<StreamAnswer>> streams_ ABSL_GUARDED_BY(mu_);
  Handler handler_ ABSL_GUARDED_BY(mu_);
  bool hang_ ABSL_GUARDED_BY(mu_) = false;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<RecordedRequest> requests_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cohort::testing
