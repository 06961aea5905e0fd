#include "analytics/testing/random_events.h"

#include <algorithm>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"

namespace cohort::analytics::testing {

namespace {

// More $identify operations than the $set every one carries, drawn from `rng`: $add (fractions,
// so the order of the sum shows in the last bits; a string operand, ignored), $setOnce, $unset in
// its three shapes, $clearAll, plain keys (a numeric string "credits" that $add counts as 0).
//
// JSON operands are stored as the parser writes them back (numbers reprinted), so that events
// round-trip through any store unchanged.
PropertyValue JsonOperand(const char* json) {
  absl::StatusOr<Properties> parsed = ParseProperties(absl::StrCat(R"({"v":)", json, "}"));
  return parsed.ok() ? parsed->at("v") : PropertyValue::Null();
}

void AddIdentifyOperations(std::mt19937_64& rng, Properties& user_properties) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  static const char* kAdds[] = {R"({"credits":0.1})", R"({"credits":0.2,"visits":1})",
                                R"({"credits":-2.5})", R"({"credits":"3"})", R"({"visits":1e16})"};
  static const char* kOnce[] = {R"({"credits":10})", R"({"first_plan":"pro"})",
                                R"({"first_plan":"free","credits":0.7})"};
  static const char* kUnset[] = {R"(["credits"])", R"("plan")", R"({"plan":1,"visits":0})"};
  if (pick(3) == 0) {
    user_properties["$add"] = JsonOperand(kAdds[pick(std::size(kAdds))]);
  }
  if (pick(4) == 0) {
    user_properties["$setOnce"] = JsonOperand(kOnce[pick(std::size(kOnce))]);
  }
  if (pick(6) == 0) {
    const char* unset = kUnset[pick(std::size(kUnset))];
    user_properties["$unset"] = JsonOperand(unset);
  }
  if (pick(12) == 0) user_properties["$clearAll"] = PropertyValue::Bool(true);
  if (pick(5) == 0) {
    if (pick(2)) {
      user_properties["tier"] = PropertyValue::String(pick(2) ? "gold" : "silver");
    } else {
      user_properties["credits"] = PropertyValue::String("5");
    }
  }
}

}  // namespace

std::vector<Event> RandomEvents(uint32_t seed, const RandomEventsOptions& options) {
  std::mt19937_64 rng(seed);
  // The extra $identify operations draw from their own generator, so that adding them changed
  // no other draw (every test's dataset is otherwise as it was).
  std::mt19937_64 operations_rng(seed ^ 0x9e3779b97f4a7c15ULL);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  static const char* kTypes[] = {"view",         "click",     "purchase",
                                 "signup",       "$identify", "dify.generate_conversation_name",
                                 "dify.message", "$exposure"};
  std::vector<Event> events;
  // A handful of instants shared by many events, for same-millisecond ties.
  std::vector<int64_t> hot_times;
  for (int i = 0; i < 5; ++i) hot_times.push_back(options.start_ms + pick(options.span_ms));
  for (int i = 0; i < options.events; ++i) {
    Event e;
    e.project = options.project;
    int actor = pick(options.actors);
    switch (pick(6)) {
      case 0:  // anonymous device
        e.device_id = absl::StrCat("d", actor);
        break;
      case 1:  // logged in on the actor's own device
      case 2:
        e.user_id = absl::StrCat("u", actor);
        e.device_id = absl::StrCat("d", actor);
        break;
      case 3:  // a shared device: another user on this device
        e.user_id = absl::StrCat("u", pick(options.actors));
        e.device_id = absl::StrCat("d", actor);
        break;
      default:  // server-side, user only
        e.user_id = absl::StrCat("u", actor);
    }
    e.event_type = kTypes[pick(static_cast<int>(std::size(kTypes)))];
    e.time_ms = pick(8) == 0 ? hot_times[pick(static_cast<int>(hot_times.size()))]
                             : options.start_ms + pick(options.span_ms);
    e.insert_id = absl::StrCat("i", pick(8) == 0 ? pick(20) : i);  // reused ids: dedup matters
    switch (pick(4)) {
      case 0:
        e.session_id = kNoSessionId;
        break;
      case 1:
        e.session_id = options.start_ms + pick(3) * 3'600'000;
        break;
      default:
        break;  // no session: sessionized by gap
    }
    if (pick(2)) e.event_properties["button"] = PropertyValue::String(pick(2) ? "buy" : "sell");
    if (pick(3) == 0) e.event_properties["price"] = PropertyValue::Number(pick(20) / 4.0);
    if (pick(5) == 0) e.event_properties["price"] = PropertyValue::String(std::to_string(pick(9)));
    if (e.event_type == "$exposure") {
      e.event_properties["variant"] = PropertyValue::String(pick(2) ? "control" : "treatment");
    }
    if (e.event_type == "$identify") {
      e.user_properties["$set"] =
          PropertyValue::Json(absl::StrCat(R"({"plan":")", pick(2) ? "pro" : "free", R"("})"));
      AddIdentifyOperations(operations_rng, e.user_properties);
    } else if (pick(6) == 0) {
      e.user_properties["country"] = PropertyValue::String(pick(2) ? "CN" : "US");
    }
    events.push_back(std::move(e));
    // Resend an earlier event (a client retry), sometimes with a different time.
    if (pick(10) == 0) {
      Event copy = events[pick(static_cast<int>(events.size()))];
      if (pick(3) == 0) copy.time_ms += 1000;
      copy.event_type = "resent";  // if it wins over the original, the numbers show it
      events.push_back(std::move(copy));
    }
  }
  // Out-of-order arrival: shuffle a window of the arrival order.
  for (size_t i = 0; i + 1 < events.size(); i += 7) {
    std::swap(events[i],
              events[i + 1 + pick(static_cast<int>(std::min<size_t>(5, events.size() - i - 1)))]);
  }
  return events;
}

PropertyFilter MakeFilter(PropertyRef::Scope scope, std::string key, FilterOp op,
                          std::vector<PropertyValue> values) {
  return PropertyFilter{PropertyRef{scope, std::move(key)}, op, std::move(values)};
}

EventSelector RandomSelector(std::mt19937& rng, const std::vector<const char*>& types) {
  EventSelector selector;
  selector.event_type = types[rng() % types.size()];
  switch (rng() % 8) {
    case 0:
      selector.filters.push_back(MakeFilter(PropertyRef::Scope::kEvent, "button", FilterOp::kEquals,
                                            {PropertyValue::String(rng() % 2 ? "buy" : "sell")}));
      break;
    case 1:
      selector.filters.push_back(
          MakeFilter(PropertyRef::Scope::kEvent, "price", FilterOp::kGreater,
                     {PropertyValue::Number(static_cast<double>(rng() % 5))}));
      break;
    case 2:
      selector.filters.push_back(MakeFilter(PropertyRef::Scope::kUser, "plan", FilterOp::kEquals,
                                            {PropertyValue::String(rng() % 2 ? "pro" : "free")}));
      break;
    case 3:
      if (rng() % 2) {
        selector.filters.push_back(MakeFilter(PropertyRef::Scope::kUser, "country",
                                              FilterOp::kNotEquals, {PropertyValue::String("CN")}));
      } else {
        selector.filters.push_back(MakeFilter(PropertyRef::Scope::kUser, "credits", FilterOp::kLess,
                                              {PropertyValue::Number(1)}));
      }
      break;
    default:
      break;
  }
  return selector;
}

}  // namespace cohort::analytics::testing
