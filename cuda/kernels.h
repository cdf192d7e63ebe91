#pragma once
// CUDA kernel families: each file cuda/<family>.cu defines its kernels and
// registers them into the CUDA table through one function listed here (the
// same families, and the same op -> family mapping, as tensor/cpu/kernels.h).
// Plain C++: no CUDA headers, so host code and tests may include it.
#include <cstddef>

#include "tensor/backend.h"

namespace drift::cuda {

void register_copy_kernels(Backend& b);         // cuda/copy.cu:        Fill, Copy
void register_random_kernels(Backend& b);       // cuda/random.cu:      RandUniform, RandNormal
void register_elementwise_kernels(Backend& b);  // cuda/elementwise.cu: binary, unary, scalar ops, Where
void register_reduce_kernels(Backend& b);       // cuda/reduce.cu:      Sum, Max, Min, ArgMax, ArgMin
void register_matmul_kernels(Backend& b);       // cuda/matmul.cu:      Matmul (cuBLAS)
void register_conv_kernels(Backend& b);         // cuda/conv.cu:        Conv2d and its two backward passes
void register_pool_kernels(Backend& b);         // cuda/pool.cu:        AvgPool2d, UpsampleNearest2d (+ backward)
void register_index_kernels(Backend& b);        // cuda/index.cu:       IndexSelect, IndexAdd
void register_softmax_kernels(Backend& b);      // cuda/softmax.cu:     Softmax, LogSoftmax
void register_norm_kernels(Backend& b);         // cuda/norm.cu:        GroupNorm (+ backward; LayerNorm runs through it)
void register_optim_kernels(Backend& b);        // cuda/optim.cu:       AdamStep (all tensors in one launch)
void register_attention_kernels(Backend& b);    // cuda/attention.cu:   Attention (flash-attention style)
void register_graph_support(Backend& b);        // cuda/graph.cu:       Backend::capture_graph (CUDA graphs)

// The caching device allocator (cuda/allocator.cu).
Allocator& cuda_allocator();

// The CUDA backend (cuda/register.cu); registered automatically at start-up.
Backend make_cuda_backend();

}  // namespace drift::cuda
