//! Landscapes: interpolation endpoints are exact, filter-normalized directions have the
//! weights' filter norms, the plane holds its three points at their coordinates, and noise
//! sensitivity starts at the plain loss and rises with a on a trained model.

use basin_core::Classifier;
use basin_core::landscape::noise::noise_sensitivity;
use basin_core::landscape::plane::Plane;
use basin_core::landscape::{DirectionNorm, blend, filter_normalized_direction};
use basin_core::paramkind::ParamKind;
use basin_core::paramvec::ParamVec;
use basin_core::train::evaluate::evaluate;
use basin_zoo::ZooModel;
use basin_zoo::data::PreparedSet;
use burn::tensor::Device;

fn data() -> (PreparedSet, PreparedSet) {
    let tt = basin_zoo::data::load("mnist-slice", Some(&basin_zoo::data::sources::bundled_slice_dir())).unwrap();
    let n = basin_zoo::data::Normalization::fit(&tt.train);
    (PreparedSet::new(&tt.train.take(512), &n), PreparedSet::new(&tt.test.take(256), &n))
}

fn model(name: &str, seed: u64) -> ZooModel {
    basin_core::train::init_model(&Device::flex().autodiff(), seed, |d| ZooModel::build(name, [1, 28, 28], 10, &Default::default(), d).unwrap())
}

/// A keskar-f1 (batch norm) whose running statistics moved away from their init.
fn trained_bn(seed: u64, set: &PreparedSet) -> ZooModel {
    let m = model("keskar-f1", seed);
    let b = basin_core::batch::ExampleSet::batch(set, &(0..128).collect::<Vec<_>>(), None, &Device::flex().autodiff());
    let _ = m.logits(b.images);
    m.sync_running_stats();
    m
}

#[test]
fn interpolation_reproduces_both_endpoints_exactly_including_batch_norm_statistics() {
    let (train, _) = data();
    let (a, b) = (trained_bn(1, &train), trained_bn(2, &train));
    let dev = Device::flex();
    for (alpha, want) in [(0.0, &a), (1.0, &b)] {
        let m = blend(&a, &[(&a, 1.0 - alpha), (&b, alpha)]);
        let got = evaluate(&m, &train, 256, &dev);
        let exp = evaluate(want, &train, 256, &dev);
        assert_eq!(got.loss, exp.loss, "α = {alpha}");
        assert_eq!(got.accuracy, exp.accuracy);
    }
    // halfway is neither
    let mid = evaluate(&blend(&a, &[(&a, 0.5), (&b, 0.5)]), &train, 256, &dev).loss;
    assert!(mid != evaluate(&a, &train, 256, &dev).loss);
}

#[test]
fn filter_normalized_directions_have_the_weights_filter_norms() {
    let m = model("keskar-c1", 3);
    let w = ParamVec::from_model(&m);
    let d = filter_normalized_direction(&w, DirectionNorm::Filter, true, 7);
    for ((slot, wp), dp) in w.slots.iter().zip(w.to_host_parts()).zip(d.to_host_parts()) {
        let (filters, per, columns) = slot.filter_layout();
        if matches!(slot.kind, ParamKind::Bias | ParamKind::Norm) {
            assert!(dp.iter().all(|v| *v == 0.0), "{} must be ignored", slot.path);
            continue;
        }
        for f in 0..filters {
            let idx: Vec<usize> = (0..per).map(|k| if columns { k * filters + f } else { f * per + k }).collect();
            let wn: f64 = idx.iter().map(|&i| (wp[i] as f64).powi(2)).sum::<f64>().sqrt();
            let dn: f64 = idx.iter().map(|&i| (dp[i] as f64).powi(2)).sum::<f64>().sqrt();
            assert!((dn - wn).abs() <= 1e-5 * wn, "{} filter {f}: {dn} vs {wn}", slot.path);
        }
    }
    // regenerated from the seed, not cached: same seed same direction, new seed new one
    let again = filter_normalized_direction(&w, DirectionNorm::Filter, true, 7);
    assert_eq!(d.to_host(), again.to_host());
    assert_ne!(d.to_host(), filter_normalized_direction(&w, DirectionNorm::Filter, true, 8).to_host());
    // included, a bias's or a norm's direction is the parameter itself (loss-landscape's d = w)
    let with = filter_normalized_direction(&w, DirectionNorm::Filter, false, 7);
    for ((slot, wp), dp) in w.slots.iter().zip(w.to_host_parts()).zip(with.to_host_parts()) {
        if matches!(slot.kind, ParamKind::Bias | ParamKind::Norm) {
            assert_eq!(wp, dp, "{}: d = w", slot.path);
        }
    }
    let layer = filter_normalized_direction(&w, DirectionNorm::Layer, false, 7);
    for ((wn, ln), s) in w.part_norms().iter().zip(layer.part_norms()).zip(w.slots.iter()) {
        assert!((wn - ln).abs() <= 1e-5 * wn.max(1e-6), "{}: {ln} vs {wn}", s.path);
    }
}

#[test]
fn plane_contains_the_three_points_at_their_coordinates() {
    let (train, _) = data();
    let ms = [trained_bn(4, &train), trained_bn(5, &train), trained_bn(6, &train)];
    let ws: Vec<ParamVec> = ms.iter().map(ParamVec::from_model).collect();
    let plane = Plane::new(&ws[0], &ws[1], &ws[2]);
    let dev = Device::flex();
    for (i, (x, y)) in plane.points().into_iter().enumerate() {
        let c = plane.coefficients(x, y);
        let m = blend(&ms[0], &[(&ms[0], c[0]), (&ms[1], c[1]), (&ms[2], c[2])]);
        let got = ParamVec::from_model(&m).to_host();
        let want = ws[i].to_host();
        let err = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(err < 1e-5, "point {} off by {err}", i + 1);
        let (l1, l2) = (evaluate(&m, &train, 256, &dev).loss, evaluate(&ms[i], &train, 256, &dev).loss);
        assert!((l1 - l2).abs() < 1e-4, "point {}: {l1} vs {l2}", i + 1);
    }
    let [p1, p2, p3] = plane.points();
    assert_eq!(p1, (0.0, 0.0));
    assert!((p2.0 - ws[1].sub(&ws[0]).norm()).abs() < 1e-9 && p2.1 == 0.0);
    // ‖w3 − w1‖ is the distance of the third point from the origin of the plane
    let d13 = ws[2].sub(&ws[0]).norm();
    assert!(((p3.0 * p3.0 + p3.1 * p3.1).sqrt() - d13).abs() < 1e-6 * d13);
}

#[test]
fn noise_sensitivity_starts_at_the_loss_and_rises_with_a_on_a_trained_model() {
    let (train, test) = data();
    // a briefly trained ne-f1 (so that it sits in a basin)
    let mut cfg = basin_core::train::TrainConfig::default();
    cfg.data.dir = basin_zoo::data::sources::bundled_slice_dir().to_string_lossy().into_owned();
    cfg.data.train_subset = 2000;
    cfg.train.epochs = 3;
    let rd = basin_zoo::data::prepare(&cfg.data, 0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let m0 = basin_core::train::init_model(&Device::flex().autodiff(), 0, |d| ZooModel::build("ne-f1", rd.shape, 10, &Default::default(), d).unwrap());
    let sets = basin_core::train::TrainSets { train: &rd.train, test: &rd.test, val: None };
    let opts = basin_core::train::TrainOptions { out: dir.path().to_path_buf(), resume: false, stop: Default::default(), device: Device::flex() };
    let (m, _) = basin_core::train::train(m0, &cfg, &sets, &opts, &mut basin_core::train::Silent).unwrap();
    let grid = [0.0, 0.01, 0.02, 0.04, 0.08];
    let pts = noise_sensitivity(&m, &train, &grid, 128, 3, &Device::flex());
    let plain = evaluate(&m, &train, 128, &Device::flex());
    assert!((pts[0].loss - plain.loss).abs() < 1e-6, "{} vs {}", pts[0].loss, plain.loss);
    assert_eq!(pts[0].accuracy, plain.accuracy);
    for w in pts.windows(2) {
        assert!(w[1].loss > w[0].loss, "C̄ must rise with a: {pts:?}");
    }
    let te = noise_sensitivity(&m, &test, &grid, 128, 4, &Device::flex());
    assert!(te[4].loss > te[0].loss);
    assert!(basin_core::landscape::noise::slope(&pts) > 0.0);
}
