// Group-relative advantages on the device: composer_core::group_advantages (the CPU
// oracle, whose module docs define every estimator, convention and edge case) for GRPO
// (group / batch / no std scaling), RLOO, REINFORCE++ with a group baseline and GDPO, with
// verl's and trl's conventions. Every estimator is A_b = (x_b - c_g) * m_g with per-group
// constants (group_constants below, the oracle's `affine`), applied to the composite
// x_b = sum_i w_i r_i[b] or, for GDPO, to each reward's row score and summed with the
// weights; then the optional whitening. Statistics in double, as the oracle.
//
// Launches, in this order on one stream (composer-cuda's Gpu::group_advantages_raw):
//   group_init               zeroes the report and the per-group row ranges;
//   group_scores_{f32,bf16}  one block per row: each channel's row score (the value, or
//                            the sum over the row's valid tokens), the composite, the
//                            row's valid tokens; checks the row's group id and scores;
//                            records the first and last row of each group;
//   group_batch_std          GRPO with scale "batch" only; one block: the unbiased std
//                            of every row's composite;
//   group_affine             one warp per group: count, mean and sum of squared
//                            deviations (two passes) of each channel over the group's
//                            members, then (c_g, m_g);
//   group_apply              without whitening: one thread per row, the f32 advantage;
//   group_whiten             with whitening: one block over every row, applies the
//                            affine map, whitens (the convention's form), f32 out.
//
// Determinism: no floating-point atomics. Every double is summed in an order fixed by the
// shape and the group ids alone (block_sum's fixed tree, a fixed lane assignment and
// warp tree in group_affine); the atomics are integer (counts, or/max of report words),
// whose results do not depend on their order. The same input gives the same bits.
//
// Cost: group_affine's warp for group g reads the ids of the rows between g's first and
// last member, twice: O(B) in all when groups are contiguous (trl's and verl's layouts,
// the k responses of a prompt next to each other), O(B * G / 32) warp loads at worst
// (ids interleaved across the batch). Everything else is one pass over the inputs (the
// dense channels' B * len scores once) plus O(B) over the f64 scratch.
#include "common.cuh"

// Codes of composer_core::GroupEstimator, GroupScale and Convention (`code()`);
// composer-cuda/src/params.rs asserts they match.
#define GROUP_EST_GRPO 0
#define GROUP_EST_RLOO 1
#define GROUP_EST_RPP 2
#define GROUP_EST_GDPO 3
#define GROUP_SCALE_GROUP 0
#define GROUP_SCALE_BATCH 1
#define GROUP_SCALE_NONE 2
#define GROUP_CONV_VERL 0
#define GROUP_CONV_TRL 1

// The report: unsigned long long[GROUP_REPORT_LEN], zeroed by group_init. "First"
// slots hold ~key of the smallest key seen (atomicMax of ~key, so 0 means none).
#define GROUP_REPORT_LEN (8 + FASTRL_MAX_REWARDS)
#define GROUP_R_BITS 0        // status bits, or-ed
#define GROUP_R_BAD_ID 1      // first row with a group id >= num_groups: row << 32 | id
#define GROUP_R_BAD_REWARD 2  // first non-finite score used: channel << 56 | flat index
#define GROUP_R_BAD_SIZE 3    // first group whose size != group_size: group << 32 | size
#define GROUP_R_OVERFLOW 4    // first row whose f32 advantage is not finite: row
#define GROUP_R_GROUPS 5      // groups with at least one member
#define GROUP_R_SINGLETONS 6  // groups of one
#define GROUP_R_TOKENS 7      // valid tokens
#define GROUP_R_ZERO_VAR 8    // [FASTRL_MAX_REWARDS]: groups of >= 2 with ssd == 0, per
                              // channel (GDPO) or of the composite (slot 8)
#define GROUP_BIT_BAD_ID 1ull
#define GROUP_BIT_OVERFLOW 2ull  // = FASTRL_STATUS_NON_FINITE
#define GROUP_BIT_BAD_REWARD 4ull
#define GROUP_BIT_BAD_SIZE 8ull

struct GroupParams {
    Channels ch;           // scores (const T*), weights, dense flags, n
    u64 groups;            // const uint32* [batch]
    u64 mask;              // const uint8* [batch * len]
    u64 out;               // float* [batch]
    u64 scratch;           // double*, group_device_scratch_len (layout: group_scratch)
    u64 report;            // unsigned long long* [GROUP_REPORT_LEN]
    double eps;            // Convention::eps()
    long long group_size;  // required members per occurring group; -1 = any
    int batch, len;
    int num_groups;
    int estimator, scale, convention;  // the core's codes
    int whiten;                        // 1 = whiten the final advantages
    int _pad;
};
static_assert(sizeof(GroupParams) == 352, "GroupParams layout (composer-cuda/src/params.rs)");

// The f64 scratch, (n + 2) * B + (2 n + 2) * G + 1 doubles in this order
// (composer-cuda's group_device_scratch_len).
struct GroupScratch {
    double* scores;       // [n * batch], channel-major: scores[c * batch + b]
    double* tokens;       // [batch] valid tokens per row
    double* adv;          // [batch] composite, then (group_whiten) the unwhitened advantage
    double* count;        // [num_groups] members
    double* centre;       // [n * num_groups] c_g per channel (one channel unless GDPO)
    double* mult;         // [n * num_groups] m_g
    unsigned int* range;  // [2 * num_groups] (~first row, last row + 1), 0 = no member
    double* batch_std;    // [1]
};

__device__ __forceinline__ GroupScratch group_scratch(const GroupParams& p) {
    double* s = (double*)p.scratch;
    const long long n = p.ch.n, b = p.batch, g = p.num_groups;
    GroupScratch r;
    r.scores = s;
    s += n * b;
    r.tokens = s;
    s += b;
    r.adv = s;
    s += b;
    r.count = s;
    s += g;
    r.centre = s;
    s += n * g;
    r.mult = s;
    s += n * g;
    r.range = (unsigned int*)s;
    s += g;
    r.batch_std = s;
    return r;
}

// Records `key` in a "first" slot (the smallest key wins) and raises `bit`.
__device__ __forceinline__ void report_first(const GroupParams& p, int slot, unsigned long long bit,
                                             unsigned long long key) {
    unsigned long long* rep = (unsigned long long*)p.report;
    atomicMax(rep + slot, ~key);
    atomicOr(rep + GROUP_R_BITS, bit);
}

extern "C" __global__ void group_init(GroupParams p) {
    GroupScratch s = group_scratch(p);
    unsigned long long* rep = (unsigned long long*)p.report;
    const long long nr = 2LL * p.num_groups;
    const long long n = nr > GROUP_REPORT_LEN ? nr : GROUP_REPORT_LEN;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        if (i < GROUP_REPORT_LEN) rep[i] = 0ull;
        if (i < nr) s.range[i] = 0u;
    }
}

template <typename T>
__device__ void group_scores_impl(const GroupParams& p) {
    const int b = blockIdx.x;
    if (b >= p.batch) return;
    GroupScratch s = group_scratch(p);
    const long long base = (long long)b * p.len;
    const unsigned char* mask = (const unsigned char*)p.mask + base;
    double count = 0.0;
    for (int t = threadIdx.x; t < p.len; t += blockDim.x) count += mask[t] ? 1.0 : 0.0;
    count = block_sum(count);
    double composite = 0.0;  // thread 0's: r = sum_i w_i r_i[b], in channel order
    for (int c = 0; c < p.ch.n; c++) {
        const T* x = (const T*)p.ch.ptr[c];
        const unsigned long long chan = (unsigned long long)c << 56;
        double v = 0.0;
        if (p.ch.dense[c]) {  // uniform across the block: every thread reaches block_sum
            double acc = 0.0;
            for (int t = threadIdx.x; t < p.len; t += blockDim.x)
                if (mask[t]) {
                    const float y = ld(x, base + t);
                    if (!isfinite(y)) report_first(p, GROUP_R_BAD_REWARD, GROUP_BIT_BAD_REWARD, chan | (unsigned long long)(base + t));
                    acc += (double)y;
                }
            v = block_sum(acc);
        } else if (threadIdx.x == 0) {
            const float y = ld(x, b);
            if (!isfinite(y)) report_first(p, GROUP_R_BAD_REWARD, GROUP_BIT_BAD_REWARD, chan | (unsigned long long)b);
            v = (double)y;
        }
        if (threadIdx.x == 0) {
            s.scores[(long long)c * p.batch + b] = v;
            composite += (double)p.ch.w[c] * v;
        }
    }
    if (threadIdx.x != 0) return;
    s.tokens[b] = count;
    s.adv[b] = composite;
    atomicAdd((unsigned long long*)p.report + GROUP_R_TOKENS, (unsigned long long)count);
    const unsigned int g = ((const unsigned int*)p.groups)[b];
    if (g >= (unsigned int)p.num_groups) {
        report_first(p, GROUP_R_BAD_ID, GROUP_BIT_BAD_ID, ((unsigned long long)b << 32) | g);
    } else {
        atomicMax(s.range + 2 * (long long)g, ~(unsigned int)b);
        atomicMax(s.range + 2 * (long long)g + 1, (unsigned int)b + 1u);
    }
}

extern "C" __global__ void group_scores_f32(GroupParams p) { group_scores_impl<float>(p); }
extern "C" __global__ void group_scores_bf16(GroupParams p) { group_scores_impl<bf16_bits>(p); }

// trl's scale "batch": the unbiased std of every row's composite (0 for one row).
extern "C" __global__ void group_batch_std(GroupParams p) {
    if (blockIdx.x != 0) return;
    GroupScratch s = group_scratch(p);
    double sum = 0.0;
    for (int b = threadIdx.x; b < p.batch; b += blockDim.x) sum += s.adv[b];
    sum = block_sum(sum);
    const double mean = sum / (double)p.batch;
    double ss = 0.0;
    for (int b = threadIdx.x; b < p.batch; b += blockDim.x) {
        const double d = s.adv[b] - mean;
        ss += d * d;
    }
    ss = block_sum(ss);
    if (threadIdx.x == 0) *s.batch_std = p.batch < 2 ? 0.0 : sqrt(ss / (double)(p.batch - 1));
}

// The oracle's `affine`: a group's (mean, ssd) of k members into the (c_g, m_g) of
// A = (x - c_g) * m_g, with the singleton and zero-variance rules.
__device__ __forceinline__ void group_constants(int est, int scale, int conv, double eps, double bstd,
                                                double k, double mean, double ssd, double* centre,
                                                double* mult) {
    if (k < 2.0) {  // a group of one: verl centres at 0 and keeps GRPO's std of 1; trl gives 0
        *centre = 0.0;
        if (conv == GROUP_CONV_TRL) *mult = 0.0;
        else if (est == GROUP_EST_GRPO && scale == GROUP_SCALE_GROUP) *mult = 1.0 / (1.0 + eps);
        else if (est == GROUP_EST_GRPO && scale == GROUP_SCALE_BATCH) *mult = 1.0 / (bstd + eps);
        else *mult = 1.0;
        return;
    }
    *centre = mean;
    if (ssd == 0.0) *mult = 0.0;  // every member equals the mean: exactly 0
    else if (est == GROUP_EST_GRPO && scale == GROUP_SCALE_GROUP) *mult = 1.0 / (sqrt(ssd / (k - 1.0)) + eps);
    else if (est == GROUP_EST_GRPO && scale == GROUP_SCALE_BATCH) *mult = 1.0 / (bstd + eps);
    else if (est == GROUP_EST_RLOO) *mult = k / (k - 1.0);
    else *mult = 1.0;
}

// Warp tree sum (common.cuh's warp_sum: lane 0 holds it) broadcast to every lane.
__device__ __forceinline__ double warp_total(double x) { return __shfl_sync(0xffffffffu, warp_sum(x), 0); }

// One warp per group (blockDim.x a multiple of 32): each lane takes the rows lo + lane,
// lo + lane + 32, ... up to hi in order, then a fixed warp tree combines the lanes.
extern "C" __global__ void group_affine(GroupParams p) {
    const int lane = threadIdx.x & 31;
    const long long g = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (g >= p.num_groups) return;  // uniform per warp
    GroupScratch s = group_scratch(p);
    const unsigned int end = s.range[2 * g + 1];
    if (end == 0u) {  // no member: nothing reads this group's constants
        if (lane == 0) s.count[g] = 0.0;
        return;
    }
    const long long lo = (long long)(~s.range[2 * g]), hi = (long long)end - 1;
    const unsigned int* ids = (const unsigned int*)p.groups;
    const bool gdpo = p.estimator == GROUP_EST_GDPO;
    const int nc = gdpo ? p.ch.n : 1;             // GDPO: every reward; else the composite
    const double* xs = gdpo ? s.scores : s.adv;  // channel c of row b at xs[c * batch + b]
    const long long B = p.batch, G = p.num_groups;
    double acc[FASTRL_MAX_REWARDS], mean[FASTRL_MAX_REWARDS];
#pragma unroll
    for (int c = 0; c < FASTRL_MAX_REWARDS; c++) acc[c] = mean[c] = 0.0;
    int k = 0;
    for (long long b = lo + lane; b <= hi; b += 32) {
        if (ids[b] != (unsigned int)g) continue;
        k++;
#pragma unroll
        for (int c = 0; c < FASTRL_MAX_REWARDS; c++)
            if (c < nc) acc[c] += xs[c * B + b];
    }
    for (int o = 16; o > 0; o >>= 1) k += __shfl_down_sync(0xffffffffu, k, o);
    k = __shfl_sync(0xffffffffu, k, 0);
    const double kd = (double)k;  // >= 1: the range came from a member
#pragma unroll
    for (int c = 0; c < FASTRL_MAX_REWARDS; c++)
        if (c < nc) {
            mean[c] = warp_total(acc[c]) / kd;
            acc[c] = 0.0;
        }
    for (long long b = lo + lane; b <= hi; b += 32) {
        if (ids[b] != (unsigned int)g) continue;
#pragma unroll
        for (int c = 0; c < FASTRL_MAX_REWARDS; c++)
            if (c < nc) {
                const double d = xs[c * B + b] - mean[c];
                acc[c] += d * d;
            }
    }
#pragma unroll
    for (int c = 0; c < FASTRL_MAX_REWARDS; c++)
        if (c < nc) acc[c] = warp_sum(acc[c]);  // lane 0: the ssd
    if (lane != 0) return;
    unsigned long long* rep = (unsigned long long*)p.report;
    s.count[g] = kd;
    atomicAdd(rep + GROUP_R_GROUPS, 1ull);
    if (k == 1) atomicAdd(rep + GROUP_R_SINGLETONS, 1ull);
    if (p.group_size >= 0 && (long long)k != p.group_size)
        report_first(p, GROUP_R_BAD_SIZE, GROUP_BIT_BAD_SIZE, ((unsigned long long)g << 32) | (unsigned long long)k);
    // GDPO normalises each reward as GRPO with the group's std.
    const int est = gdpo ? GROUP_EST_GRPO : p.estimator;
    const int scale = gdpo ? GROUP_SCALE_GROUP : p.scale;
    const double bstd = (est == GROUP_EST_GRPO && scale == GROUP_SCALE_BATCH) ? *s.batch_std : 0.0;
#pragma unroll
    for (int c = 0; c < FASTRL_MAX_REWARDS; c++)
        if (c < nc) {
            if (k >= 2 && acc[c] == 0.0) atomicAdd(rep + GROUP_R_ZERO_VAR + c, 1ull);
            group_constants(est, scale, p.convention, p.eps, bstd, kd, mean[c], acc[c], s.centre + c * G + g,
                            s.mult + c * G + g);
        }
}

// Row b's advantage before whitening: (x - c_g) m_g, or GDPO's sum_i w_i (r_i - c_ig) m_ig
// (in channel order, as the oracle). A row whose id is out of range (reported by
// group_scores) gets 0 and reads nothing out of bounds.
__device__ __forceinline__ double group_row_adv(const GroupParams& p, const GroupScratch& s, long long b) {
    const unsigned int g = ((const unsigned int*)p.groups)[b];
    if (g >= (unsigned int)p.num_groups) return 0.0;
    if (p.estimator == GROUP_EST_GDPO) {
        const long long B = p.batch, G = p.num_groups;
        double a = 0.0;
        for (int c = 0; c < p.ch.n; c++) {
            const long long j = c * G + g;
            a += (double)p.ch.w[c] * ((s.scores[c * B + b] - s.centre[j]) * s.mult[j]);
        }
        return a;
    }
    return (s.adv[b] - s.centre[g]) * s.mult[g];
}

// Rounds once to f32; a non-finite result (an overflow: the inputs were checked) is
// reported with its row.
__device__ __forceinline__ void group_store(const GroupParams& p, long long b, double a) {
    const float y = (float)a;
    ((float*)p.out)[b] = y;
    if (!isfinite(y)) report_first(p, GROUP_R_OVERFLOW, GROUP_BIT_OVERFLOW, (unsigned long long)b);
}

extern "C" __global__ void group_apply(GroupParams p) {
    const long long b = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (b >= p.batch) return;
    GroupScratch s = group_scratch(p);
    group_store(p, b, group_row_adv(p, s, b));
}

// One block over every row. verl: token-weighted, mean = sum t_b A_b / N, var = (sum t_b
// (A_b - mean)^2 / N) * N / (N - 1), A <- (A - mean) / sqrt(var + 1e-8), 0 if N <= 1.
// trl: per sequence, A <- (A - mean) / (std_u(A) + 1e-4), 0 if B < 2. (The oracle's
// `whiten_rows`; the epsilons are verl's masked_whiten and trl's.)
extern "C" __global__ void group_whiten(GroupParams p) {
    if (blockIdx.x != 0) return;
    GroupScratch s = group_scratch(p);
    const int B = p.batch;
    // Each thread keeps the same rows throughout, so the in-place adv[b] is its own.
    for (int b = threadIdx.x; b < B; b += blockDim.x) s.adv[b] = group_row_adv(p, s, b);
    if (p.convention == GROUP_CONV_VERL) {
        double nt = 0.0, sum = 0.0;
        for (int b = threadIdx.x; b < B; b += blockDim.x) {
            const double t = s.tokens[b];
            nt += t;
            sum += t * s.adv[b];
        }
        nt = block_sum(nt);
        sum = block_sum(sum);
        if (nt <= 1.0) {
            for (int b = threadIdx.x; b < B; b += blockDim.x) group_store(p, b, 0.0);
            return;
        }
        const double mean = sum / nt;
        double ss = 0.0;
        for (int b = threadIdx.x; b < B; b += blockDim.x) {
            const double d = s.adv[b] - mean;
            ss += s.tokens[b] * d * d;
        }
        ss = block_sum(ss);
        const double var = ss / nt * (nt / (nt - 1.0));
        const double inv = 1.0 / sqrt(var + 1e-8);
        for (int b = threadIdx.x; b < B; b += blockDim.x) group_store(p, b, (s.adv[b] - mean) * inv);
    } else {
        if (B < 2) {
            for (int b = threadIdx.x; b < B; b += blockDim.x) group_store(p, b, 0.0);
            return;
        }
        double sum = 0.0;
        for (int b = threadIdx.x; b < B; b += blockDim.x) sum += s.adv[b];
        sum = block_sum(sum);
        const double mean = sum / (double)B;
        double ss = 0.0;
        for (int b = threadIdx.x; b < B; b += blockDim.x) {
            const double d = s.adv[b] - mean;
            ss += d * d;
        }
        ss = block_sum(ss);
        const double sd = sqrt(ss / (double)(B - 1));
        for (int b = threadIdx.x; b < B; b += blockDim.x) group_store(p, b, (s.adv[b] - mean) / (sd + 1e-4));
    }
}
