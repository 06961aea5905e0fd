#include "analytics/model/identify_operations.h"

#include "gtest/gtest.h"

namespace cohort::analytics {
namespace {

using V = PropertyValue;

Properties Ops(const char* json) {
  absl::StatusOr<Properties> parsed = ParseProperties(json);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *parsed : Properties();
}

TEST(IdentifyOperationsTest, ParsesEveryOperation) {
  IdentifyOperations ops = ParseIdentifyOperations(
      Ops(R"({"plain":1,"$set":{"plan":"pro","plain":2},"$setOnce":{"first":"x"},)"
          R"("$add":{"n":2.5,"s":"3"},"$unset":["a","b",7],"$clearAll":"-","$append":{"z":1}})"));
  EXPECT_TRUE(ops.clear_all);
  EXPECT_EQ(ops.unset, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ops.set, (Properties{{"plain", V::Number(2)}, {"plan", V::String("pro")}}));
  EXPECT_EQ(ops.set_once, (Properties{{"first", V::String("x")}}));
  EXPECT_EQ(ops.add, (std::vector<std::pair<std::string, double>>{{"n", 2.5}}));
}

TEST(IdentifyOperationsTest, UnsetTakesAnObjectsKeysOrOneString) {
  EXPECT_EQ(ParseIdentifyOperations(Ops(R"({"$unset":{"a":1}})")).unset,
            std::vector<std::string>{"a"});
  EXPECT_EQ(ParseIdentifyOperations(Ops(R"({"$unset":"b"})")).unset, std::vector<std::string>{"b"});
  EXPECT_TRUE(ParseIdentifyOperations(Ops(R"({"$unset":3,"$set":"x"})")).unset.empty());
  EXPECT_TRUE(ParseIdentifyOperations(Ops(R"({"$set":"x"})")).set.empty());
}

TEST(IdentifyOperationsTest, AppliesInTheDocumentedOrder) {
  Properties state{{"keep", V::String("k")}, {"gone", V::Bool(true)}, {"n", V::String("10")}};
  // $unset before $set: a key both unsets and sets ends set; $setOnce after $set is a no-op;
  // $add to a string counts from 0.
  ApplyIdentifyOperations(ParseIdentifyOperations(Ops(
                              R"({"$unset":["gone","plan"],"$set":{"plan":"pro"},)"
                              R"("$setOnce":{"plan":"free","first":1},"$add":{"n":1,"m":-2}})")),
                          state);
  EXPECT_EQ(state, (Properties{{"keep", V::String("k")},
                               {"plan", V::String("pro")},
                               {"first", V::Number(1)},
                               {"n", V::Number(1)},
                               {"m", V::Number(-2)}}));
  // $clearAll comes first: the $setOnce of the same event sets.
  ApplyIdentifyOperations(
      ParseIdentifyOperations(Ops(R"({"$clearAll":1,"$setOnce":{"plan":"x"}})")), state);
  EXPECT_EQ(state, (Properties{{"plan", V::String("x")}}));
}

}  // namespace
}  // namespace cohort::analytics
