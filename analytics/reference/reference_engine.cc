#include "analytics/reference/reference_engine.h"

#include <type_traits>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "analytics/reference/active_users.h"
#include "analytics/reference/answer.h"
#include "analytics/reference/experiments.h"
#include "analytics/reference/funnels.h"
#include "analytics/reference/retention.h"
#include "analytics/reference/segmentation.h"
#include "analytics/reference/sessions.h"
#include "analytics/reference/timeline.h"

namespace cohort::analytics {
namespace {

using reference::Answer;
using reference::CellActors;
using reference::Timelines;

// Any concept's answer with its result type erased.
struct AnyAnswer {
  Result result;
  CellActors cells;
  bool row_ignored = false;  // active users and sessions address cells by column only
};

template <typename R>
AnyAnswer Erase(Answer<R> answer, bool row_ignored = false) {
  return {std::move(answer.result), std::move(answer.cells), row_ignored};
}

absl::StatusOr<AnyAnswer> Compute(const std::vector<Event>& events, const Query& query) {
  const QueryScope& scope =
      std::visit([](const auto& q) -> const QueryScope& { return q.scope; }, query);
  absl::StatusOr<Timelines> timelines = reference::BuildTimelines(events, scope);
  if (!timelines.ok()) return timelines.status();
  return std::visit(
      [&](const auto& q) -> absl::StatusOr<AnyAnswer> {
        using Q = std::decay_t<decltype(q)>;
        if constexpr (std::is_same_v<Q, SegmentationQuery>) {
          auto answer = reference::Segment(q, *timelines);
          if (!answer.ok()) return answer.status();
          return Erase(*std::move(answer));
        } else if constexpr (std::is_same_v<Q, ActiveUsersQuery>) {
          return Erase(reference::CountActiveUsers(q, *timelines), true);
        } else if constexpr (std::is_same_v<Q, StickinessQuery>) {
          return Erase(reference::ComputeStickiness(q, *timelines));
        } else if constexpr (std::is_same_v<Q, SessionsQuery>) {
          return Erase(reference::CountSessions(q, *timelines), true);
        } else if constexpr (std::is_same_v<Q, RetentionQuery>) {
          return Erase(reference::ComputeRetention(q, *timelines));
        } else if constexpr (std::is_same_v<Q, FunnelQuery>) {
          return Erase(reference::ComputeFunnel(q, *timelines));
        } else {
          static_assert(std::is_same_v<Q, ExperimentQuery>);
          auto answer = reference::AnalyzeExperiment(q, *timelines);
          if (!answer.ok()) return answer.status();
          return Erase(*std::move(answer));
        }
      },
      query);
}

}  // namespace

ReferenceEngine::ReferenceEngine(std::vector<Event> events_in_arrival_order)
    : events_(reference::Deduplicate(std::move(events_in_arrival_order))) {}

absl::StatusOr<Result> ReferenceEngine::Run(const Query& query) const {
  absl::StatusOr<AnyAnswer> answer = Compute(events_, query);
  if (!answer.ok()) return answer.status();
  return std::move(answer->result);
}

absl::StatusOr<ActorsPage> ReferenceEngine::Actors(const Query& query, CellRef cell,
                                                   const std::string& after, int limit) const {
  if (limit < 1) return absl::InvalidArgumentError("limit: must be at least 1");
  absl::StatusOr<AnyAnswer> answer = Compute(events_, query);
  if (!answer.ok()) return answer.status();
  auto it = answer->cells.find({answer->row_ignored ? -1 : cell.row, cell.column});
  if (it == answer->cells.end()) {
    return absl::InvalidArgumentError(absl::StrCat("cell: the result has no cell (row ", cell.row,
                                                   ", column ", cell.column, ")"));
  }
  ActorsPage page;
  for (auto actor = it->second.upper_bound(after); actor != it->second.end(); ++actor) {
    if (static_cast<int>(page.actors.size()) == limit) {
      page.more = true;
      break;
    }
    page.actors.push_back(*actor);
  }
  return page;
}

}  // namespace cohort::analytics
