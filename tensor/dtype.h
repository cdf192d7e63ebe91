#pragma once
// Element types and devices.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor/half.h"

namespace drift {

// float32 is the working type; float64 serves numerical gradient checks on the
// CPU; int64 holds labels and indices. bfloat16 and float16 are storage types
// for mixed precision (tensor/half.h): arithmetic on them converts to float32.
enum class DType : uint8_t { Float32, Float64, Int64, BFloat16, Float16 };
constexpr int kNumDTypes = 5;

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int64: return 8;
    case DType::BFloat16: return 2;
    case DType::Float16: return 2;
  }
  return 0;
}
inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
    case DType::BFloat16: return "bfloat16";
    case DType::Float16: return "float16";
  }
  return "?";
}
// The 16-bit storage types.
inline bool is_half(DType t) { return t == DType::BFloat16 || t == DType::Float16; }
inline bool is_floating(DType t) { return t == DType::Float32 || t == DType::Float64 || is_half(t); }

// C++ type -> DType.
template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<bfloat16> { static constexpr DType value = DType::BFloat16; };
template <> struct dtype_of<float16> { static constexpr DType value = DType::Float16; };

enum class Device : uint8_t { CPU, CUDA };
constexpr int kNumDevices = 2;
inline const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

}  // namespace drift
