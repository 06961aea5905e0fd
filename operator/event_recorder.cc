#include "operator/event_recorder.h"

#include <unistd.h>

#include <algorithm>
#include <list>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "operator/api_error.h"
#include "operator/rate_limiter.h"
#include "operator/resource.h"
#include "spdlog/spdlog.h"

namespace cohort::op {
namespace {

using nlohmann::json;

// The API server's limits (pkg/apis/core/validation/events.go).
constexpr size_t kReasonLimit = 128;
constexpr size_t kActionLimit = 128;
constexpr size_t kNoteLimit = 1024;
constexpr size_t kReportingInstanceLimit = 128;
constexpr size_t kNameLimit = 253;

// metav1.MicroTime: RFC 3339 with microseconds, in UTC.
std::string MicroTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

// The length of the valid UTF-8 sequence at the start of `s`, or 0 if it is not one.
size_t Utf8SequenceLength(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(1) > 0x9F) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
    if (c == 0xF4 && b(1) > 0x8F) return 0;  // beyond U+10FFFF
    return 4;
  }
  return 0;
}

// `in` as valid UTF-8 (each invalid byte replaced by U+FFFD) of at most `max_bytes`, cut at a
// character boundary.
std::string SanitizeUtf8(std::string_view in, size_t max_bytes) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(std::min(in.size(), max_bytes));
  size_t i = 0;
  while (i < in.size()) {
    const size_t n = Utf8SequenceLength(in.substr(i));
    const std::string_view piece = n > 0 ? in.substr(i, n) : kReplacement;
    if (out.size() + piece.size() > max_bytes) break;
    out.append(piece);
    i += n > 0 ? n : 1;
  }
  return out;
}

bool IsDns1123Subdomain(std::string_view s) {
  if (s.empty() || s.size() > kNameLimit) return false;
  while (!s.empty()) {
    const size_t dot = s.find('.');
    const std::string_view label = s.substr(0, dot);
    s = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
    if (dot != std::string_view::npos && s.empty()) return false;  // a trailing dot
    if (label.empty() || !absl::ascii_isalnum(label.front()) ||
        !absl::ascii_isalnum(label.back())) {
      return false;
    }
    for (char c : label) {
      if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-')) return false;
    }
  }
  return true;
}

// As apimachinery's IsQualifiedName: [prefix/]name, name ≤ 63 of [A-Za-z0-9_.-] starting and
// ending alphanumeric, prefix a DNS subdomain.
bool IsQualifiedName(std::string_view s) {
  std::string_view name = s;
  if (size_t slash = s.find('/'); slash != std::string_view::npos) {
    if (!IsDns1123Subdomain(s.substr(0, slash))) return false;
    name = s.substr(slash + 1);
  }
  if (name.empty() || name.size() > 63) return false;
  if (!absl::ascii_isalnum(name.front()) || !absl::ascii_isalnum(name.back())) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.';
  });
}

// A DNS-subdomain-safe prefix for Event names from the regarding object's name.
std::string NamePrefix(std::string_view name) {
  std::string out;
  for (char c : name) {
    c = absl::ascii_tolower(c);
    out.push_back(absl::ascii_isalnum(c) || c == '-' || c == '.' ? c : '-');
  }
  out.resize(std::min(out.size(), kNameLimit - 17));  // room for ".<16 hex digits>"
  while (!out.empty() && !absl::ascii_isalnum(out.back())) out.pop_back();
  size_t start = 0;
  while (start < out.size() && !absl::ascii_isalnum(out[start])) ++start;
  out.erase(0, start);
  return out.empty() ? "event" : out;
}

std::string Hostname() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') return "unknown-host";
  return host;
}

json RefJson(const ObjectReference& r) {
  json out = json::object();
  if (!r.api_version.empty()) out["apiVersion"] = r.api_version;
  if (!r.kind.empty()) out["kind"] = r.kind;
  if (!r.ns.empty()) out["namespace"] = r.ns;
  if (!r.name.empty()) out["name"] = r.name;
  if (!r.uid.empty()) out["uid"] = r.uid;
  return out;
}

}  // namespace

ObjectReference ObjectReference::From(const json& object) {
  ObjectReference r;
  if (!object.is_object()) return r;
  auto str = [](const json& o, const char* key) {
    auto it = o.find(key);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  r.api_version = str(object, "apiVersion");
  r.kind = str(object, "kind");
  if (auto m = object.find("metadata"); m != object.end() && m->is_object()) {
    r.ns = str(*m, "namespace");
    r.name = str(*m, "name");
    r.uid = str(*m, "uid");
  }
  return r;
}

// The background thread's state: the series being aggregated and the per-object rate limiters,
// each an LRU. Touched by that thread only, so it needs no lock.
class EventRecorder::Worker {
 public:
  Worker(EventRecorder& recorder) : r_(recorder) {}

  // Counts `o` into its series, or creates its Event.
  void Process(const Occurrence& o, absl::Time give_up) {
    const std::string key = KeyOf(o);
    if (auto it = index_.find(key); it != index_.end()) {
      Series& s = *it->second;
      if (o.time - s.last_observed <= r_.options_.series_window) {
        ++s.count;
        s.last_observed = std::max(s.last_observed, o.time);
        s.dirty = true;
        series_.splice(series_.begin(), series_, it->second);
        return;
      }
      // The series ended; a new one starts with a new Event.
      Evict(it->second);
    }
    if (r_.clock_.Now() >= give_up) {
      r_.counters_.dropped_queue_full++;
      return;
    }
    if (!LimiterFor(o.regarding).TryAccept()) {
      r_.counters_.dropped_rate_limited++;
      return;
    }
    Series s;
    s.key = key;
    s.ns = o.regarding.ns.empty() ? "default" : o.regarding.ns;
    s.prefix = NamePrefix(o.regarding.name);
    s.count = 1;
    s.last_observed = o.time;
    s.event = {{"apiVersion", resources::kEvents.ApiVersion()},
               {"kind", resources::kEvents.kind},
               {"metadata", {{"namespace", s.ns}}},
               {"eventTime", MicroTime(o.time)},
               {"reportingController", r_.options_.reporting_controller},
               {"reportingInstance", r_.options_.reporting_instance},
               {"action", o.action},
               {"reason", o.reason},
               {"type", o.type == EventType::kWarning ? "Warning" : "Normal"},
               {"regarding", RefJson(o.regarding)}};
    if (!o.note.empty()) s.event["note"] = o.note;
    // The interval counts from when the Event was sent.
    s.next_write = r_.clock_.Now() + r_.options_.series_update_interval;
    if (!CreateEvent(s, /*with_series=*/false)) return;
    series_.push_front(std::move(s));
    index_[key] = series_.begin();
    while (series_.size() > r_.options_.max_tracked) Evict(std::prev(series_.end()));
  }

  // Writes the series counts that are due (all of them if `force`, until `give_up`). Returns when
  // the next one falls due.
  absl::Time WriteDue(bool force, absl::Time give_up) {
    absl::Time next = absl::InfiniteFuture();
    for (Series& s : series_) {
      if (!s.dirty) continue;
      const absl::Time now = r_.clock_.Now();
      if ((force && now < give_up) || now >= s.next_write) WriteSeries(s, force);
      if (s.dirty) next = std::min(next, s.next_write);
    }
    return next;
  }

  // Forgets series that ended and have nothing left to write.
  void Sweep() {
    const absl::Time now = r_.clock_.Now();
    for (auto it = series_.begin(); it != series_.end();) {
      if (!it->dirty && now - it->last_observed > r_.options_.series_window) {
        index_.erase(it->key);
        it = series_.erase(it);
      } else {
        ++it;
      }
    }
  }

 private:
  struct Series {
    std::string key;
    std::string ns;
    std::string prefix;
    json event;  // as created; the name in metadata.name
    int64_t count = 1;
    absl::Time last_observed;
    bool dirty = false;     // count or lastObservedTime not yet written
    absl::Time next_write;  // the earliest time the series may be written again
  };
  using SeriesList = std::list<Series>;

  static std::string KeyOf(const Occurrence& o) {
    const ObjectReference& r = o.regarding;
    return json::array({r.api_version, r.kind, r.ns, r.name, r.uid,
                        o.type == EventType::kWarning ? "Warning" : "Normal", o.reason, o.action,
                        o.note})
        .dump();
  }

  TokenBucket& LimiterFor(const ObjectReference& r) {
    const std::string key = json::array({r.api_version, r.kind, r.ns, r.name, r.uid}).dump();
    if (auto it = limiter_index_.find(key); it != limiter_index_.end()) {
      limiters_.splice(limiters_.begin(), limiters_, it->second);
      return *it->second->second;
    }
    limiters_.emplace_front(
        key, std::make_unique<TokenBucket>(r_.options_.per_object_qps, r_.options_.per_object_burst,
                                           r_.clock_));
    limiter_index_[key] = limiters_.begin();
    while (limiters_.size() > r_.options_.max_tracked) {
      limiter_index_.erase(limiters_.back().first);
      limiters_.pop_back();
    }
    return *limiters_.front().second;
  }

  // A name not used before by this recorder: "<prefix>.<hex of the Unix time in ns>".
  std::string NewName(const std::string& prefix) {
    last_nanos_ = std::max(absl::ToUnixNanos(r_.clock_.Now()), last_nanos_ + 1);
    return absl::StrCat(prefix, ".", absl::Hex(last_nanos_));
  }

  bool CreateEvent(Series& s, bool with_series) {
    json event = s.event;
    event["metadata"]["name"] = NewName(s.prefix);
    if (with_series) {
      event["series"] = {{"count", s.count}, {"lastObservedTime", MicroTime(s.last_observed)}};
    }
    absl::StatusOr<json> created = r_.client_.Create(resources::kEvents, s.ns, event);
    if (!created.ok()) {
      r_.counters_.write_errors++;
      spdlog::warn("event {} {} for {}/{}: create failed: {}", s.event.value("type", ""),
                   s.event.value("reason", ""), s.ns, s.event["regarding"].value("name", ""),
                   created.status().ToString());
      return false;
    }
    r_.counters_.created++;
    s.event["metadata"]["name"] = event["metadata"]["name"];
    return true;
  }

  void WriteSeries(Series& s, bool force) {
    const absl::Time now = r_.clock_.Now();
    if (!force && !LimiterFor(RefOf(s)).TryAccept()) {
      s.next_write = now + absl::Seconds(1.0 / r_.options_.per_object_qps);
      return;
    }
    s.next_write = now + r_.options_.series_update_interval;
    const json patch = {
        {"series", {{"count", s.count}, {"lastObservedTime", MicroTime(s.last_observed)}}}};
    const std::string name = s.event["metadata"].value("name", "");
    absl::StatusOr<json> patched =
        r_.client_.Patch(resources::kEvents, s.ns, name, PatchType::kMerge, patch.dump());
    if (patched.ok()) {
      r_.counters_.series_updates++;
      s.dirty = false;
      return;
    }
    if (apierrors::IsNotFound(patched.status())) {
      // The Event expired (--event-ttl); start again with one that carries the series.
      if (CreateEvent(s, /*with_series=*/true)) s.dirty = false;
      return;
    }
    r_.counters_.write_errors++;
    spdlog::warn("event {} for {}/{}: updating its series failed: {}", s.event.value("reason", ""),
                 s.ns, s.event["regarding"].value("name", ""), patched.status().ToString());
    // Writing an absolute count is idempotent, so transient failures are retried next time.
    if (!apierrors::IsRetryable(patched.status(), "GET")) s.dirty = false;
  }

  static ObjectReference RefOf(const Series& s) {
    const json& r = s.event["regarding"];
    return ObjectReference{r.value("apiVersion", ""), r.value("kind", ""), r.value("namespace", ""),
                           r.value("name", ""), r.value("uid", "")};
  }

  void Evict(SeriesList::iterator it) {
    if (it->dirty) WriteSeries(*it, /*force=*/true);
    index_.erase(it->key);
    series_.erase(it);
  }

  EventRecorder& r_;
  SeriesList series_;  // most recently observed first
  absl::flat_hash_map<std::string, SeriesList::iterator> index_;
  using Limiters = std::list<std::pair<std::string, std::unique_ptr<TokenBucket>>>;
  Limiters limiters_;  // most recently used first
  absl::flat_hash_map<std::string, Limiters::iterator> limiter_index_;
  int64_t last_nanos_ = 0;
};

absl::StatusOr<std::unique_ptr<EventRecorder>> EventRecorder::Create(KubeClient& client,
                                                                     EventRecorderOptions options,
                                                                     Clock& clock) {
  if (!IsQualifiedName(options.reporting_controller)) {
    return absl::InvalidArgumentError(
        absl::StrCat("reportingController must be a qualified name (e.g. example.com/name), got \"",
                     options.reporting_controller, "\""));
  }
  if (options.reporting_instance.empty()) {
    options.reporting_instance = SanitizeUtf8(
        absl::StrCat(options.reporting_controller, "-", Hostname()), kReportingInstanceLimit);
  }
  if (options.reporting_instance.size() > kReportingInstanceLimit) {
    return absl::InvalidArgumentError("reportingInstance can have at most 128 bytes");
  }
  if (options.queue_capacity < 1 || options.max_tracked < 1) {
    return absl::InvalidArgumentError("queue_capacity and max_tracked must be at least 1");
  }
  if (!(options.per_object_qps > 0) || options.per_object_burst < 1) {
    return absl::InvalidArgumentError("per_object_qps must be > 0 and per_object_burst >= 1");
  }
  if (options.series_window <= absl::ZeroDuration() ||
      options.series_update_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "series_window must be positive and series_update_interval not negative");
  }
  std::unique_ptr<EventRecorder> recorder(new EventRecorder(client, std::move(options), clock));
  recorder->thread_ = std::thread([r = recorder.get()] { r->Run(); });
  return recorder;
}

EventRecorder::EventRecorder(KubeClient& client, EventRecorderOptions options, Clock& clock)
    : client_(client),
      options_(std::move(options)),
      clock_(clock),
      worker_(std::make_unique<Worker>(*this)) {}

EventRecorder::~EventRecorder() { Stop(); }

void EventRecorder::Record(const ObjectReference& regarding, EventType type,
                           std::string_view reason, std::string_view action,
                           std::string_view note) {
  Occurrence o{regarding,
               type,
               SanitizeUtf8(reason, kReasonLimit),
               SanitizeUtf8(action, kActionLimit),
               SanitizeUtf8(note, kNoteLimit),
               clock_.Now()};
  if (o.reason.empty() || o.action.empty()) {
    counters_.dropped_invalid++;
    spdlog::error("event for {}/{} dropped: it needs a reason and an action", regarding.ns,
                  regarding.name);
    return;
  }
  absl::MutexLock lock(&mu_);
  if (stop_ || queue_.size() >= options_.queue_capacity) {
    counters_.dropped_queue_full++;
    return;
  }
  queue_.push_back(std::move(o));
  counters_.recorded++;
}

absl::Status EventRecorder::Flush(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  const uint64_t ticket = ++flush_requested_;
  auto done = [this, ticket]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return flushed_ >= ticket || exited_; };
  if (!clock_.AwaitWithDeadline(mu_, absl::Condition(&done), clock_.Now() + timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("events not written within ", absl::FormatDuration(timeout)));
  }
  return absl::OkStatus();
}

void EventRecorder::Stop(absl::Duration timeout) {
  {
    absl::MutexLock lock(&mu_);
    if (!stop_) {
      stop_ = true;
      stop_deadline_ = clock_.Now() + timeout;
    }
  }
  if (thread_.joinable()) thread_.join();
}

EventRecorderStats EventRecorder::stats() const {
  EventRecorderStats s;
  s.recorded = counters_.recorded.load();
  s.created = counters_.created.load();
  s.series_updates = counters_.series_updates.load();
  s.dropped_queue_full = counters_.dropped_queue_full.load();
  s.dropped_rate_limited = counters_.dropped_rate_limited.load();
  s.dropped_invalid = counters_.dropped_invalid.load();
  s.write_errors = counters_.write_errors.load();
  return s;
}

void EventRecorder::Run() {
  absl::Time next_due = absl::InfiniteFuture();
  while (true) {
    std::deque<Occurrence> batch;
    uint64_t flush_target;
    bool flush;
    bool stopping;
    absl::Time give_up;
    {
      absl::MutexLock lock(&mu_);
      auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !queue_.empty() || stop_ || flush_requested_ > flushed_;
      };
      clock_.AwaitWithDeadline(mu_, absl::Condition(&wake), next_due);
      batch.swap(queue_);
      flush_target = flush_requested_;
      flush = flush_requested_ > flushed_;
      stopping = stop_;
      give_up = stopping ? stop_deadline_ : absl::InfiniteFuture();
    }
    for (const Occurrence& o : batch) worker_->Process(o, give_up);
    next_due = worker_->WriteDue(/*force=*/flush || stopping, give_up);
    worker_->Sweep();
    absl::MutexLock lock(&mu_);
    flushed_ = flush_target;
    if (stopping) {
      exited_ = true;
      return;
    }
  }
}

}  // namespace cohort::op
