#include "tests/support/prometheus_text.h"

#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cohort::testing {
namespace {

bool IsNameChar(char c, bool first, bool colon) {
  return absl::ascii_isalpha(c) || c == '_' || (colon && c == ':') ||
         (!first && absl::ascii_isdigit(c));
}

}  // namespace

absl::StatusOr<std::vector<MetricSample>> ParsePrometheusText(std::string_view text) {
  if (text.empty() || text.back() != '\n') return absl::DataLossError("must end with a newline");
  std::vector<MetricSample> samples;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(text.data(), text.size() - 1), '\n')) {
    const std::string where = absl::StrCat(": \"", line, "\"");
    if (absl::StartsWith(line, "#")) {
      if (!absl::StartsWith(line, "# HELP ") && !absl::StartsWith(line, "# TYPE ")) {
        return absl::DataLossError("bad comment" + where);
      }
      continue;
    }
    MetricSample sample;
    size_t i = 0;
    while (i < line.size() && IsNameChar(line[i], i == 0, true)) ++i;
    if (i == 0) return absl::DataLossError("bad metric name" + where);
    sample.name = std::string(line.substr(0, i));
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const size_t start = i;
        while (i < line.size() && IsNameChar(line[i], i == start, false)) ++i;
        if (i == start || line.substr(i, 2) != "=\"") {
          return absl::DataLossError("bad label" + where);
        }
        const std::string label(line.substr(start, i - start));
        i += 2;
        std::string value;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\') {
            if (i + 1 >= line.size()) return absl::DataLossError("bad escape" + where);
            const char e = line[i + 1];
            if (e == 'n') {
              value += '\n';
            } else if (e == '\\' || e == '"') {
              value += e;
            } else {
              return absl::DataLossError("bad escape" + where);
            }
            i += 2;
            continue;
          }
          value += line[i++];
        }
        if (i >= line.size()) return absl::DataLossError("unterminated label value" + where);
        ++i;
        sample.labels[label] = std::move(value);
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) return absl::DataLossError("unterminated label set" + where);
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') return absl::DataLossError("no value" + where);
    const absl::string_view value = line.substr(i + 1);
    if (value == "+Inf") {
      sample.value = std::numeric_limits<double>::infinity();
    } else if (value == "-Inf") {
      sample.value = -std::numeric_limits<double>::infinity();
    } else if (value == "NaN") {
      sample.value = std::numeric_limits<double>::quiet_NaN();
    } else if (!absl::SimpleAtod(value, &sample.value)) {
      return absl::DataLossError("bad value" + where);
    }
    samples.push_back(std::move(sample));
  }
  return samples;
}

absl::StatusOr<double> FindSample(const std::vector<MetricSample>& samples, std::string_view name,
                                  const std::map<std::string, std::string>& labels) {
  for (const MetricSample& s : samples) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) {
        match = false;
        break;
      }
    }
    if (match) return s.value;
  }
  return absl::NotFoundError(absl::StrCat("no sample ", std::string(name)));
}

}  // namespace cohort::testing
