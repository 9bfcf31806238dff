// Shared definitions of the fastrl CUDA kernels. Compiled by NVRTC at run time
// (composer-cuda prepends this file to each kernel source). No fast-math, no flush to
// zero. Parameter structs are mirrored field for field by #[repr(C)] structs in
// composer-cuda/src/params.rs; both sides assert the sizes.
#pragma once

#define FASTRL_MAX_REWARDS 16
#define FASTRL_MAX_THREADS 1024

typedef unsigned long long u64;
typedef unsigned short bf16_bits;

// Loads widen to f32: bf16 is the high half of an f32 (exact).
__device__ __forceinline__ float ld(const float* p, long long i) { return p[i]; }
__device__ __forceinline__ float ld(const bf16_bits* p, long long i) {
    return __uint_as_float(((unsigned int)p[i]) << 16);
}

// The KL estimators of composer-core (KlEstimator), d = logp - ref_logp:
// 0 = k1 d, 1 = k2 d^2/2, 2 = k3 expm1(-d) + d (in double, clamped at 0), 3 = abs |d|.
__device__ __forceinline__ float kl_estimate(int est, float logp, float ref_logp) {
    float d = logp - ref_logp;
    if (est == 0) return d;
    if (est == 1) return 0.5f * d * d;
    if (est == 2) {
        double dd = (double)d;
        float k = (float)(expm1(-dd) + dd);
        return k > 0.0f ? k : 0.0f;
    }
    return fabsf(d);
}

// Block-wide reductions (blockDim.x a multiple of 32, at most 1024). Every thread of the
// block must call them; the result is returned to every thread.
__device__ __forceinline__ double warp_sum(double x) {
    for (int o = 16; o > 0; o >>= 1) x += __shfl_down_sync(0xffffffffu, x, o);
    return x;
}
__device__ __forceinline__ int warp_max(int x) {
    for (int o = 16; o > 0; o >>= 1) x = max(x, __shfl_down_sync(0xffffffffu, x, o));
    return x;
}
__device__ double block_sum(double x) {
    __shared__ double part[32];
    __shared__ double total;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    x = warp_sum(x);
    if (lane == 0) part[warp] = x;
    __syncthreads();
    if (warp == 0) {
        double y = lane < (int)(blockDim.x >> 5) ? part[lane] : 0.0;
        y = warp_sum(y);
        if (lane == 0) total = y;
    }
    __syncthreads();
    double r = total;
    __syncthreads();
    return r;
}
__device__ int block_max(int x) {
    __shared__ int part[32];
    __shared__ int total;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    x = warp_max(x);
    if (lane == 0) part[warp] = x;
    __syncthreads();
    if (warp == 0) {
        int y = lane < (int)(blockDim.x >> 5) ? part[lane] : -1;
        y = warp_max(y);
        if (lane == 0) total = y;
    }
    __syncthreads();
    int r = total;
    __syncthreads();
    return r;
}

// Reward channels: device pointers (const T*), weights, and 1 = dense [batch*len] /
// 0 = sequence-level [batch].
struct Channels {
    u64 ptr[FASTRL_MAX_REWARDS];
    float w[FASTRL_MAX_REWARDS];
    int dense[FASTRL_MAX_REWARDS];
    int n;
    int _pad;
};
static_assert(sizeof(Channels) == 264, "Channels layout (composer-cuda/src/params.rs)");

// Status bits written with atomicOr.
#define FASTRL_STATUS_MASK_NOT_PREFIX 1
#define FASTRL_STATUS_NON_FINITE 2
