#include "ingest/sinks/store_event.h"

#include <gtest/gtest.h>

namespace cohort::ingest::sinks {
namespace {

using analytics::PropertyValue;

Event Base(EventSource source) {
  Event e;
  e.project = "shop";
  e.source = source;
  e.event_type = "click";
  e.user_id = "u1";
  e.device_id = "d1";
  e.time_ms = 1'700'000'000'123;
  e.insert_id = "ins-1";
  return e;
}

TEST(StoreEventTest, CopiesIdentityTimeAndParsesProperties) {
  Event e = Base(EventSource::kAmplitude);
  e.session_id = 1'700'000'000'000;
  e.json_field(JsonField::kEventProperties) = R"({"button":"buy","n":2})";
  e.json_field(JsonField::kUserProperties) = R"({"$set":{"plan":"pro"}})";
  absl::StatusOr<analytics::Event> out = ToStoreEvent(e, wal::Lsn{3, 40});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->project, "shop");
  EXPECT_EQ(out->event_type, "click");
  EXPECT_EQ(out->user_id, "u1");
  EXPECT_EQ(out->device_id, "d1");
  EXPECT_EQ(out->time_ms, 1'700'000'000'123);
  EXPECT_EQ(out->insert_id, "ins-1");
  EXPECT_EQ(out->session_id, 1'700'000'000'000);
  EXPECT_EQ(out->event_properties.at("button"), PropertyValue::String("buy"));
  EXPECT_EQ(out->event_properties.at("n"), PropertyValue::Number(2));
  EXPECT_EQ(out->user_properties.at("$set"), PropertyValue::Json(R"({"plan":"pro"})"));
}

TEST(StoreEventTest, SessionsBySource) {
  Event amplitude = Base(EventSource::kAmplitude);  // session_id -1: outside any session
  EXPECT_EQ(ToStoreEvent(amplitude, {})->session_id, analytics::kNoSessionId);
  Event dify = Base(EventSource::kDify);  // -1 on the wire: sessionized by gap in the store
  EXPECT_EQ(ToStoreEvent(dify, {})->session_id, std::nullopt);
  Event native = Base(EventSource::kNative);
  EXPECT_EQ(ToStoreEvent(native, {})->session_id, std::nullopt);
  native.session_id = 42;  // set by mapping rules
  EXPECT_EQ(ToStoreEvent(native, {})->session_id, 42);
}

TEST(StoreEventTest, AMissingInsertIdBecomesTheLogPosition) {
  Event e = Base(EventSource::kNative);
  e.insert_id.clear();
  EXPECT_EQ(ToStoreEvent(e, wal::Lsn{12, 3456})->insert_id, "wal:12:3456");
}

TEST(StoreEventTest, AmplitudeFieldsBecomePropertiesUnlessTheEventSetsThem) {
  Event e = Base(EventSource::kAmplitude);
  e.attribute(Attribute::kPlatform) = "iOS";
  e.attribute(Attribute::kCountry) = "China";
  e.json_field(JsonField::kUserProperties) = R"({"country":"Japan"})";
  e.revenue = 9.99;
  e.quantity = 2;
  e.price = 4.995;
  absl::StatusOr<analytics::Event> out = ToStoreEvent(e, {});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->user_properties.at("platform"), PropertyValue::String("iOS"));
  EXPECT_EQ(out->user_properties.at("country"), PropertyValue::String("Japan"));
  EXPECT_FALSE(out->user_properties.contains("os_name"));
  EXPECT_EQ(out->event_properties.at("$revenue"), PropertyValue::Number(9.99));
  EXPECT_EQ(out->event_properties.at("$quantity"), PropertyValue::Number(2));
  EXPECT_EQ(out->event_properties.at("$price"), PropertyValue::Number(4.995));
}

TEST(StoreEventTest, DamagedJsonIsAnErrorNamingTheField) {
  Event e = Base(EventSource::kAmplitude);
  e.json_field(JsonField::kUserProperties) = "[1]";
  absl::StatusOr<analytics::Event> out = ToStoreEvent(e, {});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(out.status().message().find("user_properties"), std::string::npos);
}

}  // namespace
}  // namespace cohort::ingest::sinks
