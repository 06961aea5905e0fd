// Client address resolution (client_address.h).
#include "ingest/http/client_address.h"

#include <algorithm>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"

namespace cohort::ingest::http {
namespace {

namespace ip = boost::asio::ip;

// (Debian's Abseil string helpers take absl::string_view, a different type from std's.)
std::string_view Strip(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  const size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(kSpace) - begin + 1);
}

// A decimal number of 1..5 digits (ports and prefix lengths), nothing else.
std::optional<int> ParseSmallNumber(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

ip::address Unmap(const ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return ip::make_address_v4(ip::v4_mapped, address.to_v6());
  }
  return address;
}

// Bytes of the address with every bit past `prefix` cleared.
template <typename Bytes>
Bytes Mask(Bytes bytes, int prefix) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    const int keep = std::clamp(prefix - static_cast<int>(i) * 8, 0, 8);
    bytes[i] &= static_cast<unsigned char>(keep == 0 ? 0 : 0xFF << (8 - keep));
  }
  return bytes;
}

ip::address MaskAddress(const ip::address& address, int prefix) {
  if (address.is_v4()) return ip::address_v4(Mask(address.to_v4().to_bytes(), prefix));
  return ip::address_v6(Mask(address.to_v6().to_bytes(), prefix));
}

std::optional<ip::address> ParseAddress(std::string_view text) {
  boost::system::error_code ec;
  ip::address address = ip::make_address(std::string(text), ec);
  if (!ec) return Unmap(address);
  return std::nullopt;
}

// An X-Forwarded-For entry: an address, "[v6]" or "[v6]:port", or "v4:port".
std::optional<ip::address> ParseHop(std::string_view hop) {
  hop = Strip(hop);
  if (hop.empty()) return std::nullopt;
  if (hop.front() == '[') {
    const size_t close = hop.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view rest = hop.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || !ParseSmallNumber(rest.substr(1)))) {
      return std::nullopt;
    }
    return ParseAddress(hop.substr(1, close - 1));
  }
  if (auto address = ParseAddress(hop)) return address;
  // "a.b.c.d:port": exactly one colon (an IPv6 literal has several).
  const size_t colon = hop.find(':');
  if (colon != std::string_view::npos && hop.find(':', colon + 1) == std::string_view::npos &&
      ParseSmallNumber(hop.substr(colon + 1))) {
    auto address = ParseAddress(hop.substr(0, colon));
    if (address && address->is_v4()) return address;
  }
  return std::nullopt;
}

bool Trusted(const ip::address& address, const std::vector<Cidr>& trusted) {
  return std::any_of(trusted.begin(), trusted.end(),
                     [&](const Cidr& cidr) { return cidr.Contains(address); });
}

}  // namespace

bool Cidr::Contains(const ip::address& address) const {
  const ip::address a = Unmap(address);
  if (a.is_v4() != network.is_v4()) return false;
  return MaskAddress(a, prefix_length) == network;
}

absl::StatusOr<Cidr> ParseCidr(std::string_view text) {
  const std::string_view trimmed = Strip(text);
  const size_t slash = trimmed.find('/');
  const std::optional<ip::address> address = ParseAddress(trimmed.substr(0, slash));
  if (!address) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", std::string(text), "\" is not an IPv4 or IPv6 CIDR"));
  }
  const int width = address->is_v4() ? 32 : 128;
  int prefix = width;
  if (slash != std::string_view::npos) {
    const std::optional<int> parsed = ParseSmallNumber(trimmed.substr(slash + 1));
    prefix = parsed.value_or(-1);
  }
  if (prefix < 0 || prefix > width) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", std::string(text), "\" has a bad prefix length (0..", width, ")"));
  }
  return Cidr{MaskAddress(*address, prefix), prefix};
}

absl::StatusOr<std::vector<Cidr>> ParseCidrs(const std::vector<std::string>& texts) {
  std::vector<Cidr> cidrs;
  cidrs.reserve(texts.size());
  for (const std::string& text : texts) {
    absl::StatusOr<Cidr> cidr = ParseCidr(text);
    if (!cidr.ok()) return cidr.status();
    cidrs.push_back(*cidr);
  }
  return cidrs;
}

ip::address ClientAddress(const ip::address& peer, std::string_view forwarded_for,
                          const std::vector<Cidr>& trusted_proxies) {
  ip::address current = Unmap(peer);
  if (forwarded_for.empty() || !Trusted(current, trusted_proxies)) return current;
  // Right to left: the entry before each ',' from the end.
  size_t end = forwarded_for.size();
  while (true) {
    const size_t comma = forwarded_for.rfind(',', end == 0 ? 0 : end - 1);
    const size_t begin = (comma == std::string_view::npos || end == 0) ? 0 : comma + 1;
    const std::optional<ip::address> hop = ParseHop(forwarded_for.substr(begin, end - begin));
    if (!hop) return current;
    current = *hop;
    if (!Trusted(current, trusted_proxies) || begin == 0) return current;
    end = comma;
  }
}

ip::address TruncateAddress(const ip::address& address, int v4_prefix, int v6_prefix) {
  const ip::address a = Unmap(address);
  return MaskAddress(a, a.is_v4() ? std::clamp(v4_prefix, 0, 32) : std::clamp(v6_prefix, 0, 128));
}

}  // namespace cohort::ingest::http
