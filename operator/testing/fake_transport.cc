#include "operator/testing/fake_transport.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cohort::testing {
namespace {

using op::HttpRequest;
using op::HttpResponse;
using op::HttpStream;
using op::HttpTransport;

std::string PathOf(const std::string& path_and_query) {
  return path_and_query.substr(0, path_and_query.find('?'));
}

std::string RouteKey(std::string_view method, std::string_view path) {
  return absl::StrCat(std::string(method), " ", std::string(path));
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

[[noreturn]] void TestBug(const char* what) {
  std::fprintf(stderr, "FakeStream: %s\n", what);
  std::abort();
}

// What Open() hands to the code under test: reads and cancels the scripted stream.
class StreamReader final : public HttpStream {
 public:
  explicit StreamReader(std::shared_ptr<FakeStream> stream) : stream_(std::move(stream)) {}
  const HttpResponse& response() const override { return stream_->head(); }
  absl::StatusOr<std::string> Read(absl::Duration timeout) override {
    return stream_->Read(timeout);
  }
  void Cancel() override { stream_->Cancel(); }

 private:
  const std::shared_ptr<FakeStream> stream_;
};

// A client's transport that forwards to a shared fake (FakeTransport::Connect).
class Connection final : public HttpTransport {
 public:
  explicit Connection(FakeTransport& fake) : fake_(fake) {}
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request, absl::Duration timeout) override {
    return fake_.Send(request, timeout);
  }
  absl::StatusOr<std::unique_ptr<HttpStream>> Open(const HttpRequest& request) override {
    return fake_.Open(request);
  }

 private:
  FakeTransport& fake_;
};

}  // namespace

// ------------------------------------------------------------------------------ FakeStream

FakeStream::FakeStream(HttpResponse head, Clock& clock) : head_(std::move(head)), clock_(clock) {}

void FakeStream::Push(std::string chunk) {
  if (chunk.empty()) TestBug("Push of an empty chunk (an empty Read means the end of the body)");
  absl::MutexLock lock(&mu_);
  if (end_.has_value()) TestBug("Push after End or Break");
  chunks_.push_back(std::move(chunk));
}

void FakeStream::End() {
  absl::MutexLock lock(&mu_);
  if (end_.has_value()) TestBug("End after End or Break");
  end_ = absl::OkStatus();
}

void FakeStream::Break(absl::Status error) {
  if (error.ok()) TestBug("Break with an OK status (use End)");
  absl::MutexLock lock(&mu_);
  if (end_.has_value()) TestBug("Break after End or Break");
  end_ = std::move(error);
}

bool FakeStream::cancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

int64_t FakeStream::chunks_read() const {
  absl::MutexLock lock(&mu_);
  return chunks_read_;
}

bool FakeStream::AwaitIdleReader(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto idle = [this]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return reader_waiting_ && chunks_.empty(); };
  return mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
}

bool FakeStream::AwaitFinished(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&finished_), timeout);
}

absl::StatusOr<std::string> FakeStream::Read(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return cancelled_ || !chunks_.empty() || end_.has_value();
  };
  reader_waiting_ = true;
  clock_.AwaitWithDeadline(mu_, absl::Condition(&ready), clock_.Now() + timeout);
  reader_waiting_ = false;
  if (cancelled_) {
    finished_ = true;
    return absl::CancelledError("stream cancelled");
  }
  if (!chunks_.empty()) {
    std::string chunk = std::move(chunks_.front());
    chunks_.pop_front();
    ++chunks_read_;
    return chunk;
  }
  if (end_.has_value()) {
    finished_ = true;
    if (!end_->ok()) return *end_;
    return std::string();
  }
  return absl::DeadlineExceededError(absl::StrCat("no bytes for ", absl::FormatDuration(timeout)));
}

void FakeStream::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
}

// ------------------------------------------------------------------------------ RecordedRequest

std::string RecordedRequest::Path() const { return PathOf(request.path_and_query); }

std::string RecordedRequest::Query() const {
  const size_t q = request.path_and_query.find('?');
  return q == std::string::npos ? std::string() : request.path_and_query.substr(q + 1);
}

std::optional<std::string> RecordedRequest::QueryParam(std::string_view key) const {
  const std::string query = Query();
  for (absl::string_view param : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    const size_t eq = param.find('=');
    const absl::string_view k = param.substr(0, eq);
    if (k != absl::string_view(key.data(), key.size())) continue;
    if (eq == absl::string_view::npos) return std::string();
    const absl::string_view v = param.substr(eq + 1);
    return PercentDecode(std::string_view(v.data(), v.size()));
  }
  return std::nullopt;
}

std::string RecordedRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : request.headers) {
    if (absl::EqualsIgnoreCase(k, absl::string_view(name.data(), name.size()))) return v;
  }
  return "";
}

// ------------------------------------------------------------------------------ FakeTransport

FakeTransport::FakeTransport(Clock& clock) : clock_(clock) {}

FakeTransport::~FakeTransport() = default;

std::unique_ptr<HttpTransport> FakeTransport::Connect() {
  return std::make_unique<Connection>(*this);
}

void FakeTransport::Reply(int status, std::string body, Headers headers) {
  absl::MutexLock lock(&mu_);
  answers_[""].push_back(HttpResponse{status, std::move(headers), std::move(body)});
}

void FakeTransport::Fail(absl::Status error) {
  absl::MutexLock lock(&mu_);
  answers_[""].push_back(std::move(error));
}

void FakeTransport::ReplyTo(std::string_view method, std::string_view path, int status,
                            std::string body, Headers headers) {
  absl::MutexLock lock(&mu_);
  answers_[RouteKey(method, path)].push_back(
      HttpResponse{status, std::move(headers), std::move(body)});
}

void FakeTransport::FailTo(std::string_view method, std::string_view path, absl::Status error) {
  absl::MutexLock lock(&mu_);
  answers_[RouteKey(method, path)].push_back(std::move(error));
}

void FakeTransport::SetHandler(Handler handler) {
  absl::MutexLock lock(&mu_);
  handler_ = std::move(handler);
}

std::shared_ptr<FakeStream> FakeTransport::AddStream(std::string_view path, HttpResponse head) {
  auto stream = std::make_shared<FakeStream>(std::move(head), clock_);
  absl::MutexLock lock(&mu_);
  streams_[std::string(path)].push_back(stream);
  return stream;
}

std::shared_ptr<FakeStream> FakeTransport::ReplyStream(std::string_view path, int status,
                                                       std::string body) {
  std::shared_ptr<FakeStream> stream = AddStream(path, HttpResponse{status, {}, ""});
  if (!body.empty()) stream->Push(std::move(body));
  stream->End();
  return stream;
}

void FakeTransport::FailOpen(std::string_view path, absl::Status error) {
  absl::MutexLock lock(&mu_);
  streams_[std::string(path)].push_back(std::move(error));
}

void FakeTransport::Hang(bool hang) {
  absl::MutexLock lock(&mu_);
  hang_ = hang;
}

int FakeTransport::in_flight() const {
  absl::MutexLock lock(&mu_);
  return in_flight_;
}

std::vector<RecordedRequest> FakeTransport::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

int FakeTransport::Count(std::string_view method) const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(
      std::count_if(requests_.begin(), requests_.end(),
                    [&](const RecordedRequest& r) { return r.request.method == method; }));
}

void FakeTransport::ClearRequests() {
  absl::MutexLock lock(&mu_);
  requests_.clear();
}

bool FakeTransport::AwaitRequests(
    const std::function<bool(const std::vector<RecordedRequest>&)>& done,
    absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto holds = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done(requests_); };
  return mu_.AwaitWithTimeout(absl::Condition(&holds), timeout);
}

size_t FakeTransport::pending() const {
  absl::MutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& [route, answers] : answers_) n += answers.size();
  for (const auto& [path, streams] : streams_) n += streams.size();
  return n;
}

void FakeTransport::Enter() {
  absl::MutexLock lock(&mu_);
  ++in_flight_;
  mu_.Await(absl::Condition(
      +[](bool* hang) { return !*hang; }, &hang_));
}

void FakeTransport::Record(RecordedRequest record) {
  absl::MutexLock lock(&mu_);
  requests_.push_back(std::move(record));
  --in_flight_;
}

absl::StatusOr<HttpResponse> FakeTransport::Send(const HttpRequest& request,
                                                 absl::Duration timeout) {
  Enter();
  absl::MutexLock serve(&serve_mu_);
  std::optional<Answer> answer;
  Handler handler;
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& key :
         {RouteKey(request.method, PathOf(request.path_and_query)), std::string()}) {
      auto it = answers_.find(key);
      if (it == answers_.end() || it->second.empty()) continue;
      answer = std::move(it->second.front());
      it->second.pop_front();
      break;
    }
    if (!answer.has_value()) handler = handler_;
  }
  RecordedRequest record{request, /*streamed=*/false, timeout, clock_.Now()};
  if (!answer.has_value()) {
    answer = handler ? handler(request)
                     : Answer(absl::InternalError(
                           absl::StrCat("fake transport: unscripted request ", request.method, " ",
                                        request.path_and_query)));
  }
  if (answer->ok()) {
    record.status = (*answer)->status;
  } else {
    record.error = answer->status();
  }
  Record(std::move(record));
  return *std::move(answer);
}

absl::StatusOr<std::unique_ptr<HttpStream>> FakeTransport::Open(const HttpRequest& request) {
  Enter();
  absl::MutexLock serve(&serve_mu_);
  StreamAnswer answer = absl::InternalError(
      absl::StrCat("fake transport: unscripted request ", request.method, " ",
                   request.path_and_query, " (no stream scripted for its path)"));
  {
    absl::MutexLock lock(&mu_);
    auto it = streams_.find(PathOf(request.path_and_query));
    if (it != streams_.end() && !it->second.empty()) {
      answer = std::move(it->second.front());
      it->second.pop_front();
    }
  }
  RecordedRequest record{request, /*streamed=*/true, absl::ZeroDuration(), clock_.Now()};
  if (!answer.ok()) {
    record.error = answer.status();
    Record(std::move(record));
    return answer.status();
  }
  record.status = (*answer)->head().status;
  Record(std::move(record));
  return std::make_unique<StreamReader>(*std::move(answer));
}

}  // namespace cohort::testing
