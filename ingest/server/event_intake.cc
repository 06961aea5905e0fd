// Mapping → rate limits → dedup → WAL (event_intake.h).
#include "ingest/server/event_intake.h"

#include <memory>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "ingest/event/event_codec.h"

namespace cohort::ingest {
namespace {

// A request between its hand-over to the writer and its outcome.
struct Pending {
  EventSource source = EventSource::kAmplitude;
  // Dedup fingerprints of the events written, remembered once they are durable. (The events
  // themselves are freed as soon as they are encoded.)
  std::vector<DedupWindow::Fingerprint> written;
  IntakeOutcome outcome;
  EventIntake::Done done;
};

}  // namespace

DedupKey DedupKeyOf(const Event& event) {
  return {event.project, event.device_id.empty() ? event.user_id : event.device_id,
          event.insert_id};
}

EventIntake::EventIntake(EventIntakeOptions options) : options_(std::move(options)) {}

void EventIntake::Submit(std::vector<Event> events, Done done, SubmitOptions submit) {
  auto pending = std::make_shared<Pending>();
  IntakeOutcome& outcome = pending->outcome;
  if (!events.empty()) pending->source = events.front().source;
  IngestMetrics* metrics = options_.metrics;
  // Counts the outcome of every event and hands it over.
  auto finish = [metrics, total = static_cast<int64_t>(events.size())](
                    EventSource source, IntakeOutcome result, const Done& callback) {
    if (metrics != nullptr) {
      metrics->CountEvents(source, EventOutcome::kDropped, result.dropped);
      switch (result.kind) {
        case IntakeOutcome::Kind::kStored:
          metrics->CountEvents(source, EventOutcome::kStored, result.written);
          metrics->CountEvents(source, EventOutcome::kDuplicate, result.duplicates);
          break;
        case IntakeOutcome::Kind::kThrottled:
          metrics->CountEvents(source, EventOutcome::kThrottled, total - result.dropped);
          break;
        case IntakeOutcome::Kind::kUnavailable:
          metrics->CountEvents(source, EventOutcome::kUnavailable, total - result.dropped);
          break;
        case IntakeOutcome::Kind::kFailed:
          metrics->CountEvents(source, EventOutcome::kFailed, total - result.dropped);
          break;
        case IntakeOutcome::Kind::kInvalid:
          metrics->CountRejectedRequest(source, "no_identity");
          break;
      }
    }
    callback(std::move(result));
  };

  // Mapping rules first: they may rename, drop, or set the ids the limits and dedup key on.
  // `origin[i]` is the index in `events` of the i-th kept event, for throttled_events.
  std::vector<int64_t> origin;
  std::vector<Event> kept_events;
  if (options_.mapper) {
    kept_events.reserve(events.size());
    origin.reserve(events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      if (options_.mapper(events[i])) {
        kept_events.push_back(std::move(events[i]));
        origin.push_back(static_cast<int64_t>(i));
      } else {
        ++outcome.dropped;
      }
    }
  } else {
    kept_events = std::move(events);
  }
  const std::vector<Event>& kept = kept_events;
  auto index_of = [&origin](size_t i) {
    return origin.empty() ? static_cast<int64_t>(i) : origin[i];
  };

  if (submit.require_identity) {
    for (size_t i = 0; i < kept.size(); ++i) {
      if (kept[i].user_id.empty() && kept[i].device_id.empty()) {
        outcome.invalid_events.push_back(index_of(i));
      }
    }
    if (!outcome.invalid_events.empty()) {
      outcome.kind = IntakeOutcome::Kind::kInvalid;
      finish(pending->source, std::move(outcome), done);
      return;
    }
  }

  // Rate limits: one token per event from its device's and its user's bucket, all or nothing.
  std::vector<ActorDemand> demands;
  demands.reserve(kept.size() * 2);
  for (const Event& e : kept) {
    if (!e.device_id.empty()) demands.push_back({ActorKind::kDevice, e.project, e.device_id, 1});
    if (!e.user_id.empty()) demands.push_back({ActorKind::kUser, e.project, e.user_id, 1});
  }
  outcome.throttled = options_.limiter->Admit(demands);
  if (!outcome.throttled.empty()) {
    outcome.kind = IntakeOutcome::Kind::kThrottled;
    // A request comes with one API key, so its events share one project.
    absl::flat_hash_set<std::string_view> devices, users;
    for (const ThrottledActor& a : outcome.throttled) {
      (a.kind == ActorKind::kDevice ? devices : users).insert(a.id);
    }
    for (size_t i = 0; i < kept.size(); ++i) {
      const Event& e = kept[i];
      if ((!e.device_id.empty() && devices.contains(e.device_id)) ||
          (!e.user_id.empty() && users.contains(e.user_id))) {
        outcome.throttled_events.push_back(index_of(i));
      }
    }
    finish(pending->source, std::move(outcome), done);
    return;
  }

  // Dedup, then the WAL for what is new.
  std::vector<DedupKey> keys;
  keys.reserve(kept.size());
  for (const Event& e : kept) keys.push_back(DedupKeyOf(e));
  std::vector<DedupWindow::Fingerprint> fingerprints;
  const std::vector<bool> fresh = options_.dedup->FilterNew(keys, &fingerprints);
  EncodedRecords records;
  size_t bound = 0;
  for (size_t i = 0; i < kept.size(); ++i) bound += fresh[i] ? EncodedSizeBound(kept[i]) : 0;
  records.data.reserve(bound);
  records.ends.reserve(kept.size());
  for (size_t i = 0; i < kept.size(); ++i) {
    if (!fresh[i]) {
      ++outcome.duplicates;
      continue;
    }
    AppendEncodedEvent(kept[i], &records.data);
    records.EndRecord();
    if (!keys[i].id.empty()) pending->written.push_back(fingerprints[i]);
  }
  outcome.written = static_cast<int64_t>(records.size());
  if (records.empty()) {  // all dropped or duplicates: nothing new to store
    finish(pending->source, std::move(outcome), done);
    return;
  }
  pending->done = std::move(done);
  DedupWindow* dedup = options_.dedup;
  const bool queued =
      options_.writer->Submit(std::move(records), [pending, dedup, finish](absl::Status written) {
        IntakeOutcome& result = pending->outcome;
        if (written.ok()) {
          dedup->RememberFingerprints(pending->written);
        } else {
          result.kind = absl::IsResourceExhausted(written) || absl::IsFailedPrecondition(written)
                            ? IntakeOutcome::Kind::kUnavailable
                            : IntakeOutcome::Kind::kFailed;
          result.status = std::move(written);
          result.written = 0;
        }
        finish(pending->source, std::move(result), pending->done);
      });
  if (!queued) {
    outcome.kind = IntakeOutcome::Kind::kUnavailable;
    outcome.status = absl::ResourceExhaustedError("the write queue is full");
    outcome.written = 0;
    finish(pending->source, std::move(outcome), pending->done);
  }
}

}  // namespace cohort::ingest
