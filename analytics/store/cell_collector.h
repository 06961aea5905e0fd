// Drill-down on the embedded store (issue 6, "the actors behind any number"): an executor that
// is handed a CellCollector reports, next to each number it counts, the actor it counted there,
// so a drill-down lists exactly the actors its number counted — the same computation, not a
// second definition. Only the target column is kept (row indexes may be provisional until the
// executor knows its final row order, see MapRows), so memory stays within one entry per actor
// and row.
//
// Thread-compatible: one collector per executor run.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "analytics/model/query.h"

namespace cohort::analytics::store {

class CellCollector {
 public:
  explicit CellCollector(CellRef target) : target_(target) {}

  // `actor` (an ActorView index) counts in cell (row, column).
  void Add(int row, int column, uint32_t actor) {
    if (column == target_.column) rows_[row].push_back(actor);
  }

  // Renames the rows added so far: row r becomes final_row(r); rows mapped to nullopt are
  // dropped (they did not make it into the result). Rows a cell belongs to twice (two
  // provisional rows folded into one, e.g. "(other)") keep each actor once.
  void MapRows(const std::function<std::optional<int>(int)>& final_row) {
    absl::flat_hash_map<int, std::vector<uint32_t>> mapped;
    for (auto& [row, actors] : rows_) {
      std::optional<int> to = final_row(row);
      if (!to) continue;
      std::vector<uint32_t>& into = mapped[*to];
      into.insert(into.end(), actors.begin(), actors.end());
    }
    rows_ = std::move(mapped);
  }

  // The target cell's actors, each once, ascending by index.
  std::vector<uint32_t> Actors() const {
    auto it = rows_.find(target_.row);
    if (it == rows_.end()) return {};
    std::vector<uint32_t> actors = it->second;
    std::sort(actors.begin(), actors.end());
    actors.erase(std::unique(actors.begin(), actors.end()), actors.end());
    return actors;
  }

  const CellRef& target() const { return target_; }

 private:
  CellRef target_;
  absl::flat_hash_map<int, std::vector<uint32_t>> rows_;
};

}  // namespace cohort::analytics::store
