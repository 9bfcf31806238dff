//! A host model of the fused kernel's GAE algorithm (kernels/fused.cu, steps 2-4): each
//! of `nt` threads folds its contiguous chunk into an affine map of the state entering
//! from the right, a Hillis-Steele suffix scan composes the maps, each thread replays its
//! chunk. Run here in f32 against composer-core's GAE, it checks the algebra of the
//! kernel (the map, its composition, the identity for masked tokens) without a GPU.

use composer_core::{gae, GaeParams, MaskMode, Shape};

#[derive(Clone, Copy)]
struct Map {
    al: f32,
    be: f32,
    et: f32,
    ka: f32,
    mu: f32,
}
const ID: Map = Map {
    al: 0.0,
    be: 1.0,
    et: 0.0,
    ka: 0.0,
    mu: 1.0,
};

/// `x o y`: apply `y` first (as `compose` in fused.cu).
fn compose(x: Map, y: Map) -> Map {
    Map {
        al: x.al + x.be * y.al + x.et * y.ka,
        be: x.be * y.be,
        et: x.be * y.et + x.et * y.mu,
        ka: x.ka + x.mu * y.ka,
        mu: x.mu * y.mu,
    }
}

/// One row, as one block of `nt` threads would compute it.
fn row_model(
    r: &[f32],
    v: &[f32],
    m: &[u8],
    gamma: f32,
    gl: f32,
    nt: usize,
) -> (Vec<f32>, Vec<f32>) {
    let len = r.len();
    let chunk = len.div_ceil(nt);
    let bounds = |tid: usize| {
        let lo = (tid * chunk).min(len);
        (lo, (lo + chunk).min(len))
    };
    // step 2
    let mut maps: Vec<Map> = (0..nt)
        .map(|tid| {
            let (lo, hi) = bounds(tid);
            let mut m_ = ID;
            for t in (lo..hi).rev() {
                if m[t] == 0 {
                    continue;
                }
                m_ = Map {
                    al: (r[t] + gamma * m_.ka - v[t]) + gl * m_.al,
                    be: gl * m_.be,
                    et: gamma * m_.mu + gl * m_.et,
                    ka: v[t],
                    mu: 0.0,
                };
            }
            m_
        })
        .collect();
    // step 3: suffix scan, synchronous rounds
    let mut off = 1;
    while off < nt {
        let prev = maps.clone();
        for tid in 0..nt {
            let y = if tid + off < nt { prev[tid + off] } else { ID };
            maps[tid] = compose(prev[tid], y);
        }
        off <<= 1;
    }
    // step 4
    let (mut adv, mut ret) = (vec![0.0; len], vec![0.0; len]);
    for tid in 0..nt {
        let (lo, hi) = bounds(tid);
        let (mut a_next, mut v_next) = if tid + 1 < nt {
            (maps[tid + 1].al, maps[tid + 1].ka)
        } else {
            (0.0, 0.0)
        };
        for t in (lo..hi).rev() {
            if m[t] == 0 {
                continue;
            }
            let a = (r[t] + gamma * v_next - v[t]) + gl * a_next;
            adv[t] = a;
            ret[t] = a + v[t];
            a_next = a;
            v_next = v[t];
        }
    }
    (adv, ret)
}

#[test]
fn chunked_scan_equals_the_sequential_recursion() {
    let mut s = 12345u64;
    let mut f = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    };
    for &len in &[1usize, 2, 7, 31, 32, 33, 100, 255, 256, 257, 1000, 4096] {
        for &nt in &[32usize, 64, 128, 512, 1024] {
            for carry in [false, true] {
                let r: Vec<f32> = (0..len).map(|_| f()).collect();
                let v: Vec<f32> = (0..len).map(|_| f()).collect();
                let cut = ((f() + 1.0) * 0.5 * len as f32) as usize;
                let m: Vec<u8> = (0..len)
                    .map(|t| {
                        if carry {
                            (f() > -0.3) as u8
                        } else {
                            (t < cut) as u8
                        }
                    })
                    .collect();
                let (gamma, lambda) = (0.99f32, 0.95f32);
                let (ma, mr) = row_model(&r, &v, &m, gamma, gamma * lambda, nt);
                let (mut a, mut ret) = (vec![0.0; len], vec![0.0; len]);
                let mode = if carry {
                    MaskMode::Carry
                } else {
                    MaskMode::Prefix
                };
                gae(
                    &r,
                    &v,
                    &m,
                    Shape::new(1, len),
                    mode,
                    GaeParams { gamma, lambda },
                    &mut a,
                    &mut ret,
                )
                .unwrap();
                let scale = 1.0 + a.iter().chain(&ret).fold(0.0f32, |x, y| x.max(y.abs()));
                for t in 0..len {
                    assert!(
                        (ma[t] - a[t]).abs() <= 1e-5 * scale,
                        "len {len} nt {nt} carry {carry} t {t}: {} vs {}",
                        ma[t],
                        a[t]
                    );
                    assert!((mr[t] - ret[t]).abs() <= 1e-5 * scale, "returns at {t}");
                }
            }
        }
    }
}
