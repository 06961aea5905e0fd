#include "analytics/store/embedded_engine.h"

#include <utility>
#include <variant>

#include "analytics/store/active_users_query.h"
#include "analytics/store/experiment_query.h"
#include "analytics/store/funnel_query.h"
#include "analytics/store/retention_query.h"
#include "analytics/store/segmentation_query.h"
#include "analytics/store/sessions_query.h"
#include "analytics/store/stickiness_query.h"

namespace cohort::analytics::store {
namespace {

const QueryScope& ScopeOf(const Query& query) {
  return std::visit([](const auto& q) -> const QueryScope& { return q.scope; }, query);
}

template <typename T>
absl::StatusOr<Result> Wrap(absl::StatusOr<T> result) {
  if (!result.ok()) return result.status();
  return Result(*std::move(result));
}

}  // namespace

std::shared_ptr<const ActorView> EmbeddedEngine::ViewFor(const std::string& project,
                                                         IdentityMerge identity,
                                                         uint64_t* version) {
  Snapshot snapshot = store_.GetSnapshot(project);
  *version = snapshot.version;
  {
    absl::MutexLock lock(&mu_);
    auto it = views_.find(std::make_pair(project, identity));
    if (it != views_.end() && it->second.version == snapshot.version) return it->second.view;
  }
  // Built outside the lock: two queries racing on a new version may both build; one wins.
  auto view =
      std::make_shared<const ActorView>(ActorView::Build(std::move(snapshot.segments), identity));
  absl::MutexLock lock(&mu_);
  views_[std::make_pair(project, identity)] = Cached{*version, view};
  return view;
}

absl::StatusOr<EngineAnswer> EmbeddedEngine::Run(const Query& query) {
  const QueryScope& scope = ScopeOf(query);
  EngineAnswer answer;
  std::shared_ptr<const ActorView> view =
      ViewFor(scope.project, scope.identity, &answer.data_version);
  absl::StatusOr<Result> result = std::visit(
      [&](const auto& q) -> absl::StatusOr<Result> {
        using T = std::decay_t<decltype(q)>;
        if constexpr (std::is_same_v<T, ActiveUsersQuery>) {
          return Wrap(RunActiveUsers(q, *view));
        } else if constexpr (std::is_same_v<T, SessionsQuery>) {
          return Wrap(RunSessions(q, *view));
        } else if constexpr (std::is_same_v<T, SegmentationQuery>) {
          return Wrap(RunSegmentation(q, *view));
        } else if constexpr (std::is_same_v<T, RetentionQuery>) {
          return Wrap(RunRetention(q, *view));
        } else if constexpr (std::is_same_v<T, FunnelQuery>) {
          return Wrap(RunFunnel(q, *view));
        } else if constexpr (std::is_same_v<T, StickinessQuery>) {
          return Wrap(RunStickiness(q, *view));
        } else {
          static_assert(std::is_same_v<T, ExperimentQuery>);
          return Wrap(RunExperiment(q, *view));
        }
      },
      query);
  if (!result.ok()) return result.status();
  answer.result = *std::move(result);
  return answer;
}

}  // namespace cohort::analytics::store
