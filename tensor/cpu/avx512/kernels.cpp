// The AVX-512 level: 16-float vectors, 8 x 48 GEMM tiles, masked im2col loads.
// Compiled with this directory's flags (CMakeLists.txt) into namespace
// drift::cpu::avx512 from the width-generic GEMM and convolution code.
#include "tensor/cpu/conv_fast.h"
