// The client's address as the analytics pipeline records it (`ip: "$remote"`): the TCP peer, or,
// when the peer is a trusted proxy, the address the proxies recorded in X-Forwarded-For; and the
// optional truncation that keeps only the network part. Pure functions, no I/O.
#pragma once

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/asio/ip/address.hpp"

namespace cohort::ingest::http {

// An IPv4 or IPv6 network. Host bits of the parsed text are ignored ("10.1.2.3/8" is 10.0.0.0/8).
struct Cidr {
  boost::asio::ip::address network;
  int prefix_length = 0;  // 0..32 for IPv4, 0..128 for IPv6

  // Whether `address` is inside. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) counts as IPv4.
  bool Contains(const boost::asio::ip::address& address) const;
};

// Parses "a.b.c.d/n" or "<IPv6>/n"; a bare address is a host network (/32 or /128).
// kInvalidArgument naming the text when it is neither.
[[nodiscard]] absl::StatusOr<Cidr> ParseCidr(std::string_view text);

// Parses every entry; the first bad one is the error.
[[nodiscard]] absl::StatusOr<std::vector<Cidr>> ParseCidrs(const std::vector<std::string>& texts);

// The client address for a request from `peer` carrying the X-Forwarded-For value `forwarded_for`
// (empty when absent; several headers joined with ","). Walks the list right to left while the
// current hop is inside `trusted_proxies`: the answer is the first untrusted hop, or the leftmost
// entry when every hop is trusted. An entry that is not an address (possibly "[v6]:port" or
// "v4:port", which are accepted) stops the walk at the hop that added it. IPv4-mapped IPv6
// addresses are answered as IPv4. With no trusted proxies the answer is always the peer.
boost::asio::ip::address ClientAddress(const boost::asio::ip::address& peer,
                                       std::string_view forwarded_for,
                                       const std::vector<Cidr>& trusted_proxies);

// Keeps the first `v4_prefix` bits of an IPv4 address or `v6_prefix` bits of an IPv6 one and
// zeroes the rest (the defaults keep /24 and /48, the usual anonymisation). Prefixes are clamped
// to the address width.
boost::asio::ip::address TruncateAddress(const boost::asio::ip::address& address,
                                         int v4_prefix = 24, int v6_prefix = 48);

}  // namespace cohort::ingest::http
