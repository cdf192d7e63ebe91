#pragma once
// drift: everything a program needs in one include. Installed as
// <drift/drift.h>; each header can also be included alone, e.g.
// <drift/tensor/ops.h>. Link with drift::drift (CMake: find_package(drift))
// or `pkg-config --cflags --libs drift`.
//
//   #include <drift/drift.h>
//   drift::Tensor x = drift::ops::ones({2, 3});
//   double s = drift::ops::item(drift::ops::sum(x));   // 6

// tensors, ops and their backends' registry
#include "tensor/tensor.h"
#include "tensor/ops.h"
#include "tensor/rng.h"
#include "tensor/profiler.h"
// processes: single, MPI, NCCL communicators
#include "dist/comm.h"
// reverse-mode autograd
#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/gradcheck.h"
// modules, optimizers, files
#include "nn/module.h"
#include "nn/layers.h"
#include "nn/unet.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#include "nn/checkpoint.h"
#include "nn/posthoc_ema.h"
// diffusion: schedules, training, samplers, SDEs, metrics
#include "diffusion/schedule.h"
#include "diffusion/forward.h"
#include "diffusion/denoiser.h"
#include "diffusion/trainer.h"
#include "diffusion/samplers.h"
#include "diffusion/sde.h"
#include "diffusion/likelihood.h"
#include "diffusion/metrics.h"
// data sets, loaders and images
#include "data/dataset.h"
#include "data/idx.h"
#include "data/cifar.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "data/image.h"
