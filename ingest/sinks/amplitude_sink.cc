#include "ingest/sinks/amplitude_sink.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ingest/event/json_text.h"
#include "ingest/sinks/event_json.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace cohort::ingest::sinks {
namespace {

constexpr const char* kStates[] = {"ok", "retrying", "failing", "paused_invalid_api_key"};
constexpr int64_t kMaxBatchSize = 2000;

std::string Gzip(std::string_view data) {
  z_stream zs{};
  // 16 + MAX_WBITS: a gzip wrapper. Level 6: the usual balance for request bodies.
  if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return {};  // only on out-of-memory; the caller sends the body uncompressed then
  }
  std::string out(deflateBound(&zs, data.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return rc == Z_STREAM_END ? out : std::string();
}

absl::Duration Backoff(int attempt, absl::Duration base, absl::Duration cap) {
  absl::Duration d = base;
  for (int i = 1; i < attempt && d < cap; ++i) d *= 2;
  d = std::min(d, cap);
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return d * jitter(rng);
}

// Index lists of a 400 body: {"field": [i, ...]} objects, or a plain array (silenced_events).
void CollectIndexes(const nlohmann::json& value, const std::string& reason_prefix,
                    std::map<size_t, std::string>& out) {
  const auto add = [&](const nlohmann::json& list, const std::string& reason) {
    if (!list.is_array()) return;
    for (const nlohmann::json& i : list) {
      if (i.is_number_unsigned() || (i.is_number_integer() && i.get<int64_t>() >= 0)) {
        out.emplace(i.get<size_t>(), reason);
      }
    }
  };
  if (value.is_object()) {
    for (const auto& [field, list] : value.items()) add(list, reason_prefix + ":" + field);
  } else {
    add(value, reason_prefix);
  }
}

// The configured base URL without a trailing '/', so paths append cleanly.
std::string BaseUrl(const config::AmplitudeDestination& destination) {
  std::string url = config::AmplitudeBaseUrl(destination);
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

absl::StatusOr<std::unique_ptr<AmplitudeSink>> AmplitudeSink::Create(AmplitudeSinkOptions options) {
  if (options.client == nullptr || options.dead_letter == nullptr || options.registry == nullptr) {
    return absl::InvalidArgumentError("amplitude sink: client, dead_letter and registry required");
  }
  if (options.destination.batch_size < 1 || options.destination.batch_size > kMaxBatchSize) {
    return absl::InvalidArgumentError("amplitude sink: batch_size must be in [1, 2000]");
  }
  if (options.destination.api_key_file.empty()) {
    return absl::InvalidArgumentError("amplitude sink: api_key_file is required");
  }
  if (options.retry_base <= absl::ZeroDuration() || options.retry_cap < options.retry_base ||
      options.max_request_bytes < 1024) {
    return absl::InvalidArgumentError("amplitude sink: invalid retry or size options");
  }
  return std::unique_ptr<AmplitudeSink>(new AmplitudeSink(std::move(options)));
}

AmplitudeSink::AmplitudeSink(AmplitudeSinkOptions options)
    : options_(std::move(options)), base_url_(BaseUrl(options_.destination)) {
  state_gauge_ = &options_.registry->AddGaugeFamily("cohort_destination_state",
                                                    "1 for the destination's current state.",
                                                    {"destination", "state"});
  requests_ = &options_.registry->AddCounterFamily(
      "cohort_destination_requests_total",
      "Requests sent to the destination, by HTTP status (\"error\": no answer).",
      {"destination", "status"});
  absl::MutexLock lock(&mu_);
  RefreshState("");
}

void AmplitudeSink::RefreshState(const std::string& detail) {
  std::string state = refused_key_fingerprint_ ? "paused_invalid_api_key"
                      : failing_ > 0           ? "failing"
                      : retrying_ > 0          ? "retrying"
                                               : "ok";
  if (state != state_) {
    if (!state_.empty()) {
      spdlog::info("destination {}: {} -> {} {}", options_.name, state_, state, detail);
    }
    for (const char* s : kStates) {
      state_gauge_->WithLabels({options_.name, s}).Set(state == s ? 1 : 0);
    }
    state_ = state;
  }
  if (!detail.empty() || state == "ok") detail_ = state == "ok" ? "" : detail;
}

AmplitudeSink::Health AmplitudeSink::health() const {
  absl::MutexLock lock(&mu_);
  return {state_, detail_};
}

absl::StatusOr<AmplitudeSink::Key> AmplitudeSink::ReadKey() {
  const std::string& path = options_.destination.api_key_file;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("API key file ", path, " is missing"));
  }
  const std::string fingerprint = absl::StrCat(st.st_dev, ":", st.st_ino, ":", st.st_size, ":",
                                               st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
  {
    absl::MutexLock lock(&mu_);
    if (key_ && key_->fingerprint == fingerprint) return *key_;
  }
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  if (!in && !in.eof()) {
    return absl::FailedPreconditionError(absl::StrCat("API key file ", path, " is unreadable"));
  }
  Key key{std::string(absl::StripAsciiWhitespace(line)), fingerprint};
  if (key.value.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("API key file ", path, " is empty"));
  }
  absl::MutexLock lock(&mu_);
  key_ = key;
  return key;
}

bool AmplitudeSink::Held(const Event& event, absl::Time now, absl::Time& until) const {
  absl::MutexLock lock(&mu_);
  bool held = false;
  for (const std::string& id :
       {absl::StrCat("u:", event.user_id), absl::StrCat("d:", event.device_id)}) {
    if (id.size() == 2) continue;  // no such id
    auto it = holds_.find(id);
    if (it != holds_.end() && it->second > now) {
      held = true;
      until = std::min(until, it->second);
    }
  }
  return held;
}

void AmplitudeSink::Hold(const std::string& id, bool user, absl::Time until) {
  absl::MutexLock lock(&mu_);
  absl::Time& t = holds_[absl::StrCat(user ? "u:" : "d:", id)];
  t = std::max(t, until);
}

absl::Status AmplitudeSink::DeadLetterEvents(const SinkBatch& batch,
                                             const std::vector<size_t>& indexes,
                                             const std::string& reason, const std::string& response,
                                             DeliveryControl& control) {
  std::vector<DeadLetter> letters;
  for (size_t i : indexes) {
    letters.push_back(DeadLetter{.sink = options_.name,
                                 .reason = reason,
                                 .position = batch.positions[i],
                                 .event = batch.events[i],
                                 .response = response});
  }
  absl::Status s = options_.dead_letter->Write(letters, control.Now());
  if (s.ok()) {
    control.CountDeadLettered(reason, static_cast<int64_t>(indexes.size()));
  } else {
    spdlog::warn("destination {}: writing the dead-letter file: {}", options_.name, s.ToString());
  }
  return s;
}

AmplitudeSink::Outcome AmplitudeSink::Attempt(const SinkBatch& batch, std::vector<size_t>& pending,
                                              size_t& max_events, DeliveryControl& control,
                                              absl::Time& wake) {
  const absl::Time now = control.Now();
  absl::StatusOr<Key> key = ReadKey();
  if (!key.ok()) {
    absl::MutexLock lock(&mu_);
    refused_key_fingerprint_ = "";  // paused until a readable key appears
    RefreshState(key.status().message().data());
    return Outcome::kPaused;
  }
  {
    absl::MutexLock lock(&mu_);
    if (refused_key_fingerprint_) {
      if (*refused_key_fingerprint_ == key->fingerprint) return Outcome::kPaused;
      refused_key_fingerprint_.reset();  // the key changed: try it
      RefreshState("API key file changed");
    }
  }

  // The request: pending events in log order, minus held ones, within the count and size caps.
  std::string body = "{\"api_key\":";
  AppendJsonString(key->value, &body);
  body.append(",\"events\":[");
  std::string suffix = "]";
  if (options_.min_id_length) {
    absl::StrAppend(&suffix, ",\"options\":{\"min_id_length\":", *options_.min_id_length, "}");
  }
  suffix.push_back('}');
  std::vector<size_t> send;
  absl::Time release = absl::InfiniteFuture();
  std::string event_json;
  for (size_t i : pending) {
    if (Held(batch.events[i], now, release)) continue;
    if (send.size() >= max_events) break;
    event_json.clear();
    AppendEventJson(batch.events[i], {}, &event_json);
    const size_t size = body.size() + (send.empty() ? 0 : 1) + event_json.size() + suffix.size();
    if (!send.empty() && size >= options_.max_request_bytes) break;
    if (!send.empty()) body.push_back(',');
    body.append(event_json);
    send.push_back(i);
  }
  if (send.empty()) {  // every pending event is held back
    wake = release;
    return Outcome::kProgress;
  }
  body.append(suffix);

  const bool bulk = control.lag_bytes() > options_.backlog_bytes;
  std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", "application/json"},
                                                              {"Accept", "*/*"}};
  std::string wire = Gzip(body);
  if (wire.empty()) {
    wire = std::move(body);
  } else {
    headers.emplace_back("Content-Encoding", "gzip");
  }
  absl::StatusOr<HttpResponse> response = options_.client->Post(
      absl::StrCat(base_url_, bulk ? "/batch" : "/2/httpapi"), headers, std::move(wire));
  if (!response.ok()) {
    requests_->WithLabels({options_.name, "error"}).Inc();
    spdlog::warn("destination {}: {} events: {}", options_.name, send.size(),
                 response.status().ToString());
    return Outcome::kBackoff;
  }
  requests_->WithLabels({options_.name, absl::StrCat(response->status)}).Inc();
  const auto remove = [&pending](const std::vector<size_t>& done) {
    std::vector<size_t> rest;
    std::set_difference(pending.begin(), pending.end(), done.begin(), done.end(),
                        std::back_inserter(rest));
    pending = std::move(rest);
  };
  const nlohmann::json json = nlohmann::json::parse(response->body, nullptr, false);
  const std::string error = json.is_object() && json.contains("error") && json["error"].is_string()
                                ? json["error"].get<std::string>()
                                : "";

  switch (response->status) {
    case 200:
      remove(send);
      return Outcome::kProgress;
    case 413:
      if (send.size() == 1) {
        if (!DeadLetterEvents(batch, send, "payload_too_large", response->body, control).ok()) {
          return Outcome::kBackoff;
        }
        remove(send);
      } else {
        max_events = std::max<size_t>(1, send.size() / 2);
      }
      return Outcome::kProgress;
    case 429: {
      absl::Time until = now + options_.throttle_hold;
      if (std::optional<std::string> retry_after = response->Header("Retry-After")) {
        int64_t seconds = 0;
        if (absl::SimpleAtoi(*retry_after, &seconds) && seconds >= 0) {
          until = now + absl::Seconds(seconds);
        }
      }
      // Events of ids over their daily quota go to the dead-letter file: Amplitude refuses them
      // until its day turns, and holding them that long would stall the whole destination (a
      // batch completes only when every event in it is done) and keep the log from being deleted.
      absl::flat_hash_set<std::string> over_quota;  // "u:<user_id>" / "d:<device_id>"
      int held = 0;
      if (json.is_object()) {
        for (const auto& [field, user, quota] :
             {std::tuple<const char*, bool, bool>{"throttled_users", true, false},
              {"throttled_devices", false, false},
              {"exceeded_daily_quota_users", true, true},
              {"exceeded_daily_quota_devices", false, true}}) {
          if (!json.contains(field) || !json[field].is_object()) continue;
          for (const auto& [id, count] : json[field].items()) {
            (void)count;
            if (quota) {
              over_quota.insert(absl::StrCat(user ? "u:" : "d:", id));
            } else {
              Hold(id, user, until);
              ++held;
            }
          }
        }
      }
      if (!over_quota.empty()) {
        std::vector<size_t> quota_events;
        for (size_t i : send) {
          const Event& e = batch.events[i];
          if ((!e.user_id.empty() && over_quota.contains(absl::StrCat("u:", e.user_id))) ||
              (!e.device_id.empty() && over_quota.contains(absl::StrCat("d:", e.device_id)))) {
            quota_events.push_back(i);
          }
        }
        if (!quota_events.empty()) {
          if (!DeadLetterEvents(batch, quota_events, "exceeded_daily_quota", response->body,
                                control)
                   .ok()) {
            return Outcome::kBackoff;
          }
          remove(quota_events);
          return Outcome::kProgress;  // the rest is sent again at once (throttled ids held)
        }
      }
      // Held ids that none of the sent events carry would make the next attempt the same
      // request at once: back off instead.
      bool any_sent_held = false;
      absl::Time ignored = absl::InfiniteFuture();
      for (size_t i : send) any_sent_held |= held > 0 && Held(batch.events[i], now, ignored);
      if (!any_sent_held) {
        wake = until;
        return Outcome::kBackoff;
      }
      return Outcome::kProgress;  // the others go on at once; held ids wait
    }
    case 400:
    case 401: {
      if (response->status == 401 || absl::StrContains(error, "Invalid API key")) {
        absl::MutexLock lock(&mu_);
        refused_key_fingerprint_ = key->fingerprint;
        RefreshState(absl::StrCat("Amplitude answered ", response->status, " ", error));
        return Outcome::kPaused;
      }
      std::map<size_t, std::string> rejected;  // index in `send` -> reason
      if (json.is_object()) {
        for (const auto& [field, reason] :
             {std::pair<const char*, const char*>{"events_with_invalid_fields", "invalid_field"},
              {"events_with_missing_fields", "missing_field"},
              {"events_with_invalid_id_lengths", "invalid_id_length"},
              {"silenced_events", "silenced"}}) {
          if (json.contains(field)) CollectIndexes(json[field], reason, rejected);
        }
      }
      std::map<std::string, std::vector<size_t>> by_reason;
      for (const auto& [index, reason] : rejected) {
        if (index < send.size()) by_reason[reason].push_back(send[index]);
      }
      if (by_reason.empty()) {
        // Rejected as a whole with no indexes: isolate the culprit by halving.
        if (send.size() > 1) {
          max_events = std::max<size_t>(1, send.size() / 2);
          return Outcome::kProgress;
        }
        by_reason["rejected"] = send;
      }
      for (auto& [reason, indexes] : by_reason) {
        std::sort(indexes.begin(), indexes.end());
        if (!DeadLetterEvents(batch, indexes, reason, response->body, control).ok()) {
          return Outcome::kBackoff;
        }
        remove(indexes);
      }
      return Outcome::kProgress;  // the rest is sent again at once
    }
    default:
      spdlog::warn("destination {}: {} events: HTTP {} {}", options_.name, send.size(),
                   response->status, response->body.substr(0, 200));
      return Outcome::kBackoff;
  }
}

absl::Status AmplitudeSink::Deliver(const SinkBatch& batch, DeliveryControl& control) {
  std::vector<size_t> pending(batch.events.size());
  for (size_t i = 0; i < pending.size(); ++i) pending[i] = i;
  size_t max_events = static_cast<size_t>(options_.destination.batch_size);
  int failures = 0;
  bool retrying = false, failing = false;
  const auto set_flags = [&](bool now_retrying, bool now_failing, const std::string& detail) {
    absl::MutexLock lock(&mu_);
    retrying_ += (now_retrying ? 1 : 0) - (retrying ? 1 : 0);
    failing_ += (now_failing ? 1 : 0) - (failing ? 1 : 0);
    retrying = now_retrying;
    failing = now_failing;
    RefreshState(detail);
  };
  absl::Status result = absl::OkStatus();
  while (!pending.empty()) {
    if (control.cancelled()) {
      result = absl::CancelledError("amplitude sink: stopping");
      break;
    }
    absl::Time wake = absl::InfinitePast();
    const Outcome outcome = Attempt(batch, pending, max_events, control, wake);
    absl::Time until = wake;
    if (outcome == Outcome::kBackoff) {
      ++failures;
      control.CountRetry();
      const bool now_failing = failures >= options_.destination.max_retries;
      set_flags(true, now_failing,
                absl::StrCat(failures, " failed attempts for ", pending.size(), " events"));
      until = std::max(until,
                       control.Now() + Backoff(failures, options_.retry_base, options_.retry_cap));
    } else if (outcome == Outcome::kPaused) {
      until = control.Now() + options_.key_check_interval;
    } else if (failures > 0) {
      failures = 0;
      set_flags(false, false, "");
    }
    if (until > control.Now() && !control.WaitUntil(until)) {
      result = absl::CancelledError("amplitude sink: stopping");
      break;
    }
  }
  if (retrying || failing) set_flags(false, false, "");
  return result;
}

}  // namespace cohort::ingest::sinks
