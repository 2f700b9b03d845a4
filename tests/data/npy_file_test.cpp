// .npy files: round trip of every supported type, and clear refusals of what is not one.
#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"
#include "data/npy_file.h"
#include "support/test_support.h"

namespace cpuinfer {
namespace {

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
  EXPECT_THROW(read_npy(dir.path() / "missing.npy"), Error);
}

}  // namespace
}  // namespace cpuinfer
