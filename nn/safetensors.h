#pragma once
// The safetensors file format (https://github.com/huggingface/safetensors):
//   8 bytes   N, the header length, unsigned little-endian
//   N bytes   JSON header: {"name": {"dtype": "F32", "shape": [2, 3],
//             "data_offsets": [begin, end]}, ..., "__metadata__": {"k": "v"}}
//             (padded with spaces to a multiple of 8 bytes)
//   rest      the tensors' raw little-endian bytes; offsets count from here.
// drift reads and writes the dtypes F32, F64 and I64.
#include <map>
#include <string>

#include "nn/module.h"

namespace drift::nn {

using Metadata = std::map<std::string, std::string>;

struct SafetensorsContents {
  NamedTensors tensors;  // in file order, on the CPU
  Metadata metadata;
};

// Writes `tensors` (any device; copied to the host) atomically: the bytes go
// to a temporary file in the same folder, which is then renamed over `path`,
// so a crash never leaves a half-written file under `path`.
void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata = {});

// Reads and validates the whole file (header length, JSON, dtypes, shapes,
// offsets within the data and consistent with shape x dtype) before returning
// anything. Errors name the file, the tensor and what was expected vs found.
SafetensorsContents load_safetensors(const std::string& path);
// The metadata alone: reads and checks only the length field and the JSON
// header (cheap for large files); the tensors are not read.
Metadata load_safetensors_metadata(const std::string& path);

// A module's parameters to / from a safetensors file. Loading checks every
// name, shape and dtype before copying any value (a failed load leaves the
// module unchanged); errors name the file.
void save_module(const Module& module, const std::string& path, const Metadata& metadata = {});
void load_module(Module& module, const std::string& path, bool strict = true);

}  // namespace drift::nn
