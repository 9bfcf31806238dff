// Masked advantage whitening on the device, as composer-core's whiten:
//   whiten_sum_f32:   sum and count of valid tokens (grid-stride, atomicAdd to stats[0..2]);
//   whiten_sq_f32:    sum of (x - mean)^2 over valid tokens into stats[2];
//   whiten_apply_f32: x <- (x - mean) / sqrt(var + 1e-8), var unbiased; 0 at masked tokens.
// Three launches on one stream, no host round trip.
#include "common.cuh"

struct WhitenParams {
    u64 x;      // float*
    u64 mask;   // const uint8*
    u64 stats;  // double[3]: sum, count, sum of squared deviations
    long long n;
};
static_assert(sizeof(WhitenParams) == 32, "WhitenParams layout");

extern "C" __global__ void whiten_sum_f32(WhitenParams p) {
    const float* x = (const float*)p.x;
    const unsigned char* m = (const unsigned char*)p.mask;
    double s = 0.0, c = 0.0;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < p.n; i += (long long)gridDim.x * blockDim.x)
        if (m[i]) {
            s += (double)x[i];
            c += 1.0;
        }
    s = block_sum(s);
    c = block_sum(c);
    if (threadIdx.x == 0) {
        atomicAdd((double*)p.stats + 0, s);
        atomicAdd((double*)p.stats + 1, c);
    }
}

extern "C" __global__ void whiten_sq_f32(WhitenParams p) {
    const float* x = (const float*)p.x;
    const unsigned char* m = (const unsigned char*)p.mask;
    const double* st = (const double*)p.stats;
    const float mean = st[1] > 0.0 ? (float)(st[0] / st[1]) : 0.0f;
    double q = 0.0;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < p.n; i += (long long)gridDim.x * blockDim.x)
        if (m[i]) {
            double d = (double)(x[i] - mean);
            q += d * d;
        }
    q = block_sum(q);
    if (threadIdx.x == 0) atomicAdd((double*)p.stats + 2, q);
}

extern "C" __global__ void whiten_apply_f32(WhitenParams p) {
    float* x = (float*)p.x;
    const unsigned char* m = (const unsigned char*)p.mask;
    const double* st = (const double*)p.stats;
    const double cnt = st[1];
    const float mean = cnt > 0.0 ? (float)(st[0] / cnt) : 0.0f;
    const double var = cnt > 1.0 ? st[2] / (cnt - 1.0) : 0.0;
    const float inv = (float)(1.0 / sqrt(var + 1e-8));
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < p.n; i += (long long)gridDim.x * blockDim.x)
        x[i] = m[i] ? (x[i] - mean) * inv : 0.0f;
}
