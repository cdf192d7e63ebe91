// The AVX2+FMA level: 8-float vectors, 6 x 16 GEMM tiles.
// Compiled with this directory's flags (CMakeLists.txt) into namespace
// drift::cpu::avx2 from the width-generic GEMM and convolution code.
#include "tensor/cpu/conv_fast.h"
