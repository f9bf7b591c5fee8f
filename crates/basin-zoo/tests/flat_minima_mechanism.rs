//! The mechanism the papers rely on, on a problem with a known sharp and a known flat minimum
//! of equal depth: per-example loss softplus(g(w)) with
//! g(w) = min(200 (w − 1)², (w − 3)²), so L(1) = L(3) = log 2 while the curvature is 200 at
//! the sharp minimum w = 1 and 1 at the flat one w = 3. Gradient descent from any w below the
//! basins' border w* = 1 + 2/15.142 ≈ 1.132 ends at the sharp minimum. From 20 starts in
//! [0.3, 1.1], plain SGD (η = 0.002, stable in the sharp basin) must stay sharp while
//! SmoothOut (a = 0.5) and S-SGD (level 0.5, so ‖n‖ = 0.5·|w|) must end in the flat basin in
//! most seeds. A second coordinate y = 1 that the loss ignores makes the parameter space 2-D, so
//! that S-SGD's random direction changes from step to step (in 1-D its ±n would be the same
//! two points every step).

use basin_core::Classifier;
use basin_core::Batch;
use basin_core::estimators::config::NoiseKind;
use basin_core::estimators::smoothout::SmoothOut;
use basin_core::estimators::ssgd::SymmetricSgd;
use basin_core::estimators::{GradientEstimator, Plain, StepContext};
use basin_core::paramkind::ParamFilter;
use basin_core::rng::{Stream, derive_seed};
use burn::module::{Module, Param};
use burn::tensor::{Device, Int, Tensor, TensorData};

#[derive(Module, Debug)]
struct DoubleWell {
    w: Param<Tensor<2>>,
}

impl Classifier for DoubleWell {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        let b = images.dims()[0];
        let w = self.w.val().slice([0..1, 0..1]);
        let sharp = w.clone().sub_scalar(1.0).powi_scalar(2).mul_scalar(200.0);
        let flat = w.sub_scalar(3.0).powi_scalar(2);
        let g = sharp.min_pair(flat); // [1, 1]
        // class 1 is the target: CE = softplus(g)
        Tensor::cat(vec![Tensor::zeros([b, 1], &images.device()), g.neg().expand([b, 1])], 1)
    }
}

const BOUNDARY: f32 = 1.0 + 2.0 / 15.142136;

struct NoExtra;
impl basin_core::BatchSource for NoExtra {
    fn extra_batch(&mut self, _: usize, _: u64) -> Batch {
        unreachable!()
    }
}

fn final_w(est: &mut dyn GradientEstimator<DoubleWell>, w0: f32, seed: u64) -> f32 {
    let ad = Device::flex().autodiff();
    let mut model = DoubleWell { w: Param::from_tensor(Tensor::from_data(TensorData::new(vec![w0, 1.0], [1, 2]), &ad).require_grad()) };
    let batch = Batch {
        images: Tensor::zeros([8, 1, 1, 1], &ad),
        targets: basin_core::batch::Targets::Classes(Tensor::<1, Int>::ones([8], &ad)),
    };
    let mut optim = basin_core::optim::OptimizerConfig { name: "sgd".into(), ..Default::default() }.build();
    for step in 0..1500u64 {
        ad.seed(derive_seed(seed, Stream::Backend, step));
        let mut src = NoExtra;
        let mut ctx = StepContext::new(step, seed, &mut src);
        let e = est.estimate(model, &batch, &mut ctx);
        model = optim.step(0.002, e.model, e.grads);
    }
    model.w.val().into_data().convert::<f32>().try_to_vec::<f32>().unwrap()[0]
}

fn flat_count(make: &dyn Fn() -> Box<dyn GradientEstimator<DoubleWell>>) -> (usize, Vec<f32>) {
    let _lock = basin_core::rng::backend_lock();
    let ends: Vec<f32> = (0..20)
        .map(|s| {
            let w0 = 0.3 + 0.8 * s as f32 / 19.0;
            final_w(make().as_mut(), w0, s as u64)
        })
        .collect();
    (ends.iter().filter(|&&w| w > BOUNDARY).count(), ends)
}

#[test]
fn smoothout_and_ssgd_leave_the_sharp_minimum_that_sgd_keeps() {
    let (sgd, sgd_ends) = flat_count(&|| Box::new(Plain));
    let (so, so_ends) = flat_count(&|| Box::new(SmoothOut::new(0.5, NoiseKind::Uniform, true, ParamFilter::All)));
    let (ss, ss_ends) = flat_count(&|| Box::new(SymmetricSgd::new(0.5, ParamFilter::Weights)));
    println!("flat-basin endings out of 20: SGD {sgd}, SmoothOut {so}, S-SGD {ss}");
    println!("SGD ends {sgd_ends:?}\nSmoothOut ends {so_ends:?}\nS-SGD ends {ss_ends:?}");
    assert_eq!(sgd, 0, "plain SGD from the sharp basin stays there: {sgd_ends:?}");
    assert!(sgd_ends.iter().all(|w| (w - 1.0).abs() < 0.01), "SGD converges to the sharp minimum");
    // Flat endings lie well inside the flat basin (S-SGD's fixed-norm noise biases its
    // equilibrium below 3, at ≈ 2.1 here; SmoothOut's ends near 2.9).
    assert!(so_ends.iter().chain(&ss_ends).filter(|w| **w > BOUNDARY).all(|w| *w > 1.6 && *w < 3.5), "flat endings deep in the flat basin");
    assert!(so >= 16, "SmoothOut ended flat in only {so}/20 seeds: {so_ends:?}");
    assert!(ss >= 16, "S-SGD ended flat in only {ss}/20 seeds: {ss_ends:?}");
}
