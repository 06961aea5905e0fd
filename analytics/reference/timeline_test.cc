#include "analytics/reference/timeline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "analytics/reference/test_events.h"

namespace cohort::analytics::reference {
namespace {

using ::cohort::analytics::testing::At;
using ::cohort::analytics::testing::Ev;
using ::cohort::analytics::testing::Scope;
using ::testing::ElementsAre;

QueryScope Jan(IdentityMerge merge = IdentityMerge::kDeviceToUser) {
  QueryScope scope = Scope(At(2026, 1, 1), At(2026, 2, 1));
  scope.identity = merge;
  return scope;
}

std::vector<std::string> Types(const ActorTimeline& actor) {
  std::vector<std::string> types;
  for (const TimelineEvent& e : actor.events) types.push_back(e.event->event_type);
  return types;
}

std::vector<std::string> Actors(const Timelines& timelines) {
  std::vector<std::string> actors;
  for (const ActorTimeline& a : timelines.actors) actors.push_back(a.actor);
  return actors;
}

TEST(DeduplicateTest, TheFirstCopyInArrivalOrderWinsPerProjectAndUserElseDevice) {
  int64_t t = At(2026, 1, 5);
  Event other_project = Ev("a", t, "u", "", "x");
  other_project.project = "q";
  std::vector<Event> kept = Deduplicate({
      Ev("first", t + 5, "u", "", "x"),
      Ev("later copy", t, "u", "", "x"),      // same (p, user u, x): dropped
      other_project,                          // another project: kept
      Ev("with device", t, "u", "d", "x"),    // still (p, user u, x): dropped
      Ev("other user", t, "v", "d", "x"),     // (p, user v, x): kept
      Ev("device only", t, "", "d", "x"),     // (p, device d, x): kept
      Ev("device again", t, "", "d", "x"),    // dropped
      Ev("device named u", t, "", "u", "x"),  // (p, device u, x): a device is not a user
  });
  std::vector<std::string> types;
  for (const Event& e : kept) types.push_back(e.event_type);
  EXPECT_THAT(types, ElementsAre("first", "a", "other user", "device only", "device named u"));
}

TEST(TimelineTest, AnonymousEventsBeforeLoginCountForTheUserUnderDeviceToUser) {
  std::vector<Event> events = {
      Ev("view", At(2026, 1, 5, 10), "", "d"),
      Ev("login", At(2026, 1, 5, 11), "u", "d"),
      Ev("click", At(2026, 1, 5, 12), "", "d"),
      Ev("anon", At(2026, 1, 5, 12), "", "lonely"),
  };
  absl::StatusOr<Timelines> merged = BuildTimelines(events, Jan());
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_THAT(Actors(*merged), ElementsAre("device:lonely", "u"));
  EXPECT_THAT(Types(merged->actors[1]), ElementsAre("view", "login", "click"));

  absl::StatusOr<Timelines> none = BuildTimelines(events, Jan(IdentityMerge::kNone));
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(Actors(*none), ElementsAre("device:d", "device:lonely", "u"));
  EXPECT_THAT(Types(none->actors[0]), ElementsAre("view", "click"));
}

TEST(TimelineTest, ADeviceMapsToTheUserOfItsEarliestEventWithBothIds) {
  int64_t t = At(2026, 1, 5, 10);
  std::vector<Event> events = {
      Ev("late login", t + 5, "u1", "d"),
      Ev("tie b", t, "u2", "d", "b"),
      Ev("tie a", t, "u3", "d", "a"),  // same ms: insert_id "a" < "b" makes this the earliest
      Ev("anon", t + 9, "", "d"),
  };
  absl::StatusOr<Timelines> timelines = BuildTimelines(events, Jan());
  ASSERT_TRUE(timelines.ok());
  // An event with a user_id stays with that user; the device-only one goes to u3.
  EXPECT_THAT(Actors(*timelines), ElementsAre("u1", "u2", "u3"));
  EXPECT_THAT(Types(timelines->actors[2]), ElementsAre("tie a", "anon"));
}

TEST(TimelineTest, EventsOfTheSameMillisecondAreOrderedByInsertId) {
  int64_t t = At(2026, 1, 5, 10);
  std::vector<Event> events = {Ev("c", t, "u", "", "3"), Ev("a", t, "u", "", "1"),
                               Ev("later", t + 1, "u", "", "0"), Ev("b", t, "u", "", "2")};
  absl::StatusOr<Timelines> timelines = BuildTimelines(events, Jan());
  ASSERT_TRUE(timelines.ok());
  EXPECT_THAT(Types(timelines->actors[0]), ElementsAre("a", "b", "c", "later"));
}

TEST(TimelineTest, ActivityLeavesOutIdentifyGroupIdentifyAndTheInactiveTypes) {
  int64_t t = At(2026, 1, 5, 10);
  std::vector<Event> events = {Ev("$identify", t, "u"), Ev("$groupidentify", t + 1, "u"),
                               Ev("dify.generate_conversation_name", t + 2, "u"),
                               Ev("chat", t + 3, "u"), Ev("heartbeat", t + 4, "u")};
  QueryScope scope = Jan();
  scope.inactive_event_types = {"heartbeat"};
  absl::StatusOr<Timelines> timelines = BuildTimelines(events, scope);
  ASSERT_TRUE(timelines.ok());
  std::vector<bool> active;
  for (const TimelineEvent& e : timelines->actors[0].events) active.push_back(e.active);
  // The pipeline's list replaces the default one.
  EXPECT_THAT(active, ElementsAre(false, false, true, true, false));
}

TEST(TimelineTest, UserPropertiesAreTheIdentifyOperationsAtOrBeforeTheEventUnderItsOwn) {
  int64_t t = At(2026, 1, 5, 10);
  auto identify = [&](int64_t at, std::vector<std::pair<std::string, PropertyValue>> ops) {
    Event e = Ev("$identify", at, "u");
    for (auto& [key, value] : ops) e.user_properties[key] = value;
    return e;
  };
  Event own = Ev("own", t + 3, "u");
  own.user_properties["plan"] = PropertyValue::String("pro");
  std::vector<Event> events = {
      Ev("before", t - 1, "u"),
      identify(t, {{"$set", PropertyValue::Json(R"({"plan":"free","visits":1})")},
                   {"city", PropertyValue::String("Oslo")}}),
      identify(t + 1, {{"$setOnce", PropertyValue::Json(R"({"plan":"x","first":"y"})")},
                       {"$add", PropertyValue::Json(R"({"visits":2,"fresh":5})")}}),
      Ev("after", t + 2, "u"),
      own,
      identify(t + 4, {{"$unset", PropertyValue::Json(R"(["city","first"])")}}),
      Ev("unset", t + 5, "u"),
      identify(t + 6, {{"$clearAll", PropertyValue::Bool(true)},
                       {"$set", PropertyValue::Json(R"({"new":true})")}}),
      Ev("cleared", t + 7, "u"),
  };
  absl::StatusOr<Timelines> timelines = BuildTimelines(events, Jan());
  ASSERT_TRUE(timelines.ok());
  const auto& e = timelines->actors[0].events;
  ASSERT_EQ(e.size(), 9u);
  PropertyRef plan{PropertyRef::Scope::kUser, "plan"};
  EXPECT_EQ(LookUp(plan, e[0]), nullptr);
  EXPECT_EQ(GroupLabel(plan, e[0]), "(none)");
  EXPECT_EQ(GroupLabel(plan, e[1]), "free");  // an $identify sees its own operations
  const Properties& after = e[3].user_properties;
  EXPECT_EQ(after.at("plan"), PropertyValue::String("free"));  // $setOnce kept it
  EXPECT_EQ(after.at("first"), PropertyValue::String("y"));
  EXPECT_EQ(after.at("visits"), PropertyValue::Number(3));
  EXPECT_EQ(after.at("fresh"), PropertyValue::Number(5));
  EXPECT_EQ(after.at("city"), PropertyValue::String("Oslo"));
  EXPECT_EQ(GroupLabel(plan, e[4]), "pro");   // the event's own value over the state
  EXPECT_EQ(GroupLabel(plan, e[6]), "free");  // ... for that event only
  EXPECT_FALSE(e[6].user_properties.contains("city"));
  EXPECT_FALSE(e[6].user_properties.contains("first"));
  EXPECT_EQ(e[8].user_properties.size(), 1u);
  EXPECT_EQ(e[8].user_properties.at("new"), PropertyValue::Bool(true));
}

TEST(TimelineTest, SelectorsMatchTypeActivityAndFilters) {
  int64_t t = At(2026, 1, 5, 10);
  std::vector<Event> events = {
      testing::With(Ev("click", t, "u"), "button", PropertyValue::String("buy")),
      Ev("$identify", t + 1, "u")};
  absl::StatusOr<Timelines> timelines = BuildTimelines(events, Jan());
  ASSERT_TRUE(timelines.ok());
  const auto& e = timelines->actors[0].events;
  PropertyFilter buy{
      {PropertyRef::Scope::kEvent, "button"}, FilterOp::kEquals, {PropertyValue::String("buy")}};
  EXPECT_TRUE(Matches({"click", {buy}}, e[0]));
  EXPECT_FALSE(Matches({"click", {buy}}, e[1]));
  EXPECT_TRUE(Matches({kAnyActiveEvent, {}}, e[0]));
  EXPECT_FALSE(Matches({kAnyActiveEvent, {}}, e[1]));
  EXPECT_TRUE(Matches({kAnyEvent, {}}, e[1]));
  EXPECT_TRUE(Matches({"$identify", {}}, e[1]));
}

TEST(TimelineTest, AnUnknownTimeZoneIsAnInvalidArgumentNamingTheField) {
  QueryScope scope = Jan();
  scope.time_zone = "Mars/Olympus_Mons";
  absl::StatusOr<Timelines> timelines = BuildTimelines({}, scope);
  ASSERT_FALSE(timelines.ok());
  EXPECT_EQ(timelines.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(timelines.status().message()), ::testing::StartsWith("time_zone"));
}

}  // namespace
}  // namespace cohort::analytics::reference
