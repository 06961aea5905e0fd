// A segment's fixed-width column (segment.h): its values either owned on the heap — a segment
// being built or merged, or decoded from a file that is not mapped — or viewed in place in the
// read-only mapping of the segment's file, which the segment keeps alive (segment_codec.h). So a
// stored segment's columns live in the page cache, which the kernel can reclaim and reload, not
// on the heap. Reads go through one pointer either way.
//
// Building: fill owned(), then Seal() (a column reads as empty until sealed or viewed).
// Movable (the view follows the moved buffer), not copyable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "absl/types/span.h"

namespace cohort::analytics::store {

template <typename T>
class Column {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  Column() = default;
  Column(Column&&) noexcept = default;
  Column& operator=(Column&&) noexcept = default;
  Column(const Column&) = delete;
  Column& operator=(const Column&) = delete;

  // The values being built; reads see them after Seal().
  std::vector<T>& owned() { return owned_; }
  void Seal() { view_ = absl::MakeConstSpan(owned_); }
  // Reads `n` values at `data` from now on (memory the caller keeps alive as long as this
  // column) and frees the owned ones.
  void View(const T* data, size_t n) {
    std::vector<T>().swap(owned_);
    view_ = absl::MakeConstSpan(data, n);
  }

  size_t size() const { return view_.size(); }
  bool empty() const { return view_.empty(); }
  const T& operator[](size_t i) const { return view_[i]; }
  const T* data() const { return view_.data(); }
  const T* begin() const { return view_.data(); }
  const T* end() const { return view_.data() + view_.size(); }
  absl::Span<const T> span() const { return view_; }

  // Heap bytes the column holds (0 when it views a mapping).
  uint64_t heap_bytes() const { return owned_.capacity() * sizeof(T); }

 private:
  std::vector<T> owned_;
  absl::Span<const T> view_;
};

}  // namespace cohort::analytics::store
