#include "analytics/clickhouse/clickhouse_client.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "analytics/clickhouse/clickhouse_error.h"

namespace cohort::analytics::clickhouse {
namespace {

// RFC 3986 percent-encoding of a URL parameter's name or value.
std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
    }
  }
  return out;
}

// The statement without trailing blanks and ';' (the HTTP interface takes one statement).
std::string_view StripStatement(std::string_view sql) {
  while (!sql.empty() &&
         (absl::ascii_isspace(static_cast<unsigned char>(sql.back())) || sql.back() == ';')) {
    sql.remove_suffix(1);
  }
  while (!sql.empty() && absl::ascii_isspace(static_cast<unsigned char>(sql.front()))) {
    sql.remove_prefix(1);
  }
  return sql;
}

bool ValidTableName(std::string_view table) {
  if (table.empty() || table.front() == '.' || table.back() == '.') return false;
  int dots = 0;
  for (const char c : table) {
    if (c == '.') {
      ++dots;
    } else if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return false;
    }
  }
  return dots <= 1;
}

// `status` with `suffix` appended to its message, payloads kept.
absl::Status Annotate(const absl::Status& status, std::string_view suffix) {
  absl::Status out(status.code(), absl::StrCat(std::string(status.message()), std::string(suffix)));
  status.ForEachPayload([&out](absl::string_view type_url, const absl::Cord& payload) {
    out.SetPayload(type_url, payload);
  });
  return out;
}

}  // namespace

std::string_view FormatName(Format format) {
  switch (format) {
    case Format::kTabSeparated:
      return "TabSeparated";
    case Format::kJsonEachRow:
      return "JSONEachRow";
    case Format::kJsonCompact:
      return "JSONCompact";
  }
  return "TabSeparated";
}

absl::StatusOr<std::unique_ptr<ClickHouseClient>> ClickHouseClient::Create(
    ClickHouseClientOptions options) {
  if (options.http == nullptr) return absl::InvalidArgumentError("ClickHouse client: no http");
  if (options.max_attempts < 1) {
    return absl::InvalidArgumentError("ClickHouse client: max_attempts must be at least 1");
  }
  std::string_view url = options.url;
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  const size_t scheme = url.find("://");
  const bool http_scheme = url.substr(0, 7) == "http://" || url.substr(0, 8) == "https://";
  if (!http_scheme || url.size() == scheme + 3 ||
      url.find_first_of("/?#@", scheme + 3) != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("ClickHouse url must be http[s]://host[:port] without path or query, got \"",
                     std::string(url), "\""));
  }
  std::string base_url = absl::StrCat(std::string(url), "/");
  return std::unique_ptr<ClickHouseClient>(
      new ClickHouseClient(std::move(options), std::move(base_url)));
}

ClickHouseClient::ClickHouseClient(ClickHouseClientOptions options, std::string base_url)
    : options_(std::move(options)),
      base_url_(std::move(base_url)),
      clock_(options_.clock != nullptr ? *options_.clock : RealClock::Get()) {}

absl::Status ClickHouseClient::Execute(std::string_view sql, const Settings& settings) {
  return Send({}, settings, std::string(StripStatement(sql))).status();
}

absl::StatusOr<std::string> ClickHouseClient::Query(std::string_view sql, Format format,
                                                    const Settings& settings) {
  // A newline before FORMAT so that a trailing "-- comment" does not swallow it.
  return Send(
      {{"wait_end_of_query", "1"}}, settings,
      absl::StrCat(std::string(StripStatement(sql)), "\nFORMAT ", std::string(FormatName(format))));
}

absl::Status ClickHouseClient::InsertJsonEachRow(std::string_view table,
                                                 const std::vector<std::string>& rows,
                                                 const Settings& settings) {
  if (!ValidTableName(table)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ClickHouse insert: bad table name \"", std::string(table), "\""));
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].empty() || rows[i].find('\n') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("ClickHouse insert into ", std::string(table),
                                                     ": row ", i, " is empty or spans lines"));
    }
  }
  const Settings params = {
      {"query", absl::StrCat("INSERT INTO ", std::string(table), " FORMAT JSONEachRow")}};
  size_t next = 0;
  while (next < rows.size()) {
    std::string body;
    do {
      absl::StrAppend(&body, rows[next], "\n");
      ++next;
    } while (next < rows.size() &&
             body.size() + rows[next].size() + 1 <= options_.max_insert_bytes);
    if (absl::StatusOr<std::string> r = Send(params, settings, std::move(body)); !r.ok()) {
      return r.status();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ClickHouseClient::Send(const Settings& params, const Settings& settings,
                                                   std::string body) {
  std::string url = base_url_;
  char separator = '?';
  auto add = [&](std::string_view name, std::string_view value) {
    absl::StrAppend(&url, std::string(1, separator), PercentEncode(name), "=",
                    PercentEncode(value));
    separator = '&';
  };
  if (!options_.database.empty()) add("database", options_.database);
  for (const auto& [name, value] : params) add(name, value);
  for (const auto& [name, value] : options_.settings) add(name, value);
  for (const auto& [name, value] : settings) add(name, value);

  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<std::string> r = SendOnce(url, body);
    if (r.ok()) return r;
    if (!IsRetryable(r.status()) || attempt >= options_.max_attempts) {
      if (attempt == 1) return r.status();
      return Annotate(r.status(), absl::StrCat(" (after ", attempt, " attempts)"));
    }
    clock_.SleepFor(Backoff(attempt));
  }
}

absl::StatusOr<std::string> ClickHouseClient::SendOnce(const std::string& url,
                                                       const std::string& body) {
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "text/plain; charset=UTF-8"}};
  if (!options_.user.empty()) {
    headers.emplace_back("X-ClickHouse-User", options_.user);
    headers.emplace_back("X-ClickHouse-Key", options_.password);
  }
  absl::StatusOr<HttpResponse> response = options_.http->Post(url, headers, body);
  if (!response.ok()) {
    const absl::Status& s = response.status();
    if (s.code() == absl::StatusCode::kUnavailable ||
        s.code() == absl::StatusCode::kDeadlineExceeded) {
      return absl::UnavailableError(
          absl::StrCat("ClickHouse at ", base_url_, " unreachable: ", std::string(s.message())));
    }
    return s;
  }
  if (response->status == 200) return std::move(response->body);
  std::optional<int> code_header;
  if (std::optional<std::string> h = response->Header("X-ClickHouse-Exception-Code")) {
    int code = 0;
    if (absl::SimpleAtoi(*h, &code)) code_header = code;
  }
  return ParseClickHouseError(response->status, response->body, code_header);
}

absl::Duration ClickHouseClient::Backoff(int failed_attempts) {
  absl::Duration d = options_.retry_base;
  for (int i = 1; i < failed_attempts && d < options_.retry_cap; ++i) d *= 2;
  d = std::min(d, options_.retry_cap);
  double jitter;
  {
    absl::MutexLock lock(&rng_mu_);
    jitter = absl::Uniform(rng_, 0.5, 1.0);
  }
  return d * jitter;
}

}  // namespace cohort::analytics::clickhouse
