//! Bad input: every case gets a typed error naming the argument (or a documented result).

use composer_core::{
    compose, fused_pass, gae, kl_penalty, reward_means, whiten, Channel, Composer, Error, FastRl,
    FastRlConfig, Fixed, FusedInputs, FusedOutputs, FusedParams, GaeParams, KlController,
    KlEstimator, Lagrangian, LagrangianConfig, MaskMode, Shape, Smoothing, StateRecord,
    MAX_REWARDS, RECORD_LEN, RECORD_VERSION,
};

fn out_of_range(e: Error) -> &'static str {
    match e {
        Error::OutOfRange { arg, .. } => arg,
        other => panic!("expected OutOfRange, got {other:?}"),
    }
}

#[test]
fn composer_config_errors_name_the_argument() {
    let bad = |cfg: FastRlConfig| out_of_range(FastRl::new(2, cfg).unwrap_err());
    let d = FastRlConfig::default();
    assert_eq!(bad(FastRlConfig { eta: -1.0, ..d }), "eta");
    assert_eq!(bad(FastRlConfig { eta: f32::NAN, ..d }), "eta");
    assert_eq!(
        bad(FastRlConfig {
            temperature: 0.0,
            ..d
        }),
        "temperature"
    );
    assert_eq!(
        bad(FastRlConfig {
            temperature: -2.0,
            ..d
        }),
        "temperature"
    );
    assert_eq!(bad(FastRlConfig { floor: 1.5, ..d }), "floor");
    assert_eq!(
        bad(FastRlConfig {
            smoothing: Smoothing::Ema { decay: 1.0 },
            ..d
        }),
        "smoothing.decay"
    );
    assert_eq!(
        bad(FastRlConfig {
            smoothing: Smoothing::Clip { min: 1.0, max: 0.0 },
            ..d
        }),
        "smoothing.max"
    );
    assert_eq!(
        bad(FastRlConfig {
            smoothing: Smoothing::Tanh { scale: 0.0 },
            ..d
        }),
        "smoothing.scale"
    );
    assert_eq!(FastRl::new(0, d).unwrap_err(), Error::NoRewards);
    assert_eq!(
        FastRl::new(MAX_REWARDS + 1, d).unwrap_err(),
        Error::TooManyRewards {
            max: MAX_REWARDS,
            actual: MAX_REWARDS + 1
        }
    );
    assert_eq!(
        FastRl::new(2, d).unwrap().with_bias(&[1.0]).unwrap_err(),
        Error::Length {
            arg: "bias",
            expected: 2,
            actual: 1
        }
    );
    assert_eq!(Fixed::new(&[]).unwrap_err(), Error::NoRewards);
    assert_eq!(
        out_of_range(Fixed::reward_shaping(-1.0).unwrap_err()),
        "alpha"
    );
    let lag =
        |cfg| Lagrangian::new(&[1.0], &[composer_core::Constraint::AtLeast(0.0)], cfg).unwrap_err();
    assert_eq!(
        out_of_range(lag(LagrangianConfig {
            lr: -1.0,
            ..Default::default()
        })),
        "lr"
    );
    assert_eq!(
        out_of_range(lag(LagrangianConfig {
            init: -1.0,
            ..Default::default()
        })),
        "init"
    );
    assert_eq!(out_of_range(KlController::fixed(-0.1).unwrap_err()), "beta");
    assert_eq!(
        out_of_range(KlController::adaptive(0.1, 0.0, 1.0).unwrap_err()),
        "target"
    );
}

#[test]
fn update_rejects_bad_means() {
    let mut c = FastRl::new(2, FastRlConfig::default()).unwrap();
    assert_eq!(
        c.update(&[1.0]).unwrap_err(),
        Error::Length {
            arg: "reward_means",
            expected: 2,
            actual: 1
        }
    );
    assert_eq!(
        c.update(&[1.0, f32::NAN]).unwrap_err(),
        Error::NonFinite {
            arg: "reward_means",
            index: 1
        }
    );
    assert_eq!(
        c.update(&[f32::INFINITY, 0.0]).unwrap_err(),
        Error::NonFinite {
            arg: "reward_means",
            index: 0
        }
    );
    // A rejected update leaves the composer as it was.
    assert_eq!(c.steps(), 0);
    assert_eq!(c.weights(), &[0.5, 0.5]);
}

#[test]
fn per_token_errors() {
    let shape = Shape::new(2, 2);
    let r = [0.0f32; 4];
    let mut o = [0.0f32; 4];
    let mut o2 = [0.0f32; 4];
    let m = [1u8; 4];
    let p = GaeParams::default();
    assert_eq!(
        gae(&r[..3], &r, &m, shape, MaskMode::Prefix, p, &mut o, &mut o2).unwrap_err(),
        Error::Length {
            arg: "rewards",
            expected: 4,
            actual: 3
        }
    );
    for (gamma, lambda, arg) in [
        (1.5, 0.5, "gamma"),
        (-0.1, 0.5, "gamma"),
        (0.5, 2.0, "lambda"),
        (f32::NAN, 0.5, "gamma"),
    ] {
        let e = gae(
            &r,
            &r,
            &m,
            shape,
            MaskMode::Prefix,
            GaeParams { gamma, lambda },
            &mut o,
            &mut o2,
        )
        .unwrap_err();
        assert_eq!(out_of_range(e), arg);
    }
    let mut bad = r;
    bad[3] = f32::NAN;
    assert_eq!(
        gae(&r, &bad, &m, shape, MaskMode::Prefix, p, &mut o, &mut o2).unwrap_err(),
        Error::NonFinite {
            arg: "values",
            index: 3
        }
    );
    assert_eq!(
        gae(&bad, &r, &m, shape, MaskMode::Prefix, p, &mut o, &mut o2).unwrap_err(),
        Error::NonFinite {
            arg: "rewards",
            index: 3
        }
    );
    // Finite inputs whose k2 overflows f32: an Overflow error, not an inf output.
    let big = [1e30f32; 4];
    let e = kl_penalty(
        &r,
        &big,
        &r,
        &m,
        shape,
        MaskMode::Prefix,
        0.1,
        KlEstimator::K2,
        &mut o,
    )
    .unwrap_err();
    assert_eq!(
        e,
        Error::Overflow {
            arg: "rewards (penalised)",
            row: 0
        }
    );
    assert_eq!(
        out_of_range(
            kl_penalty(
                &r,
                &r,
                &r,
                &m,
                shape,
                MaskMode::Prefix,
                -1.0,
                KlEstimator::K1,
                &mut o
            )
            .unwrap_err()
        ),
        "beta"
    );
    // Rewards of +/-1e30 are fine through GAE (no overflow at this length).
    let huge = [1e30f32, -1e30, 1e30, 1e30];
    gae(&huge, &r, &m, shape, MaskMode::Prefix, p, &mut o, &mut o2).unwrap();
    assert!(o.iter().chain(&o2).all(|x| x.is_finite()));
    // Whitening a NaN.
    let mut w = [1.0f32, f32::NAN];
    assert_eq!(
        whiten(&mut w, &[1, 1]).unwrap_err(),
        Error::NonFinite {
            arg: "advantages",
            index: 1
        }
    );
    assert_eq!(
        whiten(&mut w, &[1]).unwrap_err(),
        Error::Length {
            arg: "mask",
            expected: 2,
            actual: 1
        }
    );
}

#[test]
fn channel_and_batch_errors() {
    let shape = Shape::new(2, 2);
    let seq = [1.0f32, 2.0, 3.0];
    let m = [1u8; 4];
    let mut out = [0.0f32; 4];
    let ch = [Channel::Sequence(&seq[..])];
    assert_eq!(
        compose(&ch, &[1.0], &m, shape, MaskMode::Prefix, &mut out).unwrap_err(),
        Error::Length {
            arg: "rewards (sequence-level channel)",
            expected: 2,
            actual: 3
        }
    );
    let ch: [Channel<'_, f32>; 0] = [];
    assert_eq!(
        compose(&ch, &[], &m, shape, MaskMode::Prefix, &mut out).unwrap_err(),
        Error::NoRewards
    );
    let ok = [1.0f32, 2.0];
    let ch = [Channel::Sequence(&ok[..])];
    assert_eq!(
        compose(&ch, &[1.0, 2.0], &m, shape, MaskMode::Prefix, &mut out).unwrap_err(),
        Error::Length {
            arg: "weights",
            expected: 1,
            actual: 2
        }
    );
    assert_eq!(
        compose(&ch, &[f32::NAN], &m, shape, MaskMode::Prefix, &mut out).unwrap_err(),
        Error::NonFinite {
            arg: "weights",
            index: 0
        }
    );
    let nan = [1.0f32, f32::NAN];
    let ch = [Channel::Sequence(&nan[..])];
    assert_eq!(
        compose(&ch, &[1.0], &m, shape, MaskMode::Prefix, &mut out).unwrap_err(),
        Error::NonFinite {
            arg: "rewards",
            index: 1
        }
    );
    // All-masked batch: no mean to take.
    let mut means = [0.0f32];
    let ch = [Channel::Sequence(&ok[..])];
    assert_eq!(
        reward_means(&ch, &[0; 4], shape, MaskMode::Prefix, &mut means).unwrap_err(),
        Error::EmptyBatch { arg: "mask" }
    );
    // Empty batch (0 rows) composes to nothing without error; its means are an error.
    let none: [f32; 0] = [];
    let ch = [Channel::Sequence(&none[..])];
    compose(
        &ch,
        &[1.0],
        &[],
        Shape::new(0, 5),
        MaskMode::Prefix,
        &mut [],
    )
    .unwrap();
    assert_eq!(
        reward_means(&ch, &[], Shape::new(0, 5), MaskMode::Prefix, &mut means).unwrap_err(),
        Error::EmptyBatch { arg: "mask" }
    );
    assert_eq!(
        Shape::new(usize::MAX, 2).tokens().unwrap_err(),
        Error::ShapeOverflow
    );
}

#[test]
fn fused_all_masked_rows_are_zero_and_errors_are_named() {
    let shape = Shape::new(2, 2);
    let seq = [1.0f32, 2.0];
    let ch = [Channel::Sequence(&seq[..])];
    let x = [0.5f32; 4];
    let mask = [0u8, 0, 1, 1];
    let (mut r, mut a, mut ret) = ([9.0f32; 4], [9.0f32; 4], [9.0f32; 4]);
    let inputs = FusedInputs {
        channels: &ch,
        weights: &[1.0],
        logp: &x,
        ref_logp: &x,
        values: &x,
        mask: &mask,
    };
    let st = fused_pass(
        &inputs,
        shape,
        &FusedParams::default(),
        &mut FusedOutputs {
            rewards: &mut r,
            advantages: &mut a,
            returns: &mut ret,
        },
    )
    .unwrap();
    assert_eq!(
        (&r[..2], &a[..2], &ret[..2]),
        (&[0.0, 0.0][..], &[0.0, 0.0][..], &[0.0, 0.0][..])
    );
    assert_eq!(st.valid_tokens, 2);
    let mut bad = x;
    bad[2] = f32::NAN;
    let inputs = FusedInputs {
        ref_logp: &bad,
        ..inputs
    };
    let e = fused_pass(
        &inputs,
        shape,
        &FusedParams::default(),
        &mut FusedOutputs {
            rewards: &mut r,
            advantages: &mut a,
            returns: &mut ret,
        },
    )
    .unwrap_err();
    assert_eq!(
        e,
        Error::NonFinite {
            arg: "ref_logp",
            index: 2
        }
    );
}

#[test]
fn record_errors() {
    let mut c = FastRl::new(3, FastRlConfig::default()).unwrap();
    c.update(&[0.1, 0.2, 0.3]).unwrap();
    let mut buf = [0u8; RECORD_LEN];
    assert_eq!(
        c.save_bytes(None, &mut buf[..10]).unwrap_err(),
        Error::RecordTooShort {
            expected: RECORD_LEN,
            actual: 10
        }
    );
    c.save_bytes(None, &mut buf).unwrap();
    // Truncated.
    assert_eq!(
        StateRecord::decode(&buf[..RECORD_LEN - 1]).unwrap_err(),
        Error::RecordTooShort {
            expected: RECORD_LEN,
            actual: RECORD_LEN - 1
        }
    );
    // Wrong magic.
    let mut m = buf;
    m[0] = b'X';
    assert_eq!(StateRecord::decode(&m).unwrap_err(), Error::RecordMagic);
    // Wrong version.
    let mut v = buf;
    v[8..12].copy_from_slice(&(RECORD_VERSION + 1).to_le_bytes());
    assert_eq!(
        StateRecord::decode(&v).unwrap_err(),
        Error::RecordVersion {
            expected: RECORD_VERSION,
            actual: RECORD_VERSION + 1
        }
    );
    // Corrupted body.
    let mut k = buf;
    k[100] ^= 0x40;
    assert!(matches!(
        StateRecord::decode(&k).unwrap_err(),
        Error::RecordChecksum { .. }
    ));
    // Another composer's record, another n, no KL beta saved.
    let mut f = Fixed::new(&[1.0, 1.0, 1.0]).unwrap();
    assert_eq!(
        f.restore_bytes(None, &buf).unwrap_err(),
        Error::RecordMismatch {
            field: "kind",
            expected: 2,
            actual: 1
        }
    );
    let mut two = FastRl::new(2, FastRlConfig::default()).unwrap();
    assert_eq!(
        two.restore_bytes(None, &buf).unwrap_err(),
        Error::RecordMismatch {
            field: "n",
            expected: 2,
            actual: 3
        }
    );
    let mut kl = KlController::fixed(0.2).unwrap();
    let mut fresh = FastRl::new(3, FastRlConfig::default()).unwrap();
    assert_eq!(
        fresh.restore_bytes(Some(&mut kl), &buf).unwrap_err(),
        Error::RecordField { field: "kl_beta" }
    );
    assert_eq!(fresh.steps(), 0, "nothing restored on error");
    // A well-formed record whose log-weights are not a distribution.
    let mut rec = StateRecord::decode(&buf).unwrap();
    rec.log_weights[0] = 5.0;
    let bytes = rec.to_vec();
    assert_eq!(
        fresh.restore_bytes(None, &bytes).unwrap_err(),
        Error::RecordField {
            field: "log_weights"
        }
    );
    // Longer than a record.
    let mut long = buf.to_vec();
    long.push(0);
    assert_eq!(
        StateRecord::decode(&long).unwrap_err(),
        Error::Length {
            arg: "record",
            expected: RECORD_LEN,
            actual: RECORD_LEN + 1
        }
    );
    // Errors print the argument and values.
    let msg = Error::RecordVersion {
        expected: 1,
        actual: 2,
    }
    .to_string();
    assert!(
        msg.contains("version 2") && msg.contains("version 1"),
        "{msg}"
    );
}

#[test]
fn prefix_mode_rejects_holes_everywhere() {
    let shape = Shape::new(1, 4);
    let mask = [1u8, 0, 1, 0];
    let seq = [1.0f32];
    let ch = [Channel::Sequence(&seq[..])];
    let mut o = [0.0f32; 4];
    let want = Error::MaskNotPrefix {
        row: 0,
        position: 2,
    };
    assert_eq!(
        compose(&ch, &[1.0], &mask, shape, MaskMode::Prefix, &mut o).unwrap_err(),
        want
    );
    let mut means = [0.0];
    assert_eq!(
        reward_means(&ch, &mask, shape, MaskMode::Prefix, &mut means).unwrap_err(),
        want
    );
    assert!(compose(&ch, &[1.0], &mask, shape, MaskMode::Carry, &mut o).is_ok());
    assert!(Error::MaskNotPrefix {
        row: 0,
        position: 2
    }
    .to_string()
    .contains("MaskMode::Carry"));
}
