// Retention (analytics.md, "Retention"): the day spans a query's cells cover. Shared by every
// engine.
#pragma once

#include <algorithm>
#include <utility>
#include <vector>

#include "analytics/model/query.h"

namespace cohort::analytics {

// The cells as inclusive day spans [first, last]: the query's brackets, else one day each for
// days 1..max_day.
inline std::vector<std::pair<int, int>> RetentionSpans(const RetentionQuery& query) {
  std::vector<std::pair<int, int>> spans;
  if (query.mode == RetentionMode::kBracket) {
    spans = query.brackets;
  } else {
    for (int n = 1; n <= query.max_day; ++n) spans.emplace_back(n, n);
  }
  return spans;
}

// The last day any span reads (0 without spans).
inline int RetentionLastDay(const std::vector<std::pair<int, int>>& spans) {
  int last_day = 0;
  for (const auto& span : spans) last_day = std::max(last_day, span.second);
  return last_day;
}

}  // namespace cohort::analytics
