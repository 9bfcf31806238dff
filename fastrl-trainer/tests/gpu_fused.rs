//! With `--features cuda` on a GPU: composer-cuda's fused pass on libtorch CUDA tensors
//! (what the trainer runs there) equals composer-core's CPU pass on the same inputs
//! (f32, within 1e-5 of the row scale), with sequence and dense channels and whitening:
//! the penalised composite rewards, advantages, returns, the KL sum and the valid-token
//! count. A mask that is not a prefix is an error on both paths. Prints SKIPPED where
//! libtorch sees no CUDA device; with FASTRL_REQUIRE_GPU=1 that is a failure.
#![cfg(feature = "cuda")]

use composer_core::{
    fused_pass, whiten, Channel, FusedInputs, FusedOutputs, FusedParams, KlEstimator, Shape,
};
use composer_cuda::tch::{TchFused, TchInputs};
use tch::{Device, Kind, Tensor};

#[test]
fn gpu_pass_on_libtorch_tensors_equals_the_cpu_core() {
    if !tch::Cuda::is_available() {
        assert!(
            std::env::var_os("FASTRL_REQUIRE_GPU").is_none(),
            "FASTRL_REQUIRE_GPU is set but libtorch sees no CUDA device"
        );
        println!("SKIPPED: libtorch sees no CUDA device");
        return;
    }
    let g = TchFused::new(0)
        .expect("libtorch sees a GPU: composer-cuda must find its driver and NVRTC");
    tch::manual_seed(5);
    let (b, r) = (37usize, 61usize);
    let dev = Device::Cuda(0);
    let rand = |n: usize| Tensor::rand([n as i64], (Kind::Float, Device::Cpu));
    let seq = rand(b);
    let dense = rand(b * r);
    let logp = rand(b * r) - 2.0;
    let ref_logp = rand(b * r) - 2.0;
    let values = rand(b * r);
    let lens: Vec<usize> = (0..b).map(|i| (i * 7) % (r + 1)).collect();
    let mask: Vec<u8> = (0..b * r).map(|i| ((i % r) < lens[i / r]) as u8).collect();
    let params = FusedParams {
        estimator: KlEstimator::K3,
        ..Default::default()
    };
    let weights = [0.7f32, 0.3];
    let v = |t: &Tensor| -> Vec<f32> { Vec::try_from(t).unwrap() };
    let (vs, vd, vl, vr, vv) = (v(&seq), v(&dense), v(&logp), v(&ref_logp), v(&values));
    let (mut rw, mut adv, mut ret) = (vec![0.0; b * r], vec![0.0; b * r], vec![0.0; b * r]);
    let stats = fused_pass(
        &FusedInputs {
            channels: &[Channel::Sequence(&vs[..]), Channel::Dense(&vd[..])],
            weights: &weights,
            logp: &vl,
            ref_logp: &vr,
            values: &vv,
            mask: &mask,
        },
        Shape::new(b, r),
        &params,
        &mut FusedOutputs {
            rewards: &mut rw,
            advantages: &mut adv,
            returns: &mut ret,
        },
    )
    .unwrap();
    whiten(&mut adv, &mask).unwrap();
    let shape = [b as i64, r as i64];
    let on = |t: &Tensor| t.view(shape).to(dev).contiguous();
    let chans = [seq.to(dev), dense.to(dev)];
    let (lp, rlp, vals) = (on(&logp), on(&ref_logp), on(&values));
    let mask_t = Tensor::from_slice(&mask).view(shape).to(dev);
    let inputs = TchInputs {
        channels: &chans,
        dense: &[false, true],
        weights: &weights,
        logp: &lp,
        ref_logp: &rlp,
        values: &vals,
        mask: &mask_t,
    };
    let o = g.run(&inputs, &params, true).unwrap();
    let got_rw = v(&o.rewards.to(Device::Cpu).view([-1]));
    let got_adv = v(&o.advantages.to(Device::Cpu).view([-1]));
    let got_ret = v(&o.returns.to(Device::Cpu).view([-1]));
    for i in 0..b * r {
        assert!(
            (got_rw[i] - rw[i]).abs() <= 1e-5 * (1.0 + rw[i].abs()),
            "reward {i}: {} vs {}",
            got_rw[i],
            rw[i]
        );
        assert!(
            (got_adv[i] - adv[i]).abs() <= 1e-5 * (1.0 + adv[i].abs()),
            "adv {i}"
        );
        assert!(
            (got_ret[i] - ret[i]).abs() <= 1e-5 * (1.0 + ret[i].abs()),
            "ret {i}"
        );
    }
    let valid = mask.iter().filter(|&&m| m != 0).count() as f64;
    assert_eq!(o.valid_tokens, valid);
    assert_eq!(stats.valid_tokens as f64, valid);
    assert!(
        (o.kl_sum - stats.kl_sum).abs() <= 1e-5 * (1.0 + stats.kl_sum.abs()),
        "kl_sum {} vs {}",
        o.kl_sum,
        stats.kl_sum
    );
    // A hole in a row's mask (1 0 1): the CPU core refuses it in prefix mode, and so must
    // the kernels (their status bit 0; the old trainer read only bit 1 and went on).
    let mut holed = mask.clone();
    let row = (0..b).find(|&i| lens[i] >= 3).unwrap();
    holed[row * r + 1] = 0;
    let cpu = fused_pass(
        &FusedInputs {
            channels: &[Channel::Sequence(&vs[..]), Channel::Dense(&vd[..])],
            weights: &weights,
            logp: &vl,
            ref_logp: &vr,
            values: &vv,
            mask: &holed,
        },
        Shape::new(b, r),
        &params,
        &mut FusedOutputs {
            rewards: &mut rw,
            advantages: &mut adv,
            returns: &mut ret,
        },
    );
    assert!(cpu.is_err());
    let holed_t = Tensor::from_slice(&holed).view(shape).to(dev);
    let e = g
        .run(
            &TchInputs {
                mask: &holed_t,
                ..inputs
            },
            &params,
            false,
        )
        .unwrap_err();
    assert!(
        matches!(e, composer_cuda::CudaError::Status { bits } if bits & 1 != 0),
        "{e}"
    );
}
