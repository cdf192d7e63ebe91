#include <cstring>

#include "tensor/cpu/kernels.h"

namespace drift {

Backend make_cpu_backend() {
  Backend b;
  b.device = Device::CPU;
  b.name = "cpu";
  b.allocator = &cpu_allocator();
  b.copy_to_host = [](void* dst, const void* src, size_t n) { std::memcpy(dst, src, n); };
  b.copy_from_host = [](void* dst, const void* src, size_t n) { std::memcpy(dst, src, n); };
  b.synchronize = [] {};
  b.available = [] { return true; };
  cpu::register_copy_kernels(b);
  cpu::register_random_kernels(b);
  cpu::register_elementwise_kernels(b);
  cpu::register_reduce_kernels(b);
  cpu::register_matmul_kernels(b);
  cpu::register_conv_kernels(b);
  cpu::register_pool_kernels(b);
  cpu::register_index_kernels(b);
  cpu::register_softmax_kernels(b);
  cpu::register_norm_kernels(b);
  cpu::register_optim_kernels(b);
  cpu::register_attention_kernels(b);
  return b;
}

}  // namespace drift
