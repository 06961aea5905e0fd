#include "analytics/store/event_matcher.h"

#include <gtest/gtest.h>

#include "analytics/store/user_state.h"

namespace cohort::analytics::store {
namespace {

Event Make(std::string type, int64_t time, std::string id) {
  Event e;
  e.project = "p";
  e.user_id = "u";
  e.event_type = std::move(type);
  e.time_ms = time;
  e.insert_id = std::move(id);
  return e;
}

PropertyFilter Filter(PropertyRef::Scope scope, std::string key, FilterOp op,
                      std::vector<PropertyValue> values = {}) {
  return PropertyFilter{PropertyRef{scope, std::move(key)}, op, std::move(values)};
}

// Which of the actor's events (by insert_id) match `selector`, in order.
std::vector<std::string> Matching(const ActorView& view, const EventSelector& selector,
                                  const QueryScope& scope = {}) {
  Activity activity(view, scope);
  EventMatcher matcher(view, selector, activity);
  UserState user;
  std::vector<std::string> ids;
  view.ForEachEvent(0, [&](const EventRef& ref) {
    const Properties& props = user.Advance(ref);
    if (matcher.Matches(ref, matcher.needs_user_properties() ? &props : nullptr)) {
      ids.emplace_back(ref.segment->insert_id(ref.index));
    }
  });
  return ids;
}

class EventMatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Event view1 = Make("view", 1, "a");
    view1.event_properties["price"] = PropertyValue::String("10");
    Event identify = Make("$identify", 2, "b");
    identify.user_properties["$set"] = PropertyValue::Json(R"({"plan":"pro","n":1})");
    identify.user_properties["$add"] = PropertyValue::Json(R"({"n":2})");
    Event click = Make("click", 3, "c");
    click.event_properties["price"] = PropertyValue::Number(2);
    Event noise = Make("dify.generate_conversation_name", 4, "d");
    Event unset = Make("$identify", 5, "e");
    unset.user_properties["$unset"] = PropertyValue::Json(R"(["plan"])");
    unset.user_properties["tier"] = PropertyValue::String("gold");
    Event click2 = Make("click", 6, "f");
    click2.user_properties["plan"] = PropertyValue::String("trial");  // the event's own value
    // Two segments, so per-segment codes differ.
    SegmentPtr first = *Segment::Build("p", {view1, identify, click});
    SegmentPtr second = *Segment::Build("p", {noise, unset, click2});
    view_ = ActorView::Build({first, second}, IdentityMerge::kNone);
  }
  ActorView view_;
};

TEST_F(EventMatcherTest, EventTypesAcrossSegments) {
  EXPECT_EQ(Matching(view_, {"click", {}}), (std::vector<std::string>{"c", "f"}));
  EXPECT_EQ(Matching(view_, {kAnyEvent, {}}).size(), 6u);
  EXPECT_EQ(Matching(view_, {kAnyActiveEvent, {}}), (std::vector<std::string>{"a", "c", "f"}));
  QueryScope everything_active;
  everything_active.inactive_event_types.clear();
  EXPECT_EQ(Matching(view_, {kAnyActiveEvent, {}}, everything_active),
            (std::vector<std::string>{"a", "c", "d", "f"}));
  EXPECT_TRUE(Matching(view_, {"nope", {}}).empty());
}

TEST_F(EventMatcherTest, EventPropertyFiltersUseTheValueTables) {
  EventSelector numeric{kAnyEvent,
                        {Filter(PropertyRef::Scope::kEvent, "price", FilterOp::kGreater,
                                {PropertyValue::Number(5)})}};
  EXPECT_EQ(Matching(view_, numeric), (std::vector<std::string>{"a"}));  // "10" parses
  EventSelector missing{kAnyEvent,
                        {Filter(PropertyRef::Scope::kEvent, "price", FilterOp::kIsNotSet)}};
  EXPECT_EQ(Matching(view_, missing), (std::vector<std::string>{"b", "d", "e", "f"}));
  EventSelector equals{"click",
                       {Filter(PropertyRef::Scope::kEvent, "price", FilterOp::kEquals,
                               {PropertyValue::String("2")})}};
  EXPECT_TRUE(Matching(view_, equals).empty());  // "2" is not 2
}

TEST_F(EventMatcherTest, UserPropertiesAsOfEachEvent) {
  EventSelector pro{kAnyEvent,
                    {Filter(PropertyRef::Scope::kUser, "plan", FilterOp::kEquals,
                            {PropertyValue::String("pro")})}};
  // After b's $set and until e's $unset; f carries its own "trial".
  EXPECT_EQ(Matching(view_, pro), (std::vector<std::string>{"b", "c", "d"}));
  EventSelector added{
      kAnyEvent,
      {Filter(PropertyRef::Scope::kUser, "n", FilterOp::kEquals, {PropertyValue::Number(3)})}};
  EXPECT_EQ(Matching(view_, added), (std::vector<std::string>{"b", "c", "d", "e", "f"}));
  EventSelector gold{"click", {Filter(PropertyRef::Scope::kUser, "tier", FilterOp::kIsSet)}};
  EXPECT_EQ(Matching(view_, gold), (std::vector<std::string>{"f"}));
}

}  // namespace
}  // namespace cohort::analytics::store
