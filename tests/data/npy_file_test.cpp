// .npy files: files numpy wrote, round trip of every supported type, and clear refusals of what
// is not one.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <numbers>

#include "core/error.h"
#include "data/npy_file.h"
#include "support/test_support.h"

namespace cpuinfer {
namespace {

// Written by numpy.save: tests/data/fixtures/npy/make_fixtures.py (run with /usr/bin/python3, which
// has numpy) says how each was made.
std::filesystem::path numpy_fixture(const std::string& name) {
  return std::filesystem::path(__FILE__).parent_path() / "fixtures" / "npy" / name;
}

template <typename T>
std::vector<T> values_of(const Tensor& t) {
  const auto v = t.values<T>();
  return {v.begin(), v.end()};
}

TEST(NpyFile, ReadsWhatNumpyWrites) {
  const Tensor f32 = read_npy(numpy_fixture("f32_2x3.npy"));
  ASSERT_EQ(f32.dtype(), DType::f32);
  EXPECT_EQ(f32.shape(), (Shape{2, 3}));
  EXPECT_EQ(values_of<float>(f32), (std::vector<float>{-1, -0.5, 0, 0.5, 1, 1.5}));

  const Tensor f64 = read_npy(numpy_fixture("f64_3.npy"));
  ASSERT_EQ(f64.dtype(), DType::f64);
  EXPECT_EQ(f64.shape(), (Shape{3}));
  EXPECT_EQ(f64.values<double>()[0], std::numbers::pi);
  EXPECT_TRUE(f64.values<double>()[1] == 0 && std::signbit(f64.values<double>()[1]));  // -0.0 kept
  EXPECT_EQ(f64.values<double>()[2], 1e300);

  const Tensor i64 = read_npy(numpy_fixture("i64_4.npy"));
  ASSERT_EQ(i64.dtype(), DType::i64);
  EXPECT_EQ(values_of<std::int64_t>(i64), (std::vector<std::int64_t>{-(std::int64_t{1} << 40), -1, 0, std::int64_t{1} << 62}));

  const Tensor scalar = read_npy(numpy_fixture("i32_scalar.npy"));  // 'shape': ()
  ASSERT_EQ(scalar.dtype(), DType::i32);
  EXPECT_EQ(scalar.shape(), Shape{});
  EXPECT_EQ(values_of<std::int32_t>(scalar), std::vector<std::int32_t>{-7});

  const Tensor u8 = read_npy(numpy_fixture("u8_5.npy"));  // '|u1'
  ASSERT_EQ(u8.dtype(), DType::u8);
  EXPECT_EQ(values_of<std::uint8_t>(u8), (std::vector<std::uint8_t>{0, 1, 127, 128, 255}));

  const Tensor f16 = read_npy(numpy_fixture("f16_4.npy"));
  ASSERT_EQ(f16.dtype(), DType::f16);
  std::vector<float> halves;
  for (Float16 h : f16.values<Float16>()) halves.push_back(static_cast<float>(h));
  // numpy rounds 1e-7 to the nearest float16, the subnormal 2 * 2^-24.
  EXPECT_EQ(halves, (std::vector<float>{0.5f, -2.0f, 65504.0f, std::ldexp(2.0f, -24)}));

  const Tensor flags = read_npy(numpy_fixture("bool_2x2.npy"));  // '|b1'
  ASSERT_EQ(flags.dtype(), DType::boolean);
  EXPECT_EQ(flags.shape(), (Shape{2, 2}));
  EXPECT_EQ(values_of<bool>(flags), (std::vector<bool>{true, false, false, true}));

  const Tensor empty = read_npy(numpy_fixture("f32_0x3.npy"));
  EXPECT_EQ(empty.shape(), (Shape{0, 3}));
  EXPECT_EQ(empty.numel(), 0u);

  const Tensor v2 = read_npy(numpy_fixture("i16_2x2_v2.npy"));  // format version 2.0: 4-byte header length
  ASSERT_EQ(v2.dtype(), DType::i16);
  EXPECT_EQ(values_of<std::int16_t>(v2), (std::vector<std::int16_t>{1, -2, 300, -32768}));
}

TEST(NpyFile, RefusesNumpyArraysItCannotReadSayingWhy) {
  auto error_of = [](const std::string& name) -> std::string {
    try {
      read_npy(numpy_fixture(name));
    } catch (const Error& e) {
      return e.what();
    }
    return "accepted";
  };
  const std::string fortran = error_of("f32_2x3_fortran.npy");
  EXPECT_NE(fortran.find("f32_2x3_fortran.npy: the array is in Fortran order"), std::string::npos) << fortran;
  EXPECT_NE(fortran.find("numpy.ascontiguousarray"), std::string::npos) << fortran;
  const std::string big = error_of("i32_3_big_endian.npy");
  EXPECT_NE(big.find("i32_3_big_endian.npy: element type '>i4' is big-endian"), std::string::npos) << big;
  const std::string complex = error_of("c64_2.npy");
  EXPECT_NE(complex.find("c64_2.npy: element type '<c8' is not supported"), std::string::npos) << complex;
}

TEST(NpyFile, RoundTripsEverySupportedType) {
  testing::TempDir dir;
  for (DType dtype : {DType::f32, DType::f64, DType::i32, DType::i64, DType::boolean}) {
    SCOPED_TRACE(dtype_name(dtype));
    Tensor t(dtype, {2, 3});
    for (std::size_t i = 0; i < t.nbytes(); ++i) static_cast<unsigned char*>(t.data())[i] = dtype == DType::boolean ? i % 2 : static_cast<unsigned char>(i);
    write_npy(dir.path() / "t.npy", t);
    const Tensor back = read_npy(dir.path() / "t.npy");
    EXPECT_EQ(back.dtype(), dtype);
    EXPECT_EQ(back.shape(), t.shape());
    EXPECT_EQ(std::memcmp(back.data(), t.data(), t.nbytes()), 0);
  }
  write_npy(dir.path() / "v.npy", Tensor(DType::f32, {5}));
  EXPECT_EQ(read_npy(dir.path() / "v.npy").shape(), (Shape{5}));
}

// bfloat16 has no numpy type: writing one is an error naming the file and the type, not a crash.
TEST(NpyFile, TypeNumpyLacksIsRefusedOnWrite) {
  testing::TempDir dir;
  EXPECT_TRUE(npy_holds(DType::f16));
  EXPECT_TRUE(npy_holds(DType::u8));
  EXPECT_FALSE(npy_holds(DType::bf16));
  try {
    write_npy(dir.path() / "b.npy", Tensor(DType::bf16, {2}));
    FAIL() << "wrote a bfloat16 .npy";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("b.npy: .npy files hold no"), std::string::npos) << e.what();
  }
}

TEST(NpyFile, RefusesWhatIsNotASupportedArray) {
  testing::TempDir dir;
  auto refuses = [&](const std::string& bytes, const std::string& culprit) {
    testing::write_bytes(dir.path() / "x.npy", {bytes.begin(), bytes.end()});
    try {
      read_npy(dir.path() / "x.npy");
      ADD_FAILURE() << "accepted: " << culprit;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(culprit), std::string::npos) << e.what();
    }
  };
  auto npy = [](const std::string& header, const std::string& data) {
    std::string h = header;
    std::string out = std::string("\x93NUMPY\x01\x00", 8);
    out += static_cast<char>(h.size() & 0xff);
    out += static_cast<char>(h.size() >> 8);
    return out + h + data;
  };
  refuses("hello", "not a .npy file");
  refuses(npy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", "abcdefgh"), "element type '<c8'");
  refuses(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", "abcd"), "only C-order");
  refuses(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", "abcd"), "holds 4 data bytes");
  refuses(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 2), }", ""), "absurd");
  refuses(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 2199023255552), }", ""), "too large");
  refuses(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,x), }", ""), "malformed 'shape'");
  // A long header is scanned, not matched by a recursive regex (which overflowed the stack).
  refuses(npy("{'descr': '<f4" + std::string(60000, ' ') + "', 'fortran_order': False, 'shape': (1,), }", "abcd"),
          "element type");
  // Header bytes reach the message escaped and cut: one line, whatever the header holds.
  refuses(npy("{'descr': '<f4\n\xff', 'fortran_order': False, 'shape': (1,), }", "abcd"), "'<f4\\x0a\\xff'");
  EXPECT_THROW(read_npy(dir.path() / "missing.npy"), Error);
}

}  // namespace
}  // namespace cpuinfer
