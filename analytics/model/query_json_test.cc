#include "analytics/model/query_json.h"

#include <gtest/gtest.h>

#include <string>

namespace cohort::analytics {
namespace {

constexpr int64_t kNow = 1'795'000'000'000;
const std::string kRange = R"("range":{"from":"2026-11-01T00:00:00Z","to":"2026-11-08T00:00:00Z"})";

Query Parse(const std::string& body) {
  absl::StatusOr<Query> q = ParseQueryJson(body, kNow);
  EXPECT_TRUE(q.ok()) << body << "\n" << q.status();
  return q.ok() ? *q : Query{};
}

// Expects a 400-style error naming `field` whose message contains `message`.
void ExpectError(const std::string& body, const std::string& field, const std::string& message) {
  absl::StatusOr<Query> q = ParseQueryJson(body, kNow);
  ASSERT_FALSE(q.ok()) << body;
  EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(QueryErrorField(q.status()), field) << q.status();
  EXPECT_NE(q.status().message().find(message), std::string::npos) << q.status();
}

TEST(QueryJsonTest, SegmentationWithEverything) {
  Query query = Parse(R"({"type":"segmentation","project":"shop",)" + kRange +
                      R"J(,"timeZone":"Asia/Shanghai","identity":"none","inactiveEvents":[],
      "events":[{"eventType":"page_view"},
                {"eventType":"click","filters":[
                   {"property":"button","op":"equals","values":["buy",1,true,null]},
                   {"property":"plan","scope":"user","op":"isSet"},
                   {"property":"price","op":"gte","values":["9.5"]}]}],
      "metric":"uniques","interval":"hour","groupBy":{"property":"country","scope":"user"},
      "limit":5,"formulas":["UNIQUES(B)/UNIQUES(A)"]})J");
  const auto& q = std::get<SegmentationQuery>(query);
  EXPECT_EQ(q.scope.project, "shop");
  EXPECT_EQ(q.scope.from_ms, 1'793'491'200'000);
  EXPECT_EQ(q.scope.to_ms - q.scope.from_ms, 7 * 86'400'000LL);
  EXPECT_EQ(q.scope.time_zone, "Asia/Shanghai");
  EXPECT_EQ(q.scope.identity, IdentityMerge::kNone);
  EXPECT_TRUE(q.scope.inactive_event_types.empty());
  ASSERT_EQ(q.events.size(), 2u);
  ASSERT_EQ(q.events[1].filters.size(), 3u);
  EXPECT_EQ(q.events[1].filters[0].values.size(), 4u);
  EXPECT_EQ(q.events[1].filters[0].values[1], PropertyValue::Number(1));
  EXPECT_EQ(q.events[1].filters[0].values[3], PropertyValue::Null());
  EXPECT_EQ(q.events[1].filters[1].property.scope, PropertyRef::Scope::kUser);
  EXPECT_EQ(q.events[1].filters[2].op, FilterOp::kGreaterOrEqual);
  EXPECT_EQ(q.metric, SeriesMetric::kUniques);
  EXPECT_EQ(q.interval, Interval::kHour);
  ASSERT_TRUE(q.group_by.has_value());
  EXPECT_EQ(q.group_by->key, "country");
  EXPECT_EQ(q.limit, 5);
  EXPECT_EQ(q.formulas, std::vector<std::string>{"UNIQUES(B)/UNIQUES(A)"});
}

TEST(QueryJsonTest, DefaultsFollowTheModel) {
  Query query = Parse(R"({"type":"activeUsers","range":{"from":0,"to":86400000}})");
  const auto& q = std::get<ActiveUsersQuery>(query);
  EXPECT_EQ(q.scope.project, "default");
  EXPECT_EQ(q.scope.time_zone, "UTC");
  EXPECT_EQ(q.scope.identity, IdentityMerge::kDeviceToUser);
  EXPECT_EQ(q.scope.inactive_event_types,
            std::vector<std::string>{"dify.generate_conversation_name"});
  EXPECT_EQ(q.metric, ActiveUsersMetric::kActive);
  EXPECT_EQ(q.interval, Interval::kDay);
}

TEST(QueryJsonTest, RetentionFunnelSessionsExperimentStickiness) {
  RetentionQuery r = std::get<RetentionQuery>(
      Parse(R"({"type":"retention",)" + kRange +
            R"(,"startEvent":{"eventType":"_new"},"returnEvent":{"eventType":"_active"},
          "mode":"bracket","days":"calendar","brackets":[[1,1],[2,7],[8,30]],
          "asOf":"2026-11-08T12:00:00+08:00"})"));
  EXPECT_EQ(r.start.event_type, kNewUserEvent);
  EXPECT_EQ(r.mode, RetentionMode::kBracket);
  EXPECT_EQ(r.days, RetentionDays::kCalendar);
  EXPECT_EQ(r.brackets.size(), 3u);
  EXPECT_EQ(r.as_of_ms, 1'794'110'400'000);
  EXPECT_EQ(std::get<RetentionQuery>(
                Parse(R"({"type":"retention",)" + kRange +
                      R"(,"startEvent":{"eventType":"a"},"returnEvent":{"eventType":"b"}})"))
                .as_of_ms,
            kNow);

  FunnelQuery f = std::get<FunnelQuery>(
      Parse(R"({"type":"funnel",)" + kRange +
            R"(,"steps":[{"eventType":"a"},{"eventType":"b"},{"eventType":"c"}],
                "windowMs":604800000,"order":"strict","groupBy":{"property":"ab"}})"));
  EXPECT_EQ(f.steps.size(), 3u);
  EXPECT_EQ(f.window_ms, 604'800'000);
  EXPECT_EQ(f.order, FunnelOrder::kStrict);

  SessionsQuery s = std::get<SessionsQuery>(Parse(
      R"({"type":"sessions",)" + kRange + R"(,"timeoutMs":600000,"lengthBucketsSeconds":[0,60]})"));
  EXPECT_EQ(s.timeout_ms, 600'000);
  EXPECT_EQ(s.length_buckets_s, (std::vector<double>{0, 60}));

  ExperimentQuery e = std::get<ExperimentQuery>(
      Parse(R"({"type":"experiment",)" + kRange +
            R"(,"goal":{"eventType":"purchase"},"sumProperty":"revenue","confidence":0.99,
                "expectedSplit":[1,1,2],"msprtTau2":0.01,"control":"A"})"));
  EXPECT_EQ(e.exposure_event, "$exposure");
  EXPECT_EQ(e.sum_property, "revenue");
  EXPECT_EQ(e.confidence, 0.99);
  EXPECT_EQ(e.expected_split.size(), 3u);
  EXPECT_EQ(e.msprt_tau2, 0.01);
  EXPECT_EQ(e.control, "A");

  EXPECT_TRUE(
      std::holds_alternative<StickinessQuery>(Parse(R"({"type":"stickiness",)" + kRange + "}")));
}

TEST(QueryJsonTest, ErrorsNameTheField) {
  ExpectError("{", "", "not valid JSON");
  ExpectError("[]", "", "must be a JSON object");
  ExpectError(R"({"range":{"from":0,"to":1}})", "type", "is required");
  ExpectError(R"({"type":"pie",)" + kRange + "}", "type", "must be one of segmentation");
  ExpectError(R"({"type":"stickiness"})", "range", "is required");
  ExpectError(R"({"type":"stickiness","range":{"from":"yesterday","to":1}})", "range.from",
              "RFC 3339");
  ExpectError(R"({"type":"stickiness","range":{"from":5,"to":5}})", "range.to", "after");
  ExpectError(R"({"type":"stickiness","range":{"from":0,"to":1,"until":2}})", "range.until",
              "not a known field");
  ExpectError(R"({"type":"stickiness",)" + kRange + R"(,"timeZone":"Mars/Base"})", "timeZone",
              "tz database");
  ExpectError(R"({"type":"stickiness",)" + kRange + R"(,"identity":"merge"})", "identity",
              "deviceToUser, none");
  ExpectError(R"({"type":"stickiness",)" + kRange + R"(,"colour":"red"})", "colour",
              "not a known field");
  ExpectError(R"({"type":"segmentation",)" + kRange + "}", "events", "is required");
  ExpectError(R"({"type":"segmentation",)" + kRange + R"(,"events":[{}]})", "events[0].eventType",
              "is required");
  ExpectError(R"({"type":"segmentation",)" + kRange +
                  R"(,"events":[{"eventType":"a","filters":[{"property":"p","op":"like"}]}]})",
              "events[0].filters[0].op", "must be one of equals");
  ExpectError(R"({"type":"segmentation",)" + kRange +
                  R"(,"events":[{"eventType":"a","filters":[{"property":"p","op":"equals"}]}]})",
              "events[0].filters[0].values", "needs a value");
  ExpectError(R"({"type":"segmentation",)" + kRange +
                  R"(,"events":[{"eventType":"a","filters":[{"property":"p","op":"gt",
                  "values":["ten"]}]}]})",
              "events[0].filters[0].values[0]", "must be a number");
  ExpectError(R"({"type":"segmentation",)" + kRange +
                  R"(,"events":[{"eventType":"a","filters":[{"property":"p","op":"contains",
                  "values":[1]}]}]})",
              "events[0].filters[0].values[0]", "must be a string");
  ExpectError(R"({"type":"segmentation",)" + kRange +
                  R"J(,"events":[{"eventType":"a"}],"formulas":["UNIQUES(B)/UNIQUES(A)"]})J",
              "formulas[0]", "series B is not one of the query's 1 events");
  ExpectError(R"({"type":"segmentation","range":{"from":0,"to":2592000000},
                  "events":[{"eventType":"a"}],"interval":"minute"})",
              "interval", "more than 10000 buckets");
  ExpectError(R"({"type":"segmentation",)" + kRange + R"(,"events":[{"eventType":"a"}],"limit":0})",
              "limit", "between 1 and 1000");
  ExpectError(R"({"type":"activeUsers",)" + kRange + R"(,"metric":"rolling7","interval":"week"})",
              "interval", "daily");
  ExpectError(R"({"type":"funnel",)" + kRange + R"(,"steps":[{"eventType":"a"}]})", "steps",
              "2 to 10 entries");
  std::string eleven = R"({"type":"funnel",)" + kRange + R"(,"steps":[)";
  for (int i = 0; i < 11; ++i) eleven += std::string(i ? "," : "") + R"({"eventType":"s"})";
  ExpectError(eleven + "]}", "steps", "2 to 10 entries");
  ExpectError(R"({"type":"funnel",)" + kRange +
                  R"(,"steps":[{"eventType":"a"},{"eventType":"b"}],"windowMs":0})",
              "windowMs", "between 1 and");
  ExpectError(
      R"({"type":"funnel",)" + kRange + R"(,"steps":[{"eventType":"_new"},{"eventType":"b"}]})",
      "steps[0].eventType", "only a retention start event");
  ExpectError(R"({"type":"retention",)" + kRange +
                  R"(,"startEvent":{"eventType":"a"},"returnEvent":{"eventType":"b"},
                  "mode":"bracket","brackets":[[1,7],[7,14]]})",
              "brackets[1]", "start after the previous bracket");
  ExpectError(R"({"type":"retention",)" + kRange +
                  R"(,"startEvent":{"eventType":"a"},"returnEvent":{"eventType":"b"},
                  "brackets":[[1,7]]})",
              "brackets", "only for bracket mode");
  ExpectError(R"({"type":"retention",)" + kRange +
                  R"(,"startEvent":{"eventType":"a"},"returnEvent":{"eventType":"b"},
                  "maxDay":400})",
              "maxDay", "between 1 and 366");
  ExpectError(R"({"type":"retention",)" + kRange + R"(,"returnEvent":{"eventType":"b"}})",
              "startEvent", "is required");
  ExpectError(R"({"type":"experiment",)" + kRange + R"(,"goal":{"eventType":"p"},
                  "confidence":1.5})",
              "confidence", "less than 1");
  ExpectError(R"({"type":"sessions",)" + kRange + R"(,"lengthBucketsSeconds":[10,5]})",
              "lengthBucketsSeconds[1]", "greater than the previous bound");
}

}  // namespace
}  // namespace cohort::analytics
