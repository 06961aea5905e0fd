#include "ingest/event/json_text.h"

#include <limits>
#include <random>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace cohort::ingest {
namespace {

std::string Quoted(std::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}

TEST(JsonTextTest, EscapesStrings) {
  EXPECT_EQ(Quoted(""), R"("")");
  EXPECT_EQ(Quoted("plain"), R"("plain")");
  EXPECT_EQ(Quoted("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(Quoted("\b\f\n\r\t"), R"("\b\f\n\r\t")");
  EXPECT_EQ(Quoted(std::string("\x00\x01\x1f\x7f", 4)), R"("\u0000\u0001\u001f\u007f")");
  EXPECT_EQ(Quoted("/ \xe4\xb8\xad \xf0\x9f\x98\x80"), "\"/ \xe4\xb8\xad \xf0\x9f\x98\x80\"");
}

TEST(JsonTextTest, EveryByteRoundTripsThroughAJsonParser) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string s;
    for (int n = rng() % 40; n > 0; --n) s.push_back(static_cast<char>(rng() % 0x80));
    nlohmann::json parsed = nlohmann::json::parse(Quoted(s));
    ASSERT_EQ(parsed.get<std::string>(), s);
  }
}

TEST(JsonTextTest, Numbers) {
  std::string out;
  AppendJsonInt(std::numeric_limits<int64_t>::min(), &out);
  out += ',';
  AppendJsonUint(std::numeric_limits<uint64_t>::max(), &out);
  out += ',';
  AppendJsonDouble(0.1, &out);
  out += ',';
  AppendJsonDouble(1e300, &out);
  out += ',';
  AppendJsonDouble(std::numeric_limits<double>::quiet_NaN(), &out);
  out += ',';
  AppendJsonDouble(-std::numeric_limits<double>::infinity(), &out);
  EXPECT_EQ(out, "-9223372036854775808,18446744073709551615,0.1,1e+300,null,null");
  nlohmann::json parsed = nlohmann::json::parse("[" + out + "]");
  EXPECT_EQ(parsed[2].get<double>(), 0.1);
  EXPECT_EQ(parsed[3].get<double>(), 1e300);
}

}  // namespace
}  // namespace cohort::ingest
