// Structured logging for cohort's programs: spdlog's default logger with one process-wide line
// format — human text or one JSON object per line — and fields attached to the calling thread.
//
// A reconcile (controller.cc) opens a ScopedLogFields with its controller, object and reconcile
// id; every line logged on that thread until the scope ends carries them, whoever logs it (the
// applier, the client, the reconciler itself), without passing a logger around:
//
//   text: 2026-11-26T08:00:00.123456Z error reconcile failed: ... controller=pipeline object=ns/a
//   json: {"ts":"2026-11-26T08:00:00.123456Z","level":"error","msg":"reconcile failed: ...",
//          "controller":"pipeline","object":"ns/a"}
//
// Messages and field values may hold any bytes: JSON output escapes them (invalid UTF-8 becomes
// U+FFFD), text output quotes a field value that has spaces, quotes or control characters. Never
// log a secret value or a token: nothing here can tell one from other text.
//
// Thread-safe. Fields are per thread; a scope must end on the thread that opened it.
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "spdlog/formatter.h"

namespace cohort {

enum class LogFormat { kText, kJson };

// "text" or "json"; InvalidArgument naming the accepted values otherwise.
[[nodiscard]] absl::StatusOr<LogFormat> ParseLogFormat(std::string_view name);

// Replaces spdlog's default logger with one writing to stderr in `format` at `level` (trace,
// debug, info, warn, error, critical, off). InvalidArgument for another level, and then nothing
// changes. Lines of level warn and above are flushed at once.
[[nodiscard]] absl::Status ConfigureLogging(LogFormat format, std::string_view level);

// The formatter ConfigureLogging installs (for tests and for other sinks).
std::unique_ptr<spdlog::formatter> NewLogFormatter(LogFormat format);

using LogField = std::pair<std::string, std::string>;

// Attaches `fields` to every line logged on this thread while the object lives. Scopes nest; an
// inner field with the same key is printed after the outer one (both appear). Not copyable or
// movable: it belongs to the scope that made it.
class ScopedLogFields {
 public:
  explicit ScopedLogFields(std::initializer_list<LogField> fields);
  ScopedLogFields(const ScopedLogFields&) = delete;
  ScopedLogFields& operator=(const ScopedLogFields&) = delete;
  ~ScopedLogFields();

 private:
  size_t count_;
};

// The fields attached to the calling thread, outermost first.
const std::vector<LogField>& CurrentLogFields();

}  // namespace cohort
