// DedupedEventsSql and SelectorSql on a real engine against the reference's timelines and
// Matches (reference/timeline.h): which events survive dedup, which actor each belongs to with
// and without identity merge, and which events every filter operator selects over properties of
// every kind (missing, null, booleans, numbers, numeric and non-numeric strings, JSON), and the
// user properties every event sees.
#include "analytics/clickhouse/clickhouse_events_sql.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "analytics/clickhouse/clickhouse_query_rows.h"
#include "analytics/clickhouse/clickhouse_user_properties_sql.h"
#include "analytics/clickhouse/testing/query_test_base.h"
#include "analytics/reference/timeline.h"
#include "analytics/testing/random_events.h"

namespace cohort::analytics::clickhouse {
namespace {

using ::cohort::analytics::testing::MakeFilter;

// (actor, insert_id, device_id, user_id, time_ms, event_type) of an event. The datasets' ids and
// types need no TSV escaping.
using Row = std::tuple<std::string, std::string, std::string, std::string, int64_t, std::string>;

class EventsSqlTest : public testing::ClickHouseQueryTest {
 protected:
  static std::set<Row> Selected(const EventSelector& selector, const QueryScope& scope) {
    std::string sql = absl::StrCat(
        "SELECT actor, insert_id, device_id, user_id, time_ms, event_type FROM ",
        DedupedEventsSql(Table(), scope), " AS e WHERE ", SelectorSql(selector, scope));
    absl::StatusOr<std::string> tsv = Sql().Query(sql, Format::kTabSeparated);
    EXPECT_TRUE(tsv.ok()) << tsv.status() << "\n" << sql;
    std::set<Row> rows;
    if (!tsv.ok()) return rows;
    for (absl::string_view line : absl::StrSplit(*tsv, '\n', absl::SkipEmpty())) {
      std::vector<std::string> f = absl::StrSplit(line, '\t');
      EXPECT_EQ(f.size(), 6u) << line;
      if (f.size() != 6) continue;
      int64_t t = 0;
      EXPECT_TRUE(absl::SimpleAtoi(f[4], &t)) << line;
      rows.emplace(f[0], f[1], f[2], f[3], t, f[5]);
    }
    return rows;
  }

  static std::set<Row> Expected(const std::vector<Event>& events, const EventSelector& selector,
                                const QueryScope& scope) {
    std::vector<Event> deduped = reference::Deduplicate(events);
    absl::StatusOr<reference::Timelines> timelines = reference::BuildTimelines(deduped, scope);
    EXPECT_TRUE(timelines.ok()) << timelines.status();
    std::set<Row> rows;
    if (!timelines.ok()) return rows;
    for (const reference::ActorTimeline& actor : timelines->actors) {
      for (const reference::TimelineEvent& e : actor.events) {
        if (!reference::Matches(selector, e)) continue;
        rows.emplace(actor.actor, e.event->insert_id, e.event->device_id, e.event->user_id,
                     e.event->time_ms, e.event->event_type);
      }
    }
    return rows;
  }
};

Event MakeEvent(std::string project, std::string user, std::string device, int64_t t,
                std::string insert_id, std::string type = "view") {
  Event e;
  e.project = std::move(project);
  e.user_id = std::move(user);
  e.device_id = std::move(device);
  e.time_ms = t;
  e.insert_id = std::move(insert_id);
  e.event_type = std::move(type);
  return e;
}

TEST_F(EventsSqlTest, DedupKeepsTheFirstArrivalAndMergesDevicesIntoTheirEarliestUser) {
  const int64_t t = 1'772'841'600'000;
  std::vector<Event> events = {
      MakeEvent("dedup", "", "d1", t + 50, "a"),          // d1 anonymous
      MakeEvent("dedup", "u2", "d1", t + 30, "c"),        // d1's earliest with both: u2 ...
      MakeEvent("dedup", "u1", "d1", t + 30, "b"),        // ... ties on time, "b" < "c": u1
      MakeEvent("dedup", "u1", "d1", t + 10, "z", "x"),   // ... but this one is earlier
      MakeEvent("dedup", "", "d2", t, "a"),               // d2 never logs in
      MakeEvent("dedup", "", "d1", t + 999, "a", "dup"),  // a resend at another time: dropped
      MakeEvent("dedup", "u1", "", t + 5, "z", "dup"),    // same group u1 and id "z": dropped
      MakeEvent("dedup", "u3", "d3", t + 1, "k"),
      MakeEvent("dedup", "", "d3", t + 1, "k"),  // same id, other group (device): kept
      MakeEvent("other", "", "d1", t, "q"),      // another project
  };
  Insert(events, 3);
  QueryScope scope;
  scope.project = "dedup";
  EventSelector all{kAnyEvent, {}};
  std::set<Row> merged = Selected(all, scope);
  EXPECT_EQ(merged, Expected(events, all, scope));
  EXPECT_EQ(merged, (std::set<Row>{{"u1", "a", "d1", "", t + 50, "view"},
                                   {"u2", "c", "d1", "u2", t + 30, "view"},
                                   {"u1", "b", "d1", "u1", t + 30, "view"},
                                   {"u1", "z", "d1", "u1", t + 10, "x"},
                                   {"device:d2", "a", "d2", "", t, "view"},
                                   {"u3", "k", "d3", "u3", t + 1, "view"},
                                   {"u3", "k", "d3", "", t + 1, "view"}}));
  scope.identity = IdentityMerge::kNone;
  std::set<Row> separate = Selected(all, scope);
  EXPECT_EQ(separate, Expected(events, all, scope));
  EXPECT_EQ(separate.count({"device:d1", "a", "d1", "", t + 50, "view"}), 1u);
}

TEST_F(EventsSqlTest, EveryFilterOperatorAgreesWithFilterMatchesOnEveryKindOfValue) {
  const std::vector<std::pair<std::string, std::optional<PropertyValue>>> kValues = {
      {"missing", std::nullopt},
      {"null", PropertyValue::Null()},
      {"true", PropertyValue::Bool(true)},
      {"false", PropertyValue::Bool(false)},
      {"zero", PropertyValue::Number(0)},
      {"minus-zero", PropertyValue::Number(-0.0)},
      {"three", PropertyValue::Number(3)},
      {"two-and-a-half", PropertyValue::Number(2.5)},
      {"tenth", PropertyValue::Number(0.1)},
      {"huge", PropertyValue::Number(1e21)},
      {"negative", PropertyValue::Number(-7.25)},
      {"s3", PropertyValue::String("3")},
      {"s2.5", PropertyValue::String("2.5")},
      {"s-space3", PropertyValue::String(" 3")},
      {"s1.", PropertyValue::String("1.")},
      {"s0x10", PropertyValue::String("0x10")},
      {"sNaN", PropertyValue::String("NaN")},
      {"s1e999", PropertyValue::String("1e999")},
      {"sabc", PropertyValue::String("abc")},
      {"sempty", PropertyValue::String("")},
      {"strue", PropertyValue::String("true")},
      {"snull", PropertyValue::String("null")},
      {"squote", PropertyValue::String("it's \\ \"x\"")},
      {"sutf8", PropertyValue::String("caf\xc3\xa9")},
      {"object", PropertyValue::Json(R"({"a":1})")},
      {"array", PropertyValue::Json("[1,2]")},
  };
  std::vector<Event> events;
  const int64_t t = 1'772'841'600'000;
  for (size_t i = 0; i < kValues.size(); ++i) {
    Event e = MakeEvent("filters", absl::StrCat("u", i), "", t + static_cast<int64_t>(i),
                        kValues[i].first, i % 2 ? "view" : "click");
    if (kValues[i].second) e.event_properties["p"] = *kValues[i].second;
    e.event_properties["other"] = PropertyValue::String("x");
    events.push_back(std::move(e));
  }
  Insert(events, 2);
  QueryScope scope;
  scope.project = "filters";
  std::vector<std::vector<PropertyValue>> operands = {{}};
  for (const auto& [name, value] : kValues) {
    if (value) operands.push_back({*value});
  }
  operands.push_back({PropertyValue::String("3"), PropertyValue::Number(2.5)});
  operands.push_back({PropertyValue::String("a")});
  operands.push_back({PropertyValue::String("b")});
  operands.push_back({PropertyValue::String("'")});
  const FilterOp kOps[] = {
      FilterOp::kEquals,  FilterOp::kNotEquals,      FilterOp::kLess,     FilterOp::kLessOrEqual,
      FilterOp::kGreater, FilterOp::kGreaterOrEqual, FilterOp::kContains, FilterOp::kNotContains,
      FilterOp::kIsSet,   FilterOp::kIsNotSet};
  int compared = 0;
  for (FilterOp op : kOps) {
    for (const std::vector<PropertyValue>& values : operands) {
      EventSelector selector{kAnyEvent, {MakeFilter(PropertyRef::Scope::kEvent, "p", op, values)}};
      std::set<Row> want = Expected(events, selector, scope);
      ASSERT_EQ(Selected(selector, scope), want)
          << "op " << static_cast<int>(op) << " value "
          << (values.empty() ? "(none)" : values[0].ToJson()) << " on " << EngineName();
      ++compared;
    }
  }
  // Type, _active with custom inactive types, and two filters together.
  scope.inactive_event_types = {"click"};
  EventSelector active{kAnyActiveEvent,
                       {MakeFilter(PropertyRef::Scope::kEvent, "p", FilterOp::kIsSet, {}),
                        MakeFilter(PropertyRef::Scope::kEvent, "other", FilterOp::kEquals,
                                   {PropertyValue::String("x")})}};
  EXPECT_EQ(Selected(active, scope), Expected(events, active, scope));
  EXPECT_EQ(Selected(active, scope).size(), 13u);  // the "view"s: odd indexes, all with p
  EventSelector clicks{"click", {}};
  EXPECT_EQ(Selected(clicks, scope), Expected(events, clicks, scope));
  EXPECT_EQ(compared, 10 * static_cast<int>(operands.size()));
}

TEST_F(EventsSqlTest, Int64ArraysEvaluateToTheirValues) {
  for (const std::vector<int64_t>& values : std::vector<std::vector<int64_t>>{
           {}, {1, 1'772'841'600'000}, {-1, 1'772'841'600'000}, {INT64_MIN, INT64_MAX}}) {
    absl::StatusOr<std::string> tsv = Sql().Query(
        absl::StrCat("SELECT arrayJoin(", SqlInt64Array(values), ") AS v"), Format::kTabSeparated);
    ASSERT_TRUE(tsv.ok()) << tsv.status();
    std::string want;
    for (int64_t v : values) absl::StrAppend(&want, v, "\n");
    EXPECT_EQ(*tsv, want) << "on " << EngineName();
  }
}

TEST_F(EventsSqlTest, RandomSelectorsAgreeWithTheReferenceOnRandomData) {
  int compared = 0;
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    analytics::testing::RandomEventsOptions options;
    options.project = absl::StrCat("random", seed);
    std::vector<Event> events = analytics::testing::RandomEvents(seed, options);
    std::mt19937 rng(seed);
    Insert(events, 1 + static_cast<int>(rng() % 4));
    for (IdentityMerge identity : {IdentityMerge::kDeviceToUser, IdentityMerge::kNone}) {
      QueryScope scope;
      scope.project = options.project;
      scope.identity = identity;
      for (int q = 0; q < 6; ++q) {
        EventSelector selector = analytics::testing::RandomSelector(
            rng, {"view", "click", "purchase", "$identify", kAnyActiveEvent, kAnyEvent});
        std::erase_if(selector.filters, [](const PropertyFilter& f) {
          return f.property.scope == PropertyRef::Scope::kUser;
        });
        ASSERT_EQ(Selected(selector, scope), Expected(events, selector, scope))
            << "seed " << seed << " query " << q << " on " << EngineName();
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 6 * 2 * 6);
}

// The user properties each event sees (WithUserPropertiesSql) against the reference's timelines,
// key by key, on randomized datasets whose $identify events $set, $setOnce, $add, $unset and
// $clearAll, and whose other events carry their own values.
TEST_F(EventsSqlTest, UserPropertiesAgreeWithTheReferenceTimelines) {
  const std::vector<std::string> kKeys = {"absent", "country", "credits", "first_plan",
                                          "plan",   "tier",    "visits"};
  int seen = 0, numbers = 0;
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    analytics::testing::RandomEventsOptions options;
    options.project = absl::StrCat("user-properties", seed);
    options.events = 150;
    options.actors = 6;
    const std::vector<Event> events = analytics::testing::RandomEvents(seed, options);
    Insert(events, 2);
    for (IdentityMerge identity : {IdentityMerge::kDeviceToUser, IdentityMerge::kNone}) {
      QueryScope scope;
      scope.project = options.project;
      scope.identity = identity;
      std::vector<std::string> columns = {"actor", "insert_id", "device_id", "user_id"};
      for (const std::string& key : kKeys) {
        const UserPropertyColumns u = UserPropertyColumnsOf(key);
        columns.insert(columns.end(), {u.set, u.kind, u.text, u.number});
      }
      const std::string sql = absl::StrCat("SELECT ", absl::StrJoin(columns, ", "), " FROM ",
                                           DedupedEventsSql(Table(), scope, kKeys), " AS e");
      absl::StatusOr<std::string> tsv = Sql().Query(sql, Format::kTabSeparated);
      ASSERT_TRUE(tsv.ok()) << tsv.status();
      absl::StatusOr<std::vector<std::vector<std::string>>> rows =
          ParseTsvRows(*tsv, columns.size());
      ASSERT_TRUE(rows.ok()) << rows.status();
      // (actor, insert_id, device_id, user_id) → per key its label, or "-" when not set.
      std::map<std::vector<std::string>, std::vector<std::string>> got, want;
      for (const std::vector<std::string>& row : *rows) {
        std::vector<std::string> labels;
        for (size_t k = 0; k < kKeys.size(); ++k) {
          const size_t c = 4 + 4 * k;
          if (row[c] == "0") {
            labels.push_back("-");
            continue;
          }
          absl::StatusOr<std::string> label = LabelFromColumns(row[c + 1], row[c + 2], row[c + 3]);
          ASSERT_TRUE(label.ok()) << label.status();
          labels.push_back(absl::StrCat(row[c + 1], ":", *label));
        }
        got[{row[0], row[1], row[2], row[3]}] = labels;
      }
      std::vector<Event> deduped = reference::Deduplicate(events);
      absl::StatusOr<reference::Timelines> timelines = reference::BuildTimelines(deduped, scope);
      ASSERT_TRUE(timelines.ok()) << timelines.status();
      for (const reference::ActorTimeline& actor : timelines->actors) {
        for (const reference::TimelineEvent& e : actor.events) {
          std::vector<std::string> labels;
          for (const std::string& key : kKeys) {
            auto it = e.user_properties.find(key);
            if (it == e.user_properties.end()) {
              labels.push_back("-");
              continue;
            }
            ++seen;
            if (it->second.kind() == PropertyValue::Kind::kNumber) ++numbers;
            labels.push_back(
                absl::StrCat(static_cast<int>(it->second.kind()), ":", it->second.Label()));
          }
          want[{actor.actor, e.event->insert_id, e.event->device_id, e.event->user_id}] = labels;
        }
      }
      EXPECT_EQ(got, want) << "seed " << seed << " identity " << static_cast<int>(identity);
    }
  }
  EXPECT_GT(seen, 500);
  EXPECT_GT(numbers, 100);
}

TEST(SqlDoubleTest, RoundTrips) {
  EXPECT_EQ(SqlDouble(3), "toFloat64(3)");
  EXPECT_EQ(SqlDouble(0.1), "toFloat64(0.10000000000000001)");
  EXPECT_EQ(SqlInt64Array({}), "emptyArrayInt64()");
  EXPECT_EQ(SqlInt64Array({1, 1'772'841'600'000}), "CAST([1, 1772841600000] AS Array(Int64))");
  EXPECT_EQ(SqlInt64Array({-1, 1'772'841'600'000}),
            "CAST(['-1', '1772841600000'] AS Array(Int64))");
}

}  // namespace
}  // namespace cohort::analytics::clickhouse
