//! basin's fused SGD (`optim::sgd`) against the optimizer it replaces, Burn's own `Sgd`: the
//! same weights, bit for bit, after several steps of plain SGD, momentum, Nesterov momentum and
//! weight decay with a changing learning rate; and a checkpoint of either optimizer resumes in
//! the other with the same result.

use basin_core::optim::OptimizerConfig;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Device, Tensor, TensorData};

/// Two dense layers: 300 × 300 weights span two of the fused pass's chunks and a ragged tail.
#[derive(Module, Debug)]
struct Net {
    a: Linear,
    b: Linear,
}

impl Net {
    fn new(device: &Device) -> Net {
        Net { a: LinearConfig::new(300, 300).init(device), b: LinearConfig::new(300, 7).init(device) }
    }
    fn loss(&self, x: Tensor<2>) -> Tensor<1> {
        let y = self.b.forward(burn::tensor::activation::relu(self.a.forward(x)));
        (y.clone() * y).mean()
    }
}

/// The weights as bits, layer by layer.
fn bits(net: &Net) -> Vec<u32> {
    [net.a.weight.val().flatten::<1>(0, 1), net.a.bias.as_ref().unwrap().val(), net.b.weight.val().flatten::<1>(0, 1), net.b.bias.as_ref().unwrap().val()]
        .into_iter()
        .flat_map(|t| t.to_data().try_to_vec::<f32>().unwrap())
        .map(f32::to_bits)
        .collect()
}

/// `steps` steps of `optim` from `net`, learning rate 0.05·(1 + i), on batches that are a
/// function of the step alone (no random stream to keep in step between runs).
fn train(mut net: Net, optim: &mut ModuleOptimizer, steps: std::ops::Range<usize>, device: &Device) -> Net {
    for i in steps {
        let values: Vec<f32> = (0..16 * 300).map(|j| ((j * 7 + i * 131) as f32 * 0.37).sin()).collect();
        let x = Tensor::<2>::from_data(TensorData::new(values, [16, 300]), device);
        let grads = GradientsParams::from_grads(net.loss(x).backward(), &net);
        net = optim.step(0.05 * (1 + i) as f64, net, grads);
    }
    net
}

fn config(name: &str, nesterov: bool, weight_decay: f64) -> OptimizerConfig {
    OptimizerConfig { name: name.into(), momentum: 0.9, nesterov, weight_decay, lr: 0.05, ..Default::default() }
}

fn burn_sgd(cfg: &OptimizerConfig) -> ModuleOptimizer {
    let wd = (cfg.weight_decay > 0.0).then(|| WeightDecayConfig::new(cfg.weight_decay as f32));
    let momentum = (cfg.name == "momentum").then_some(MomentumConfig { momentum: cfg.momentum, dampening: 0.0, nesterov: cfg.nesterov });
    SgdConfig::new().with_momentum(momentum).with_weight_decay(wd).init()
}

fn cases() -> Vec<OptimizerConfig> {
    vec![config("sgd", false, 0.0), config("sgd", false, 5e-4), config("momentum", false, 0.0), config("momentum", true, 0.0), config("momentum", false, 1e-3), config("momentum", true, 5e-4)]
}

#[test]
fn fused_sgd_takes_burns_steps_bit_for_bit() {
    let device = Device::flex().autodiff();
    for cfg in cases() {
        device.seed(7);
        let start = Net::new(&device);
        let (mut ours, mut theirs) = (cfg.build(), burn_sgd(&cfg));
        let a = train(start.clone(), &mut ours, 0..4, &device);
        let b = train(start.clone(), &mut theirs, 0..4, &device);
        assert_ne!(bits(&a), bits(&start), "{cfg:?}: the steps changed nothing");
        assert!(bits(&a) == bits(&b), "{cfg:?}: basin's SGD and Burn's differ after 4 steps");
    }
}

#[test]
fn a_checkpoint_of_either_sgd_resumes_in_the_other() {
    let device = Device::flex().autodiff();
    for cfg in cases().into_iter().filter(|c| c.name == "momentum") {
        device.seed(3);
        let start = Net::new(&device);
        // two steps, a checkpoint of the optimizer, two more steps from it in `resume`
        let halves = |first: &mut ModuleOptimizer, resume: ModuleOptimizer| {
            let mid = train(start.clone(), first, 0..2, &device);
            let mut resumed = resume.load_record(first.to_record());
            bits(&train(mid, &mut resumed, 2..4, &device))
        };
        let want = halves(&mut burn_sgd(&cfg), burn_sgd(&cfg));
        let fresh = {
            let mid = train(start.clone(), &mut burn_sgd(&cfg), 0..2, &device);
            bits(&train(mid, &mut burn_sgd(&cfg), 2..4, &device))
        };
        assert!(fresh != want, "{cfg:?}: the velocity does not matter here, so the test cannot tell a lost one");
        assert!(halves(&mut cfg.build(), burn_sgd(&cfg)) == want, "{cfg:?}: Burn's SGD resumed from basin's checkpoint took other steps");
        assert!(halves(&mut burn_sgd(&cfg), cfg.build()) == want, "{cfg:?}: basin's SGD resumed from Burn's checkpoint took other steps");
    }
}

