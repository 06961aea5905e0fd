#include "ingest/http/client_address.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace cohort::ingest::http {
namespace {

namespace ip = boost::asio::ip;

TEST(ParseCidrTest, AcceptsV4V6AndBareAddresses) {
  struct Case {
    std::string text;
    std::string network;
    int prefix;
  };
  const std::vector<Case> cases = {
      {"10.0.0.0/8", "10.0.0.0", 8},
      {"10.1.2.3/8", "10.0.0.0", 8},  // host bits ignored
      {"192.168.1.7", "192.168.1.7", 32},
      {"0.0.0.0/0", "0.0.0.0", 0},
      {"fd00::/8", "fd00::", 8},
      {"2001:db8:1:2::5/48", "2001:db8:1::", 48},
      {"::1", "::1", 128},
      {" 172.16.0.0/12 ", "172.16.0.0", 12},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Cidr> cidr = ParseCidr(c.text);
    ASSERT_TRUE(cidr.ok()) << c.text << ": " << cidr.status();
    EXPECT_EQ(cidr->network.to_string(), c.network) << c.text;
    EXPECT_EQ(cidr->prefix_length, c.prefix) << c.text;
  }
}

TEST(ParseCidrTest, RejectsBadText) {
  for (const std::string text : {"", "10.0.0.0/33", "fd00::/129", "10.0.0.0/-1", "10.0.0.0/8x",
                                 "10.0.0/8", "host/8", "10.0.0.0/", "10.0.0.0/+8"}) {
    EXPECT_FALSE(ParseCidr(text).ok()) << text;
  }
  EXPECT_FALSE(ParseCidrs({"10.0.0.0/8", "bad"}).ok());
  EXPECT_EQ(ParseCidrs({"10.0.0.0/8", "::1"})->size(), 2u);
}

TEST(CidrTest, ContainsMatchesFamilyAndPrefix) {
  const Cidr v4 = *ParseCidr("10.0.0.0/8");
  EXPECT_TRUE(v4.Contains(ip::make_address("10.255.1.2")));
  EXPECT_FALSE(v4.Contains(ip::make_address("11.0.0.1")));
  EXPECT_TRUE(v4.Contains(ip::make_address("::ffff:10.1.1.1")));  // v4-mapped
  EXPECT_FALSE(v4.Contains(ip::make_address("::a01:101")));
  const Cidr v6 = *ParseCidr("fd00::/8");
  EXPECT_TRUE(v6.Contains(ip::make_address("fd12:3456::1")));
  EXPECT_FALSE(v6.Contains(ip::make_address("fe80::1")));
  EXPECT_FALSE(v6.Contains(ip::make_address("10.0.0.1")));
  EXPECT_TRUE(ParseCidr("0.0.0.0/0")->Contains(ip::make_address("8.8.8.8")));
}

TEST(ClientAddressTest, WalksForwardedForWhileTrusted) {
  const std::vector<Cidr> trusted = *ParseCidrs({"10.0.0.0/8", "fd00::/8"});
  struct Case {
    std::string peer;
    std::string xff;
    std::vector<Cidr> trusted;
    std::string want;
  };
  const std::vector<Case> cases = {
      // Untrusted peer: its header is ignored.
      {"203.0.113.9", "1.2.3.4", trusted, "203.0.113.9"},
      // No trusted proxies configured: always the peer.
      {"10.0.0.1", "1.2.3.4", {}, "10.0.0.1"},
      // Trusted peer, no header.
      {"10.0.0.1", "", trusted, "10.0.0.1"},
      // One trusted hop.
      {"10.0.0.1", "198.51.100.7", trusted, "198.51.100.7"},
      // Right to left through trusted hops; a spoofed leftmost entry is not believed.
      {"10.0.0.1", "6.6.6.6, 198.51.100.7, 10.2.3.4", trusted, "198.51.100.7"},
      // Every hop trusted: the leftmost.
      {"10.0.0.1", "10.9.9.9, 10.2.3.4", trusted, "10.9.9.9"},
      // IPv6 hops, with brackets and ports.
      {"fd00::1", "2001:db8::7", trusted, "2001:db8::7"},
      {"fd00::1", "[2001:db8::7]:443, fd00::2", trusted, "2001:db8::7"},
      {"10.0.0.1", "198.51.100.7:5555", trusted, "198.51.100.7"},
      // Garbage stops the walk at the hop that added it.
      {"10.0.0.1", "198.51.100.7, garbage, 10.2.3.4", trusted, "10.2.3.4"},
      {"10.0.0.1", "not-an-ip", trusted, "10.0.0.1"},
      {"10.0.0.1", "1.2.3.4,,", trusted, "10.0.0.1"},
      // A v4-mapped peer is treated (and answered) as IPv4.
      {"::ffff:10.0.0.1", "198.51.100.7", trusted, "198.51.100.7"},
      {"::ffff:203.0.113.9", "198.51.100.7", trusted, "203.0.113.9"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ClientAddress(ip::make_address(c.peer), c.xff, c.trusted).to_string(), c.want)
        << "peer=" << c.peer << " xff=" << c.xff;
  }
}

TEST(TruncateAddressTest, KeepsNetworkBits) {
  struct Case {
    std::string in;
    int v4;
    int v6;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"198.51.100.77", 24, 48, "198.51.100.0"},
      {"198.51.100.77", 16, 48, "198.51.0.0"},
      {"198.51.100.77", 32, 48, "198.51.100.77"},
      {"198.51.100.77", 99, 48, "198.51.100.77"},  // clamped
      {"198.51.100.77", 0, 48, "0.0.0.0"},
      {"198.51.100.77", 20, 48, "198.51.96.0"},
      {"2001:db8:1234:5678::1", 24, 48, "2001:db8:1234::"},
      {"2001:db8:1234:5678::1", 24, 64, "2001:db8:1234:5678::"},
      {"::ffff:198.51.100.77", 24, 48, "198.51.100.0"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(TruncateAddress(ip::make_address(c.in), c.v4, c.v6).to_string(), c.want) << c.in;
  }
  EXPECT_EQ(TruncateAddress(ip::make_address("1.2.3.4")).to_string(), "1.2.3.0");
}

}  // namespace
}  // namespace cohort::ingest::http
