#include "bench/analytics/product_generator.h"

#include <algorithm>
#include <array>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"

namespace cohort::bench {
namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;
constexpr int64_t kNoSession = INT64_MIN;
constexpr uint8_t kHasUser = 1;
constexpr uint8_t kResend = 2;

// splitmix64's finalizer: a bijective 64-bit mix.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// splitmix64: integer arithmetic only, so the same on every machine.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return Mix(state_);
  }
  // Uniform in [0, n) (Lemire's multiply-shift; the bias is < n / 2^64).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  int64_t Between(int64_t lo, int64_t hi) {  // [lo, hi]
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo + 1)));
  }
  bool Chance(int permille) { return Below(1000) < static_cast<uint64_t>(permille); }
  // An index into `cumulative` (ascending permille bounds, the last 1000).
  template <size_t N>
  size_t Pick(const std::array<int, N>& cumulative) {
    const auto u = static_cast<int>(Below(1000));
    size_t i = 0;
    while (i + 1 < N && u >= cumulative[i]) ++i;
    return i;
  }

 private:
  uint64_t state_;
};

// Day-N return probability, permille, N = 0..29 (index 0 unused: the cohort day is active).
constexpr std::array<int, 30> kRetentionPermille = {
    1000, 350, 270, 225, 195, 175, 160, 150, 140, 132, 125, 120, 115, 111, 108,
    106,  104, 102, 100, 98,  96,  94,  92,  90,  88,  86,  84,  82,  80,  78};

enum Type : uint8_t {
  kAppOpen,
  kSearch,
  kViewItem,
  kAddToCart,
  kPurchase,
  kSignUp,
  kLogin,
  kIdentify,
  kFirstFiller,
  kPushReceived = kFirstFiller + 5,
};

const std::array<std::string, 20> kTypes = {
    "app_open",      "search",   "view_item",       "add_to_cart",   "purchase",
    "sign_up",       "login",    "$identify",       "screen_view",   "scroll",
    "like",          "share",    "add_to_wishlist", "push_received", "push_open",
    "settings_open", "rate_app", "video_play",      "app_error",     "remove_from_cart"};
// Filler types kFirstFiller.. by cumulative permille.
constexpr std::array<int, 12> kFillerCumulative = {300, 500, 600, 640, 700, 780,
                                                   820, 860, 870, 950, 980, 1000};

// Actor attributes, packed into 32 bits.
enum Kind : uint32_t { kRegistered, kLateLogin, kAnonymous };
enum Platform : uint32_t { kIos, kAndroid, kWeb };
const std::array<std::string, 3> kPlatforms = {"ios", "android", "web"};
const std::array<std::string, 12> kCountries = {"US", "IN", "BR", "DE", "GB", "FR",
                                                "JP", "ID", "MX", "CA", "ES", "KR"};
constexpr std::array<int, 12> kCountryCumulative = {300, 440, 530, 600, 660, 710,
                                                    760, 810, 860, 900, 940, 1000};
const std::array<std::string, 3> kPlans = {"free", "pro", "enterprise"};
constexpr std::array<int, 3> kPlanCumulative = {800, 970, 1000};

struct Attributes {
  uint32_t kind, platform, country, plan, login_offset;
};
uint32_t Pack(const Attributes& a) {
  return a.kind | a.platform << 2 | a.country << 4 | a.plan << 8 | a.login_offset << 10;
}
Attributes Unpack(uint32_t p) {
  return {p & 3, (p >> 2) & 3, (p >> 4) & 15, (p >> 8) & 3, (p >> 10) & 7};
}

// Expected events of a session without filler: app_open, then a funnel attempt 30 % of the time
// (search, 70 % view_item, 35 % add_to_cart, 45 % purchase).
constexpr double kFunnelEventsPerSession = 1 + 0.3 * (1 + 0.7 * (1 + 0.35 * (1 + 0.45)));
// Sessions per active day: 1, a second 22 % of the time, a third after it 23 %.
constexpr double kSessionsPerDay = 1 + 0.22 * (1 + 0.23);

}  // namespace

const std::vector<std::string>& ProductEventTypes() {
  static const std::vector<std::string> types(kTypes.begin(), kTypes.end());
  return types;
}

ProductGenerator::ProductGenerator(ProductGeneratorOptions options) : options_(std::move(options)) {
  const int days = std::clamp(options_.days, 1, 255);
  const auto actors = static_cast<size_t>(std::max<int64_t>(options_.actors, 1));
  cohort_.resize(actors);
  attributes_.resize(actors);
  // Expected active days over all actors, in permille (exact integers), to size the filler.
  std::vector<int64_t> tail(days + 1, 0);  // tail[n]: sum of day 1..n return probabilities
  for (int n = 1; n <= days; ++n) {
    tail[n] = tail[n - 1] + kRetentionPermille[std::min<size_t>(n, kRetentionPermille.size() - 1)];
  }
  int64_t active_days_permille = 0;
  int64_t identity_events_permille = 0;
  for (size_t a = 0; a < actors; ++a) {
    Rng rng(Mix(options_.seed ^ Mix(0xac7012ULL << 32 | a)));
    const auto cohort = static_cast<int>(rng.Below(static_cast<uint64_t>(days)));
    cohort_[a] = static_cast<uint8_t>(cohort);
    Attributes at{};
    const auto kind = rng.Below(100);
    at.kind = kind < 55 ? kRegistered : kind < 85 ? kLateLogin : kAnonymous;
    const auto platform = rng.Below(100);
    at.platform = platform < 35 ? kIos : platform < 75 ? kAndroid : kWeb;
    at.country = static_cast<uint32_t>(rng.Pick(kCountryCumulative));
    at.plan = static_cast<uint32_t>(rng.Pick(kPlanCumulative));
    const auto login = rng.Below(100);
    at.login_offset = login < 40 ? 0 : login < 65 ? 1 : static_cast<uint32_t>(2 + rng.Below(5));
    attributes_[a] = Pack(at);
    active_days_permille += 1000 + tail[days - 1 - cohort];
    // sign_up + $identify on the cohort day; login + $identify on the login day if active then.
    const int login_day = cohort + static_cast<int>(at.login_offset);
    if (at.kind == kRegistered) {
      identity_events_permille += 2000;
    } else if (at.kind == kLateLogin && login_day < days) {
      identity_events_permille +=
          2 * (login_day == cohort ? 1000 : kRetentionPermille[at.login_offset]);
    }
  }
  const double budget =
      static_cast<double>(options_.events) - static_cast<double>(identity_events_permille) / 1000.0;
  const double events_per_day = budget * 1000.0 / static_cast<double>(active_days_permille);
  const double filler = std::max(0.0, events_per_day / kSessionsPerDay - kFunnelEventsPerSession);
  // Filler per session: uniform 0..2*whole, plus one with probability frac: mean whole + frac.
  filler_permille_ = static_cast<int>(filler * 1000.0 + 0.5);  // permille mean
}

int64_t ProductGenerator::end_ms() const {
  return options_.start_ms + static_cast<int64_t>(std::clamp(options_.days, 1, 255)) * kDayMs;
}

bool ProductGenerator::ArrivalOrder(const Draft& x, const Draft& y) {
  return std::tie(x.arrival_ms, x.actor, x.day, x.seq, x.flags) <
         std::tie(y.arrival_ms, y.actor, y.day, y.seq, y.flags);
}

void ProductGenerator::GenerateActorDay(uint32_t actor, int day, std::vector<Draft>* out) const {
  Rng rng(Mix(options_.seed ^ Mix(static_cast<uint64_t>(actor) << 8 | static_cast<uint64_t>(day))));
  const Attributes at = Unpack(attributes_[actor]);
  const int cohort = cohort_[actor];
  const int login_day = cohort + static_cast<int>(at.login_offset);
  bool has_user = at.kind == kRegistered || (at.kind == kLateLogin && day > login_day);
  const bool logs_in_today = at.kind == kLateLogin && day == login_day;
  const bool signs_up_today = at.kind == kRegistered && day == cohort;
  const bool sdk = at.platform != kWeb;

  int sessions = 1;
  if (rng.Chance(220)) sessions += rng.Chance(230) ? 2 : 1;
  std::array<int64_t, 3> starts{};
  for (int s = 0; s < sessions; ++s) starts[s] = rng.Between(0, kDayMs - 1);
  std::sort(starts.begin(), starts.begin() + sessions);

  const int filler_whole = filler_permille_ / 1000;
  const int filler_frac = filler_permille_ % 1000;
  uint16_t seq = 0;
  int64_t previous_end = INT64_MIN;
  const int64_t day_start = options_.start_ms + day * kDayMs;
  for (int s = 0; s < sessions; ++s) {
    int64_t t = day_start + starts[s];
    if (previous_end != INT64_MIN) t = std::max(t, previous_end + 31 * 60 * 1000);
    const int64_t session_id = sdk ? t : kNoSession;
    auto emit = [&](uint8_t type, uint32_t price_cents = 0) {
      Draft d{};
      d.time_ms = t;
      const auto lag_kind = rng.Below(1000);
      const int64_t lag = lag_kind < 900   ? rng.Between(0, 2000)
                          : lag_kind < 980 ? rng.Between(2000, 60'000)
                                           : rng.Between(60'000, 300'000);
      d.arrival_ms = t + lag;
      // Push notifications arrive outside any session (Amplitude: session_id -1).
      d.session_id = !sdk ? kNoSession : type == kPushReceived ? -1 : session_id;
      d.actor = actor;
      d.price_cents = price_cents;
      d.seq = seq++;
      d.day = static_cast<uint8_t>(day);
      d.type = type;
      d.flags = has_user ? kHasUser : 0;
      out->push_back(d);
      if (rng.Chance(10)) {
        Draft resend = d;
        resend.flags |= kResend;
        resend.arrival_ms += rng.Between(1000, 240'000);
        out->push_back(resend);
      }
    };
    emit(kAppOpen);
    if (s == 0 && signs_up_today) {
      t += rng.Between(5'000, 60'000);
      emit(kSignUp);
      t += 1;
      emit(kIdentify);
    }
    if (s == 0 && logs_in_today) {
      t += rng.Between(5'000, 60'000);
      has_user = true;
      emit(kLogin);
      t += 1;
      emit(kIdentify);
    }
    if (rng.Chance(300)) {
      const auto price = static_cast<uint32_t>(199 + rng.Below(20'000));
      t += rng.Between(3'000, 30'000);
      emit(kSearch);
      if (rng.Chance(700)) {
        t += rng.Between(5'000, 60'000);
        emit(kViewItem, price);
        if (rng.Chance(350)) {
          t += rng.Between(10'000, 180'000);
          emit(kAddToCart, price);
          if (rng.Chance(450)) {
            t += rng.Between(20'000, 600'000);
            emit(kPurchase, price);
          }
        }
      }
    }
    int filler = static_cast<int>(rng.Below(static_cast<uint64_t>(2 * filler_whole + 1)));
    if (rng.Chance(filler_frac)) ++filler;
    for (int f = 0; f < filler; ++f) {
      t += rng.Between(3'000, 90'000);
      emit(static_cast<uint8_t>(kFirstFiller + rng.Pick(kFillerCumulative)));
    }
    previous_end = t;
  }
}

void ProductGenerator::GenerateDay(int day) {
  std::vector<Draft> drafts = std::move(carry_);
  carry_.clear();
  const auto actors = static_cast<uint32_t>(cohort_.size());
  for (uint32_t a = 0; a < actors; ++a) {
    const int cohort = cohort_[a];
    if (cohort > day) continue;
    if (cohort < day) {
      Rng rng(Mix(options_.seed ^ Mix(0xda7ULL << 40 | static_cast<uint64_t>(a) << 8 |
                                      static_cast<uint64_t>(day))));
      const size_t n =
          std::min<size_t>(static_cast<size_t>(day - cohort), kRetentionPermille.size() - 1);
      if (!rng.Chance(kRetentionPermille[n])) continue;
    }
    GenerateActorDay(a, day, &drafts);
  }
  std::sort(drafts.begin(), drafts.end(), ArrivalOrder);
  const bool last = day + 1 >= std::clamp(options_.days, 1, 255);
  const int64_t day_end = options_.start_ms + (day + 1) * kDayMs;
  auto split = last ? drafts.end()
                    : std::partition_point(drafts.begin(), drafts.end(),
                                           [&](const Draft& d) { return d.arrival_ms < day_end; });
  carry_.assign(split, drafts.end());
  drafts.erase(split, drafts.end());
  ready_ = std::move(drafts);
  ready_pos_ = 0;
}

analytics::Event ProductGenerator::ToEvent(const Draft& d) const {
  const Attributes at = Unpack(attributes_[d.actor]);
  analytics::Event e;
  e.project = options_.project;
  e.event_type = kTypes[d.type];
  if (d.flags & kHasUser) e.user_id = absl::StrCat(options_.id_prefix, "u", d.actor);
  e.device_id = absl::StrCat(options_.id_prefix, "d", absl::Hex(Mix(d.actor ^ 0xde71ce)));
  e.time_ms = d.time_ms;
  e.insert_id = absl::StrCat(options_.id_prefix, absl::Hex(d.actor), "-", d.day, "-", d.seq);
  if (d.session_id != kNoSession) e.session_id = d.session_id;
  e.event_properties.emplace("platform", analytics::PropertyValue::String(kPlatforms[at.platform]));
  e.event_properties.emplace("country", analytics::PropertyValue::String(kCountries[at.country]));
  if (d.price_cents > 0) {
    e.event_properties.emplace("price", analytics::PropertyValue::Number(d.price_cents / 100.0));
  }
  if (d.type == kIdentify) {
    e.user_properties.emplace("$set", analytics::PropertyValue::Json(
                                          absl::StrCat("{\"plan\":\"", kPlans[at.plan], "\"}")));
  }
  return e;
}

size_t ProductGenerator::Next(size_t max, std::vector<analytics::Event>* out) {
  size_t n = 0;
  while (n < max) {
    if (ready_pos_ == ready_.size()) {
      if (next_day_ >= std::clamp(options_.days, 1, 255)) break;
      GenerateDay(next_day_++);
      continue;
    }
    const Draft& d = ready_[ready_pos_++];
    out->push_back(ToEvent(d));
    ++n;
    ++stats_.emitted;
    if (d.flags & kResend) ++stats_.resends;
    if (!(d.flags & kHasUser)) ++stats_.anonymous;
    if (d.session_id != kNoSession) ++stats_.sessioned;
    if (d.time_ms < max_time_emitted_) {
      ++stats_.late;
      stats_.max_lag_ms = std::max(stats_.max_lag_ms, max_time_emitted_ - d.time_ms);
    } else {
      max_time_emitted_ = d.time_ms;
    }
  }
  return n;
}

}  // namespace cohort::bench
