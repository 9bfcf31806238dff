// The Fast RL weight update on the device, so a PPO step needs no host round trip:
//   reward_sums_{f32,bf16}: per-reward masked sums of a batch (one block per row),
//     sums[i] over rows with a valid token (sequence-level) or valid tokens (dense);
//   fastrl_update: one thread turns the sums into means and applies Eq. (4)-(5) to the
//     log-weights held in device memory, as composer-core's FastRl::update does (in
//     double, with the step taken relative to its largest entry and log-sum-exp).
#include "common.cuh"

struct SumsParams {
    Channels ch;
    u64 mask;    // const uint8*
    u64 sums;    // double[FASTRL_MAX_REWARDS + 2]: per-reward sums, rows with a valid token, valid tokens
    int batch, len;
};
static_assert(sizeof(SumsParams) == 288, "SumsParams layout");

template <typename T>
__device__ void reward_sums_impl(const SumsParams& p) {
    const int b = blockIdx.x;
    if (b >= p.batch) return;
    const long long base = (long long)b * p.len;
    const unsigned char* mask = (const unsigned char*)p.mask + base;
    double* sums = (double*)p.sums;
    double count = 0.0;
    for (int t = threadIdx.x; t < p.len; t += blockDim.x) count += mask[t] ? 1.0 : 0.0;
    count = block_sum(count);
    if (count == 0.0) return;  // an all-masked row contributes nothing (uniform across the block)
    for (int k = 0; k < p.ch.n; k++) {
        const T* x = (const T*)p.ch.ptr[k];
        if (p.ch.dense[k]) {
            double s = 0.0;
            for (int t = threadIdx.x; t < p.len; t += blockDim.x)
                if (mask[t]) s += (double)ld(x, base + t);
            s = block_sum(s);
            if (threadIdx.x == 0) atomicAdd(sums + k, s);
        } else if (threadIdx.x == 0) {
            atomicAdd(sums + k, (double)ld(x, b));
        }
    }
    if (threadIdx.x == 0) {
        atomicAdd(sums + FASTRL_MAX_REWARDS, 1.0);
        atomicAdd(sums + FASTRL_MAX_REWARDS + 1, count);
    }
}

extern "C" __global__ void reward_sums_f32(SumsParams p) { reward_sums_impl<float>(p); }
extern "C" __global__ void reward_sums_bf16(SumsParams p) { reward_sums_impl<bf16_bits>(p); }

// Composer state in device memory (doubles), the fields of composer-core's FastRl.
struct UpdateState {
    double log_w[FASTRL_MAX_REWARDS];
    double ema[FASTRL_MAX_REWARDS];
    double norm_mean[FASTRL_MAX_REWARDS];
    double norm_m2[FASTRL_MAX_REWARDS];
    double norm_count;
    double ema_ready;
    double step;
    double means[FASTRL_MAX_REWARDS];  // the means of the last update, for logging
};

struct UpdateParams {
    u64 sums;     // const double[FASTRL_MAX_REWARDS + 2] from reward_sums
    u64 state;    // UpdateState*
    u64 weights;  // float[FASTRL_MAX_REWARDS] out
    u64 status;   // int*
    float bias[FASTRL_MAX_REWARDS];
    int dense[FASTRL_MAX_REWARDS];
    int n;
    float eta, temperature, floor;
    int smoothing;  // 0 none, 1 ema, 2 clip, 3 tanh
    float sa, sb;   // decay | min, max | scale
    int normalize;
};
static_assert(sizeof(UpdateParams) == 192, "UpdateParams layout");

extern "C" __global__ void fastrl_update(UpdateParams p) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    const double* sums = (const double*)p.sums;
    UpdateState* st = (UpdateState*)p.state;
    float* w_out = (float*)p.weights;
    const double rows = sums[FASTRL_MAX_REWARDS], tokens = sums[FASTRL_MAX_REWARDS + 1];
    if (tokens == 0.0) {  // empty batch: leave the weights as they are
        atomicOr((int*)p.status, 4);
        return;
    }
    const int n = p.n;
    double s[FASTRL_MAX_REWARDS];
    for (int i = 0; i < n; i++) {
        double m = sums[i] / (p.dense[i] ? tokens : rows);
        if (!isfinite(m)) {
            atomicOr((int*)p.status, FASTRL_STATUS_NON_FINITE);
            return;
        }
        st->means[i] = m;
        s[i] = (double)(float)m;  // the host path feeds f32 means
    }
    if (p.normalize) {
        st->norm_count += 1.0;
        double c = st->norm_count;
        for (int i = 0; i < n; i++) {
            double x = s[i], d = x - st->norm_mean[i];
            st->norm_mean[i] += d / c;
            st->norm_m2[i] += d * (x - st->norm_mean[i]);
            s[i] = c >= 2.0 ? (x - st->norm_mean[i]) / sqrt(st->norm_m2[i] / (c - 1.0) + 1e-8) : 0.0;
        }
    }
    for (int i = 0; i < n; i++) {
        if (p.smoothing == 1) {
            double d = (double)p.sa;
            st->ema[i] = st->ema_ready != 0.0 ? d * st->ema[i] + (1.0 - d) * s[i] : s[i];
            s[i] = st->ema[i];
        } else if (p.smoothing == 2) {
            s[i] = fmin(fmax(s[i], (double)p.sa), (double)p.sb);
        } else if (p.smoothing == 3) {
            double k = (double)p.sa;
            s[i] = k * tanh(s[i] / k);
        }
    }
    st->ema_ready = 1.0;
    const double scale = (double)p.eta / (double)p.temperature;
    const double neg_inf = __longlong_as_double(0xfff0000000000000ULL);
    double step[FASTRL_MAX_REWARDS], top = neg_inf, mx = neg_inf;
    for (int i = 0; i < n; i++) {
        step[i] = -scale * s[i] + (double)p.bias[i];
        top = fmax(top, step[i]);
    }
    for (int i = 0; i < n; i++) {
        st->log_w[i] += step[i] - top;
        mx = fmax(mx, st->log_w[i]);
    }
    double z = 0.0;
    for (int i = 0; i < n; i++) {
        st->log_w[i] -= mx;
        z += exp(st->log_w[i]);
    }
    const double log_z = log(z);
    for (int i = 0; i < n; i++) {
        st->log_w[i] -= log_z;
        double w = exp(st->log_w[i]);
        if (p.floor > 0.0f) {
            w = (1.0 - (double)p.floor) * w + (double)p.floor / n;
            st->log_w[i] = log(w);
        }
        w_out[i] = (float)w;
    }
    st->step += 1.0;
}
