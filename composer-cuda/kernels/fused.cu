// The fused pass: composition (Eq. 6) + KL penalty (Eq. 7) + GAE + returns, one block
// per row. The oracle is composer-core's fused_pass.
//
// Per row:
//   0. the last valid token (block max); in prefix mode a masked token before it sets
//      FASTRL_STATUS_MASK_NOT_PREFIX (the results are then the carry-mode ones);
//   1. r_exp[t] = sum_dense w_i r_i[t] (+ sum_seq w_i r_i[b] at the last valid token)
//      - beta * kl(t), coalesced over t, written to out_rewards (0 at masked tokens);
//      KL and composite sums go to stats by atomicAdd;
//   2. each thread owns a contiguous chunk of the row and folds it, backwards, into an
//      affine map of the state (A_next, V_next) entering from its right:
//        A = al + be * A_in + et * V_in,  V = ka + mu * V_in
//      (a masked token is the identity: verl's carry-forward);
//   3. a block-wide suffix scan (Hillis-Steele in shared memory) composes the maps, so
//      each thread knows the exact state entering its chunk;
//   4. each thread replays its chunk with that state, writing advantages and returns.
//
// Both are launched with one Map (20 bytes) of dynamic shared memory per thread for the
// scan, and capped at 32 registers (__launch_bounds__(1024, 2)) so that more rows share
// an SM. Two variants of the same arithmetic (bit-identical results):
//   fused_{dtype}         "streaming": phases 2 and 4 re-read the row (composite, values,
//                         mask) from global memory with a per-thread stride; any length;
//   fused_staged_{dtype}  phase 1 also stages the row's composite, values and mask in
//                         shared memory (padded so the per-thread chunks are free of bank
//                         conflicts); phases 2 and 4 read only shared memory, and the
//                         advantages and returns are written back coalesced. Every global
//                         byte is then read or written once, coalesced. Rows up to
//                         FASTRL_STAGED_MAX_LEN tokens (dynamic shared memory).
#include "common.cuh"

#define FASTRL_STAGED_MAX_LEN 8192
// Padded shared-memory index: one extra word per 32 keeps a thread's contiguous chunk
// (thread i reads i*chunk + j) on distinct banks across the warp.
__device__ __forceinline__ int pad(int t) { return t + (t >> 5); }

struct FusedParams {
    Channels ch;
    u64 logp, ref_logp, values, mask;   // const T*, const T*, const T*, const uint8*
    u64 out_rewards, out_adv, out_ret;  // float*
    u64 stats;                          // double[3]: kl_sum, reward_sum, valid_tokens
    u64 status;                         // int*
    int batch, len;
    float gamma, gl, beta;
    int estimator, mode;
    int _pad;
};
static_assert(sizeof(FusedParams) == 368, "FusedParams layout");

// The map (al, be, et, ka, mu) of a chunk; compose(x, y) applies y first, then x.
struct Map { float al, be, et, ka, mu; };
__device__ __forceinline__ Map compose(Map x, Map y) {
    Map r;
    r.al = x.al + x.be * y.al + x.et * y.ka;
    r.be = x.be * y.be;
    r.et = x.be * y.et + x.et * y.mu;
    r.ka = x.ka + x.mu * y.ka;
    r.mu = x.mu * y.mu;
    return r;
}

template <typename T, bool STAGED>
__device__ void fused_impl(const FusedParams& p) {
    const int b = blockIdx.x;
    if (b >= p.batch) return;
    const int len = p.len, tid = threadIdx.x, nt = blockDim.x;
    const long long base = (long long)b * len;
    const unsigned char* mask = (const unsigned char*)p.mask + base;
    const T* logp = (const T*)p.logp + base;
    const T* ref_logp = (const T*)p.ref_logp + base;
    const T* values = (const T*)p.values + base;
    float* out_r = (float*)p.out_rewards + base;
    float* out_a = (float*)p.out_adv + base;
    float* out_ret = (float*)p.out_ret + base;
    // Dynamic shared memory: the scan's maps (one per thread), then, STAGED only,
    // [composite | values] floats of padded length and the mask bytes.
    extern __shared__ float dyn[];
    Map* scan = (Map*)dyn;
    float* stage = dyn + 5 * nt;
    const int plen = pad(len) + 1;
    float* st_r = stage;
    float* st_v = stage + plen;
    unsigned char* st_m = (unsigned char*)(stage + 2 * plen);

    // 0. last valid token, prefix check
    int last = -1;
    for (int t = tid; t < len; t += nt)
        if (mask[t]) last = t;
    last = block_max(last);
    if (p.mode == 0 && last > 0) {
        int hole = 0;
        for (int t = tid; t < last; t += nt) hole |= (mask[t] == 0);
        if (__syncthreads_or(hole) && tid == 0) atomicOr((int*)p.status, FASTRL_STATUS_MASK_NOT_PREFIX);
    }

    // 1. composite reward and penalty; same summation order as composer-core
    float seq = 0.0f;
    int n_seq = 0;
    for (int k = 0; k < p.ch.n; k++)
        if (!p.ch.dense[k]) {
            seq += p.ch.w[k] * ld((const T*)p.ch.ptr[k], b);
            n_seq++;
        }
    double kl_acc = 0.0, r_acc = 0.0, count = 0.0;
    for (int t = tid; t < len; t += nt) {
        float r = 0.0f;
        const unsigned char mt = mask[t];
        if (STAGED) {
            st_m[t] = mt;
            st_v[pad(t)] = mt ? ld(values, t) : 0.0f;
        }
        if (mt) {
            float acc = 0.0f;
            for (int k = 0; k < p.ch.n; k++)
                if (p.ch.dense[k]) acc += p.ch.w[k] * ld((const T*)p.ch.ptr[k], base + t);
            if (t == last && n_seq > 0) acc += seq;
            float kl = kl_estimate(p.estimator, ld(logp, t), ld(ref_logp, t));
            r = acc - p.beta * kl;
            kl_acc += kl;
            r_acc += acc;
            count += 1.0;
        }
        out_r[t] = r;
        if (STAGED) st_r[pad(t)] = r;
    }
    kl_acc = block_sum(kl_acc);
    r_acc = block_sum(r_acc);
    count = block_sum(count);
    if (tid == 0) {
        atomicAdd((double*)p.stats + 0, kl_acc);
        atomicAdd((double*)p.stats + 1, r_acc);
        atomicAdd((double*)p.stats + 2, count);
    }
    __syncthreads();  // out_r of the whole row is visible to the block

    // 2. chunk maps
    const int chunk = (len + nt - 1) / nt;
    const int lo = min(tid * chunk, len), hi = min(lo + chunk, len);
    Map m = {0.0f, 1.0f, 0.0f, 0.0f, 1.0f};
    for (int t = hi - 1; t >= lo; t--) {
        if (!(STAGED ? st_m[t] : mask[t])) continue;
        float v = STAGED ? st_v[pad(t)] : ld(values, t);
        float r = STAGED ? st_r[pad(t)] : out_r[t];
        Map s;
        s.al = (r + p.gamma * m.ka - v) + p.gl * m.al;
        s.be = p.gl * m.be;
        s.et = p.gamma * m.mu + p.gl * m.et;
        s.ka = v;
        s.mu = 0.0f;
        m = s;
    }

    // 3. suffix scan: after it, scan[i] = map_i o map_{i+1} o ... o map_{nt-1}
    scan[tid] = m;
    __syncthreads();
    for (int off = 1; off < nt; off <<= 1) {
        Map x = scan[tid];
        Map y = tid + off < nt ? scan[tid + off] : Map{0.0f, 1.0f, 0.0f, 0.0f, 1.0f};
        __syncthreads();
        scan[tid] = compose(x, y);
        __syncthreads();
    }
    // The state entering chunk tid from the right: the maps right of it applied to (0, 0).
    float a_next = tid + 1 < nt ? scan[tid + 1].al : 0.0f;
    float v_next = tid + 1 < nt ? scan[tid + 1].ka : 0.0f;

    // 4. replay the chunk with the exact incoming state
    int bad = 0;
    for (int t = hi - 1; t >= lo; t--) {
        if (STAGED) {
            // The chunk is this thread's alone: advantages and returns replace the
            // composite and values in place, for the coalesced write below.
            if (!st_m[t]) {
                st_r[pad(t)] = 0.0f;
                st_v[pad(t)] = 0.0f;
                continue;
            }
            float v = st_v[pad(t)];
            float a = (st_r[pad(t)] + p.gamma * v_next - v) + p.gl * a_next;
            float rt = a + v;
            bad |= !isfinite(a) || !isfinite(rt);
            st_r[pad(t)] = a;
            st_v[pad(t)] = rt;
            a_next = a;
            v_next = v;
            continue;
        }
        if (!mask[t]) {
            out_a[t] = 0.0f;
            out_ret[t] = 0.0f;
            continue;
        }
        float v = ld(values, t);
        float delta = out_r[t] + p.gamma * v_next - v;
        float a = delta + p.gl * a_next;
        float rt = a + v;
        bad |= !isfinite(a) || !isfinite(rt);
        out_a[t] = a;
        out_ret[t] = rt;
        a_next = a;
        v_next = v;
    }
    if (STAGED) {
        __syncthreads();
        for (int t = tid; t < len; t += nt) {
            out_a[t] = st_r[pad(t)];
            out_ret[t] = st_v[pad(t)];
        }
    }
    if (__syncthreads_or(bad) && tid == 0) atomicOr((int*)p.status, FASTRL_STATUS_NON_FINITE);
}

extern "C" __global__ void __launch_bounds__(FASTRL_MAX_THREADS, 2) fused_f32(FusedParams p) { fused_impl<float, false>(p); }
extern "C" __global__ void __launch_bounds__(FASTRL_MAX_THREADS, 2) fused_bf16(FusedParams p) { fused_impl<bf16_bits, false>(p); }
extern "C" __global__ void __launch_bounds__(FASTRL_MAX_THREADS, 2) fused_staged_f32(FusedParams p) { fused_impl<float, true>(p); }
extern "C" __global__ void __launch_bounds__(FASTRL_MAX_THREADS, 2) fused_staged_bf16(FusedParams p) { fused_impl<bf16_bits, true>(p); }
