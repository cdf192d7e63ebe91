#pragma once
// CPU kernel families: each file tensor/cpu/<family>.cpp defines its kernels
// and registers them into the CPU table through one function listed here.
#include "tensor/backend.h"

namespace drift::cpu {

void register_copy_kernels(Backend& b);         // cpu/copy.cpp:        Fill, Copy
void register_random_kernels(Backend& b);       // cpu/random.cpp:      RandUniform, RandNormal
void register_elementwise_kernels(Backend& b);  // cpu/elementwise.cpp: binary, unary, scalar ops, Where
void register_reduce_kernels(Backend& b);       // cpu/reduce.cpp:      Sum, Max, Min, ArgMax, ArgMin
void register_matmul_kernels(Backend& b);       // cpu/matmul.cpp:      Matmul (OpenBLAS)
void register_conv_kernels(Backend& b);         // cpu/conv.cpp:        Conv2d and its two backward passes
void register_pool_kernels(Backend& b);         // cpu/pool.cpp:        AvgPool2d, UpsampleNearest2d (+ backward)
void register_index_kernels(Backend& b);        // cpu/index.cpp:       IndexSelect, IndexAdd
void register_softmax_kernels(Backend& b);      // cpu/softmax.cpp:     Softmax, LogSoftmax
void register_norm_kernels(Backend& b);         // cpu/norm.cpp:        GroupNorm (+ backward; LayerNorm runs through it)
void register_optim_kernels(Backend& b);        // cpu/optim.cpp:       AdamStep
void register_attention_kernels(Backend& b);    // cpu/attention.cpp:   Attention

}  // namespace drift::cpu
