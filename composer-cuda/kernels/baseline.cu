// The frameworks' pattern on the GPU, for the benchmark only: GAE as one launch per time
// step t (verl's loop body: delta, carry-forward mask, over all rows at once).
#include "common.cuh"

struct StepParams {
    u64 rewards, values, mask, adv;  // const float*, const float*, const uint8*, float*
    u64 next_v, last;                // float[batch] carried state
    int batch, len, t;
    float gamma, gl;
    int _pad;
};
static_assert(sizeof(StepParams) == 72, "StepParams layout");

extern "C" __global__ void gae_step_f32(StepParams p) {
    const int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= p.batch) return;
    const long long i = (long long)b * p.len + p.t;
    const float* r = (const float*)p.rewards;
    const float* v = (const float*)p.values;
    const unsigned char* m = (const unsigned char*)p.mask;
    float* nv = (float*)p.next_v;
    float* last = (float*)p.last;
    float delta = r[i] + p.gamma * nv[b] - v[i];
    float a = delta + p.gl * last[b];
    if (m[i]) {
        nv[b] = v[i];
        last[b] = a;
    }
    ((float*)p.adv)[i] = last[b];
}
