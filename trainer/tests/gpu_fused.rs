//! With `--features cuda` on a GPU: composer-cuda's fused pass on libtorch CUDA tensors
//! (what the trainer runs there) equals composer-core's CPU pass on the same inputs
//! (f32, within 1e-5 of the row scale), with sequence and dense channels and whitening.
//! Prints SKIPPED where libtorch sees no CUDA device.
#![cfg(feature = "cuda")]

use composer_core::{
    fused_pass, whiten, Channel, FusedInputs, FusedOutputs, FusedParams, KlEstimator, Shape,
};
use fastrl_trainer::gpu::GpuFused;
use tch::{Device, Kind, Tensor};

#[test]
fn gpu_pass_on_libtorch_tensors_equals_the_cpu_core() {
    if !tch::Cuda::is_available() {
        println!("SKIPPED: libtorch sees no CUDA device");
        return;
    }
    let Some(g) = GpuFused::new(0).expect("composer-cuda") else {
        panic!("libtorch sees a GPU but composer-cuda finds no driver/NVRTC");
    };
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
    fused_pass(
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
    let o = g
        .run(
            &[seq.to(dev), dense.to(dev)],
            &[false, true],
            &weights,
            &on(&logp),
            &on(&ref_logp),
            &on(&values),
            &Tensor::from_slice(&mask).view(shape).to(dev),
            &params,
            true,
        )
        .unwrap();
    let got_adv = v(&o.advantages.to(Device::Cpu).view([-1]));
    let got_ret = v(&o.returns.to(Device::Cpu).view([-1]));
    for i in 0..b * r {
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
}
