#include "common/logging.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"

namespace cohort {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// A logger writing into a string with the formatter under test.
struct Capture {
  explicit Capture(LogFormat format)
      : sink(std::make_shared<spdlog::sinks::ostream_sink_mt>(out)), logger("test", sink) {
    logger.set_formatter(NewLogFormatter(format));
    logger.set_level(spdlog::level::trace);
  }
  std::ostringstream out;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink;
  spdlog::logger logger;
};

TEST(ParseLogFormatTest, AcceptsTextAndJson) {
  EXPECT_EQ(*ParseLogFormat("text"), LogFormat::kText);
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  absl::StatusOr<LogFormat> bad = ParseLogFormat("xml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("\"xml\""));
}

TEST(ConfigureLoggingTest, RejectsUnknownLevelAndKeepsLogger) {
  auto before = spdlog::default_logger();
  absl::Status status = ConfigureLogging(LogFormat::kText, "loud");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(spdlog::default_logger(), before);
  ASSERT_TRUE(ConfigureLogging(LogFormat::kJson, "WARN").ok());
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::warn);
}

TEST(LoggingTest, TextLineHasTimeLevelMessageAndFields) {
  Capture c(LogFormat::kText);
  {
    ScopedLogFields fields({{"controller", "pipeline"}, {"object", "ns/a"}});
    c.logger.error("reconcile failed: {}", 42);
  }
  c.logger.info("after");
  EXPECT_THAT(
      c.out.str(),
      MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{6}Z error reconcile failed: "
                   "42 controller=pipeline object=ns/a\n"
                   "[0-9T:.Z-]+ info after\n"));
}

TEST(LoggingTest, TextQuotesOddValues) {
  Capture c(LogFormat::kText);
  ScopedLogFields fields({{"k", "two words"}, {"e", ""}, {"q", "a\"b"}});
  c.logger.info("m");
  EXPECT_THAT(c.out.str(), HasSubstr(R"( k="two words" e="" q="a\"b")"));
}

TEST(LoggingTest, JsonLineIsOneObjectWithFields) {
  Capture c(LogFormat::kJson);
  ScopedLogFields outer({{"controller", "pipeline"}});
  ScopedLogFields inner({{"reconcileID", "abc"}});
  c.logger.warn("bad \"quote\" and \xff byte\nnext line");
  const std::string line = c.out.str();
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "a message's newline must not split the line";
  nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["msg"], "bad \"quote\" and \xEF\xBF\xBD byte\nnext line");
  EXPECT_EQ(j["controller"], "pipeline");
  EXPECT_EQ(j["reconcileID"], "abc");
  EXPECT_THAT(j["ts"].get<std::string>(), MatchesRegex("[0-9T:.-]+Z"));
}

TEST(LoggingTest, FieldsArePerThreadAndScoped) {
  ScopedLogFields fields({{"a", "1"}});
  std::vector<LogField> seen_elsewhere = {{"x", "y"}};
  std::thread([&] { seen_elsewhere = CurrentLogFields(); }).join();
  EXPECT_TRUE(seen_elsewhere.empty());
  {
    ScopedLogFields more({{"b", "2"}, {"c", "3"}});
    EXPECT_EQ(CurrentLogFields().size(), 3u);
  }
  ASSERT_EQ(CurrentLogFields().size(), 1u);
  EXPECT_EQ(CurrentLogFields()[0].first, "a");
}

}  // namespace
}  // namespace cohort
