#include "common/logging.h"

#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace cohort {
namespace {

thread_local std::vector<LogField> tls_fields;

std::string_view LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

std::string Timestamp(const spdlog::details::log_msg& msg) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromChrono(msg.time), absl::UTCTimeZone());
}

std::string JsonString(std::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool NeedsQuotes(std::string_view s) {
  if (s.empty()) return true;
  for (unsigned char c : s) {
    if (c <= ' ' || c == '"' || c == '=' || c == 0x7f) return true;
  }
  return false;
}

void Append(spdlog::memory_buf_t& dest, std::string_view s) {
  dest.append(s.data(), s.data() + s.size());
}

class Formatter final : public spdlog::formatter {
 public:
  explicit Formatter(LogFormat format) : format_(format) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string_view text(msg.payload.data(), msg.payload.size());
    if (format_ == LogFormat::kJson) {
      Append(dest,
             absl::StrCat(R"({"ts":")", Timestamp(msg), R"(","level":")",
                          std::string(LevelName(msg.level)), R"(","msg":)", JsonString(text)));
      for (const auto& [key, value] : tls_fields) {
        Append(dest, absl::StrCat(",", JsonString(key), ":", JsonString(value)));
      }
      Append(dest, "}\n");
      return;
    }
    Append(dest, absl::StrCat(Timestamp(msg), " ", std::string(LevelName(msg.level)), " "));
    Append(dest, text);
    for (const auto& [key, value] : tls_fields) {
      Append(dest, absl::StrCat(" ", key, "="));
      // JSON string syntax doubles as a readable quoting for odd values.
      Append(dest, NeedsQuotes(value) ? JsonString(value) : value);
    }
    Append(dest, "\n");
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<Formatter>(format_);
  }

 private:
  const LogFormat format_;
};

}  // namespace

absl::StatusOr<LogFormat> ParseLogFormat(std::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("log format \"", std::string(name), "\": want \"text\" or \"json\""));
}

absl::Status ConfigureLogging(LogFormat format, std::string_view level) {
  const std::string lower = absl::AsciiStrToLower(std::string(level));
  spdlog::level::level_enum parsed;
  if (lower == "trace") {
    parsed = spdlog::level::trace;
  } else if (lower == "debug") {
    parsed = spdlog::level::debug;
  } else if (lower == "info") {
    parsed = spdlog::level::info;
  } else if (lower == "warn" || lower == "warning") {
    parsed = spdlog::level::warn;
  } else if (lower == "error") {
    parsed = spdlog::level::err;
  } else if (lower == "critical") {
    parsed = spdlog::level::critical;
  } else if (lower == "off") {
    parsed = spdlog::level::off;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("log level \"", std::string(level),
                     "\": want one of trace, debug, info, warn, error, critical, off"));
  }
  auto logger =
      std::make_shared<spdlog::logger>("cohort", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_formatter(NewLogFormatter(format));
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  return absl::OkStatus();
}

std::unique_ptr<spdlog::formatter> NewLogFormatter(LogFormat format) {
  return std::make_unique<Formatter>(format);
}

ScopedLogFields::ScopedLogFields(std::initializer_list<LogField> fields) : count_(fields.size()) {
  tls_fields.insert(tls_fields.end(), fields.begin(), fields.end());
}

ScopedLogFields::~ScopedLogFields() { tls_fields.resize(tls_fields.size() - count_); }

const std::vector<LogField>& CurrentLogFields() { return tls_fields; }

}  // namespace cohort
