// Small builders for the reference engine's hand-written test datasets (tests only).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "analytics/model/event.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"
#include "analytics/reference/reference_engine.h"

namespace cohort::analytics::testing {

inline constexpr char kProject[] = "p";
inline constexpr int64_t kMinute = 60'000;
inline constexpr int64_t kHour = 60 * kMinute;
inline constexpr int64_t kDay = 24 * kHour;

// Milliseconds of a civil time in `zone` (UTC by default).
inline int64_t At(int y, int mo, int d, int h = 0, int mi = 0, int s = 0,
                  const char* zone = "UTC") {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone(zone, &tz)) << zone;
  return absl::ToUnixMillis(absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), tz));
}

// An event of project kProject. Insert ids default to a counter, so events made later in a test
// sort later among events of the same millisecond.
inline Event Ev(std::string type, int64_t time_ms, std::string user, std::string device = "",
                std::string insert_id = "") {
  static int counter = 0;
  Event e;
  e.project = kProject;
  e.event_type = std::move(type);
  e.user_id = std::move(user);
  e.device_id = std::move(device);
  e.time_ms = time_ms;
  char id[16];
  std::snprintf(id, sizeof id, "n%08d", ++counter);
  e.insert_id = insert_id.empty() ? id : std::move(insert_id);
  return e;
}

inline Event With(Event e, const std::string& key, PropertyValue value) {
  e.event_properties[key] = std::move(value);
  return e;
}

inline QueryScope Scope(int64_t from_ms, int64_t to_ms, std::string zone = "UTC") {
  QueryScope scope;
  scope.project = kProject;
  scope.from_ms = from_ms;
  scope.to_ms = to_ms;
  scope.time_zone = std::move(zone);
  return scope;
}

// Runs `query` and returns its result as R (failing the test on an error).
template <typename R>
R RunAs(const ReferenceEngine& engine, const Query& query) {
  absl::StatusOr<Result> result = engine.Run(query);
  EXPECT_TRUE(result.ok()) << result.status();
  if (!result.ok() || !std::holds_alternative<R>(*result)) {
    ADD_FAILURE() << "no result of the expected type";
    return R{};
  }
  return std::get<R>(*std::move(result));
}

// The actors of one cell, all pages of `page_size` joined.
inline std::vector<std::string> CellActors(const ReferenceEngine& engine, const Query& query,
                                           CellRef cell, int page_size = 100) {
  std::vector<std::string> actors;
  std::string after;
  while (true) {
    absl::StatusOr<ActorsPage> page = engine.Actors(query, cell, after, page_size);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) return actors;
    actors.insert(actors.end(), page->actors.begin(), page->actors.end());
    if (!page->more || page->actors.empty()) return actors;
    after = page->actors.back();
  }
}

}  // namespace cohort::analytics::testing
