#include "common/crc32c.h"

#include <string>

#include "gtest/gtest.h"

namespace cohort {
namespace {

using CrcFn = uint32_t (*)(uint32_t, const char*, size_t);

uint32_t Compute(CrcFn fn, const std::string& s) { return fn(0, s.data(), s.size()); }

class Crc32cTest : public ::testing::TestWithParam<CrcFn> {
 protected:
  void SetUp() override {
    if (GetParam() == &Crc32cExtendHardware && !Crc32cHardwareAvailable()) {
      GTEST_SKIP() << "no SSE4.2 on this CPU";
    }
  }
};

// RFC 3720, appendix B.4 (CRC examples).
TEST_P(Crc32cTest, Rfc3720CheckValues) {
  const CrcFn fn = GetParam();
  EXPECT_EQ(Compute(fn, std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Compute(fn, std::string(32, '\xFF')), 0x62A8AB43u);
  std::string inc(32, '\0'), dec(32, '\0');
  for (int i = 0; i < 32; ++i) {
    inc[i] = static_cast<char>(i);
    dec[i] = static_cast<char>(31 - i);
  }
  EXPECT_EQ(Compute(fn, inc), 0x46DD794Eu);
  EXPECT_EQ(Compute(fn, dec), 0x113FDB5Cu);
  const unsigned char iscsi_read[48] = {0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00,
                                        0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00,
                                        0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                        0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(Compute(fn, std::string(reinterpret_cast<const char*>(iscsi_read), 48)), 0xD9963A56u);
  EXPECT_EQ(Compute(fn, "123456789"), 0xE3069283u);
  EXPECT_EQ(Compute(fn, ""), 0u);
}

TEST_P(Crc32cTest, ExtendEqualsWholeAtEverySplit) {
  const CrcFn fn = GetParam();
  std::string data;
  for (int i = 0; i < 100; ++i) data.push_back(static_cast<char>(i * 7 + 3));
  const uint32_t whole = Compute(fn, data);
  for (size_t split = 0; split <= data.size(); ++split) {
    const uint32_t head = fn(0, data.data(), split);
    EXPECT_EQ(fn(head, data.data() + split, data.size() - split), whole) << split;
  }
}

INSTANTIATE_TEST_SUITE_P(Implementations, Crc32cTest,
                         ::testing::Values(&Crc32cExtendPortable, &Crc32cExtendHardware));

TEST(Crc32cDispatchTest, AgreesWithPortableOnOddLengthsAndAlignments) {
  std::string data(1000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 131) ^ (i >> 3));
  for (size_t start = 0; start < 9; ++start) {
    for (size_t len : {0, 1, 7, 8, 9, 15, 16, 17, 63, 500, 991}) {
      EXPECT_EQ(Crc32cExtend(0, data.data() + start, len),
                Crc32cExtendPortable(0, data.data() + start, len));
    }
  }
}

TEST(Crc32cMaskTest, RoundTripsAndChangesTheValue) {
  for (uint32_t crc : {0u, 1u, 0xE3069283u, 0xFFFFFFFFu}) {
    EXPECT_EQ(UnmaskCrc(MaskCrc(crc)), crc);
    EXPECT_NE(MaskCrc(crc), crc);
  }
}

}  // namespace
}  // namespace cohort
