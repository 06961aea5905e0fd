#include "analytics/store/embedded_engine.h"

#include <utility>
#include <variant>

#include "analytics/store/query_executor.h"

namespace cohort::analytics::store {
namespace {

const QueryScope& ScopeOf(const Query& query) {
  return std::visit([](const auto& q) -> const QueryScope& { return q.scope; }, query);
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
    if (it != views_.end() && it->second.generation == snapshot.generation) {
      return it->second.view;
    }
  }
  // Built outside the lock: two queries racing on a new version may both build; one wins.
  auto view =
      std::make_shared<const ActorView>(ActorView::Build(std::move(snapshot.segments), identity));
  absl::MutexLock lock(&mu_);
  views_[std::make_pair(project, identity)] = Cached{snapshot.generation, view};
  return view;
}

absl::StatusOr<EngineAnswer> EmbeddedEngine::Run(const Query& query) {
  const QueryScope& scope = ScopeOf(query);
  EngineAnswer answer;
  std::shared_ptr<const ActorView> view =
      ViewFor(scope.project, scope.identity, &answer.data_version);
  absl::StatusOr<Result> result = Execute(query, *view, nullptr);
  if (!result.ok()) return result.status();
  answer.result = *std::move(result);
  return answer;
}

absl::StatusOr<ActorsPage> EmbeddedEngine::Actors(const Query& query, CellRef cell,
                                                  const std::string& after, int limit) {
  const QueryScope& scope = ScopeOf(query);
  uint64_t version = 0;
  std::shared_ptr<const ActorView> view = ViewFor(scope.project, scope.identity, &version);
  return DrillDown(query, *view, cell, after, limit);
}

}  // namespace cohort::analytics::store
